import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CATALOGUE, isErrorCode, MailmigrateError, ServerResponseError, SourceError, toMailmigrateError } from '../../src/core/errors.js';
import { classifyResponse } from '../../src/imap/response-policy.js';
import { compileSimple } from '../../src/imap/compiler.js';
import { mapImapFlowError } from '../../src/mailbox/imapflow-errors.js';
import { SourceCodes } from '../../src/sources/source.js';
import { CommandQueue } from '../../src/transport/command-queue.js';

type Row = [name: string, status: 'NO' | 'BAD', code: string | undefined, text: string, expected: string, retry: string, throttle: boolean];
const TABLE: Row[] = [
  ['TRYCREATE', 'NO', 'TRYCREATE', "Mailbox doesn't exist: Foo", 'E_TRYCREATE', 'now', false],
  ['Dovecot over quota', 'NO', 'OVERQUOTA', 'Quota exceeded (mailbox for user is full)', 'E_OVERQUOTA', 'never', false],
  ['Cyrus "Over quota" without a code', 'NO', undefined, 'Over quota', 'E_OVERQUOTA', 'never', false],
  ['Courier "Mailbox is full" without a code', 'NO', undefined, 'Mailbox is full.', 'E_OVERQUOTA', 'never', false],
  ['LIMIT', 'NO', 'LIMIT', 'Too many messages in mailbox', 'E_LIMIT', 'never', false],
  ['TOOBIG', 'NO', 'TOOBIG', 'Message too large', 'E_TOO_BIG', 'never', false],
  ['ALREADYEXISTS', 'NO', 'ALREADYEXISTS', 'Mailbox already exists', 'E_ALREADYEXISTS', 'never', false],
  ['UNAVAILABLE: the account backs off', 'NO', 'UNAVAILABLE', 'Backend down', 'E_UNAVAILABLE', 'later', true],
  ['INUSE: the account backs off', 'NO', 'INUSE', 'Mailbox is locked', 'E_INUSE', 'later', true],
  ['SERVERBUG: this command retries, the others go on', 'NO', 'SERVERBUG', 'Internal error occurred.', 'E_SERVERBUG', 'later', false],
  ['Microsoft 365 throttling sent as BAD', 'BAD', undefined, 'Request is throttled. Suggested Backoff Time: 201317 milliseconds', 'E_THROTTLED', 'later', true],
  ['Gmail bandwidth limit', 'NO', undefined, 'Account exceeded command or bandwidth limits. (Failure)', 'E_THROTTLED', 'later', true],
  ['plain BAD', 'BAD', undefined, 'Error in IMAP command APPEND: Invalid arguments.', 'E_SERVER_BAD', 'never', false],
  ['NO with an unknown code', 'NO', 'XFOO', 'nope', 'E_SERVER_NO', 'never', false],
  ['lower-case code', 'NO', 'overquota', 'full', 'E_OVERQUOTA', 'never', false],
];

describe('the one IMAP response policy', () => {
  for (const [name, status, code, text, expected, retry, throttle] of TABLE) {
    it(`classifies ${name} as ${expected} (${retry}${throttle ? ', account-wide' : ''})`, () => {
      const m = classifyResponse(status, code, text);
      assert.equal(m.code, expected);
      assert.equal(m.retry, retry);
      assert.equal(m.throttle, throttle);
      assert.ok(isErrorCode(m.code));
    });
  }

  it('gives the server-suggested backoff only for retryable answers', () => {
    assert.equal(classifyResponse('BAD', undefined, 'Request is throttled. Suggested Backoff Time: 182 milliseconds').backoffMs, 182);
    assert.equal(classifyResponse('NO', 'OVERQUOTA', 'full, retry after 30 seconds').backoffMs, undefined);
  });

  it('the APPEND transport and the imapflow control plane give the same code and retry class for the same refusal', async () => {
    for (const [, status, code, text] of TABLE) {
      const io = { writableLength: 0, write: () => true, cork() {}, uncork() {} };
      const q = new CommandQueue(io, { connectionId: 1, depth: 1, writeMode: 'coalesce', maxBufferedBytes: 1 << 20, clock: { now: () => 0, wall: () => new Date() } });
      q.setOpen(true);
      const p = q.enqueue(compileSimple('A1', 'CREATE', ['X']));
      q.onResponse({ kind: 'tagged', tag: 'A1', status, code: code ? { name: code.toUpperCase(), args: '' } : undefined, text });
      const fromTransport = (await p.catch((e: unknown) => e)) as ServerResponseError;
      const fromControl = mapImapFlowError({ responseStatus: status, serverResponseCode: code, responseText: text }, { host: 'h', port: 143, command: 'CREATE X' });
      assert.ok(fromTransport instanceof ServerResponseError && fromControl instanceof ServerResponseError);
      assert.equal(fromControl.code, fromTransport.code, text);
      assert.equal(fromControl.retry, fromTransport.retry, text);
    }
  });
});

describe('the error code catalogue', () => {
  it('lists every code the source readers use, each with a description', () => {
    for (const c of Object.values(SourceCodes)) assert.ok(isErrorCode(c), c);
    for (const [code, what] of Object.entries(ERROR_CATALOGUE)) {
      assert.match(code, /^E_[A-Z0-9_]+$/);
      assert.ok(what.length > 10, code);
    }
  });

  it('a code arriving as data (a read worker) that is not catalogued becomes E_SOURCE', () => {
    assert.equal(new SourceError('/m/1', 'bad', 'E_MADE_UP').code, 'E_SOURCE');
    assert.equal(new SourceError('/m/1', 'bad', 'E_SOURCE_EMPTY').code, 'E_SOURCE_EMPTY');
  });

  it('a system error keeps a catalogued code and its errno in the message', () => {
    const e = toMailmigrateError(Object.assign(new Error('write failed'), { code: 'ENOSPC' }));
    assert.ok(e instanceof MailmigrateError);
    assert.equal(e.code, 'E_INTERNAL');
    assert.match(e.message, /ENOSPC/);
  });
});
