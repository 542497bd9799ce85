import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyFailure, parseAppendUid, parseBackoffMs, parseCapabilityCode } from '../../src/imap/response-codes.js';
import { formatSequenceSet, parseSequenceSet } from '../../src/imap/sequence-set.js';

const code = (name: string, args = '') => ({ name, args });

describe('parseAppendUid', () => {
  it('reads a single UID as Dovecot sends it', () => {
    assert.deepEqual(parseAppendUid(code('APPENDUID', '1700000000 5')), { uidValidity: 1700000000, uids: [5] });
  });

  it('expands a MULTIAPPEND uid-set in order', () => {
    assert.deepEqual(parseAppendUid(code('APPENDUID', '38505 3955:3957,3960')), { uidValidity: 38505, uids: [3955, 3956, 3957, 3960] });
    assert.deepEqual(parseAppendUid(code('APPENDUID', '1 9:7')), { uidValidity: 1, uids: [7, 8, 9] });
  });

  it('returns undefined for another code, no code, or malformed arguments', () => {
    assert.equal(parseAppendUid(undefined), undefined);
    assert.equal(parseAppendUid(code('COPYUID', '1 2 3')), undefined);
    for (const bad of ['', '5', 'x 5', '0 5', '1 0', '1 5:*', '1 5,', '1 4294967296', '4294967296 1', '1 1:4294967295']) {
      assert.equal(parseAppendUid(code('APPENDUID', bad)), undefined, bad);
    }
  });
});

describe('parseCapabilityCode', () => {
  it('parses [CAPABILITY ...] and ignores other codes', () => {
    const c = parseCapabilityCode(code('CAPABILITY', 'IMAP4rev1 LITERAL+ AUTH=PLAIN'));
    assert.equal(c?.literalPlus, true);
    assert.deepEqual(c?.authMechanisms, ['PLAIN']);
    assert.equal(parseCapabilityCode(code('ALERT')), undefined);
    assert.equal(parseCapabilityCode(undefined), undefined);
  });
});

describe('classifyFailure', () => {
  const table: Array<[string, 'NO' | 'BAD', ReturnType<typeof code> | undefined, string, 'now' | 'later' | 'never', number | undefined]> = [
    ['TRYCREATE', 'NO', code('TRYCREATE'), "Mailbox doesn't exist: Foo", 'now', undefined],
    ['OVERQUOTA', 'NO', code('OVERQUOTA'), 'Quota exceeded (mailbox for user is full)', 'never', undefined],
    ['LIMIT', 'NO', code('LIMIT'), 'Too many messages', 'never', undefined],
    ['TOOBIG', 'NO', code('TOOBIG'), 'Message too large', 'never', undefined],
    ['UNAVAILABLE', 'NO', code('UNAVAILABLE'), 'Backend down', 'later', undefined],
    ['INUSE', 'NO', code('INUSE'), 'Mailbox is locked', 'later', undefined],
    ['SERVERBUG', 'NO', code('SERVERBUG'), 'Internal error occurred. Refer to server log for more information.', 'later', undefined],
    ['Microsoft 365 throttling sent as BAD', 'BAD', undefined, 'Request is throttled. Suggested Backoff Time: 201317 milliseconds', 'later', 201317],
    ['throttling sent as NO', 'NO', undefined, 'Request is throttled. Suggested Backoff Time: 182 milliseconds', 'later', 182],
    ['Gmail bandwidth limit', 'NO', undefined, 'Account exceeded command or bandwidth limits. (Failure)', 'later', undefined],
    ['plain BAD', 'BAD', undefined, 'Error in IMAP command APPEND: Invalid arguments.', 'never', undefined],
    ['NO with an unknown code', 'NO', code('XFOO'), 'nope', 'never', undefined],
    ['NO without code', 'NO', undefined, 'Append failed', 'never', undefined],
    ['temporary NO without code', 'NO', undefined, 'Temporary failure, try again later', 'later', undefined],
  ];
  for (const [name, status, c, text, retry, backoff] of table) {
    it(`classifies ${name} as ${retry}`, () => {
      const r = classifyFailure(status, c, text);
      assert.equal(r.retry, retry);
      assert.equal(r.backoffMs, backoff);
      assert.ok(r.reason.length > 0);
    });
  }
});

describe('parseBackoffMs', () => {
  it('reads milliseconds, seconds and minutes and returns undefined without a wait', () => {
    assert.equal(parseBackoffMs('Request is throttled. Suggested Backoff Time: 201317 milliseconds'), 201317);
    assert.equal(parseBackoffMs('suggested backoff time: 15 ms'), 15);
    assert.equal(parseBackoffMs('Suggested Backoff Time: 250'), 250);
    assert.equal(parseBackoffMs('Server busy, retry after 30 seconds'), 30_000);
    assert.equal(parseBackoffMs('try again in 2 minutes'), 120_000);
    assert.equal(parseBackoffMs('Append completed (0.004 + 0.001 + 0.001 secs).'), undefined);
    assert.equal(parseBackoffMs('Mailbox is full'), undefined);
  });
});

describe('sequence sets', () => {
  it('parses and formats uid-sets as inverse operations on sorted input', () => {
    assert.deepEqual(parseSequenceSet('1,3:5,9'), [1, 3, 4, 5, 9]);
    assert.equal(formatSequenceSet([1, 3, 4, 5, 9]), '1,3:5,9');
    assert.equal(formatSequenceSet([7]), '7');
    assert.equal(formatSequenceSet([5, 6, 2, 3]), '5:6,2:3');
    assert.throws(() => formatSequenceSet([]), RangeError);
    assert.throws(() => formatSequenceSet([0]), RangeError);
  });

  it('refuses to expand past the limit', () => {
    assert.equal(parseSequenceSet('1:1000', 999), undefined);
    assert.equal(parseSequenceSet('1:1000', 1000)?.length, 1000);
  });
});
