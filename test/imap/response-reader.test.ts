import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/core/errors.js';
import { ResponseReader, type ResponseItem, type ResponseReaderOptions } from '../../src/imap/response-reader.js';
import { seededRandom as prng } from '../../src/core/prng.js';

const b = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

/** Plain-object view of items, buffers as latin1 strings, for deepEqual across feeding strategies. */
function view(items: ResponseItem[]): unknown[] {
  return items.map((it) =>
    it.kind === 'untagged'
      ? { ...it, literals: it.literals.map((l) => l.toString('latin1')), raw: it.raw.toString('latin1') }
      : { ...it },
  );
}

function feedWhole(input: Buffer, opts?: ResponseReaderOptions): { items: unknown[]; pending: number } {
  const r = new ResponseReader(opts);
  const items = view(r.push(input));
  return { items, pending: r.pending };
}

function feedChunks(chunks: Buffer[], opts?: ResponseReaderOptions): { items: unknown[]; pending: number } {
  const r = new ResponseReader(opts);
  const items: unknown[] = [];
  // Copies, so that a view kept from one chunk cannot be confused with the next one.
  for (const c of chunks) items.push(...view(r.push(Buffer.from(c))));
  return { items, pending: r.pending };
}

interface Fixture {
  name: string;
  input: string | Buffer;
  expect: unknown[];
}

const U = (over: Record<string, unknown>) => ({ kind: 'untagged', number: undefined, code: undefined, literals: [], ...over });

const fixtures: Fixture[] = [
  {
    name: 'Dovecot greeting with a CAPABILITY code',
    input: '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n',
    expect: [
      U({
        type: 'OK',
        code: { name: 'CAPABILITY', args: 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN' },
        text: 'Dovecot ready.',
        raw: '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n',
      }),
    ],
  },
  {
    name: 'PREAUTH greeting',
    input: '* PREAUTH IMAP4rev1 server logged in as alice\r\n',
    expect: [U({ type: 'PREAUTH', text: 'IMAP4rev1 server logged in as alice', raw: '* PREAUTH IMAP4rev1 server logged in as alice\r\n' })],
  },
  {
    name: 'untagged CAPABILITY',
    input: '* CAPABILITY IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS BINARY APPENDLIMIT=35882577\r\n',
    expect: [
      U({
        type: 'CAPABILITY',
        text: 'IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS BINARY APPENDLIMIT=35882577',
        raw: '* CAPABILITY IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS BINARY APPENDLIMIT=35882577\r\n',
      }),
    ],
  },
  {
    name: 'Dovecot tagged APPEND OK with APPENDUID and timing text',
    input: 'A17 OK [APPENDUID 1700000000 5] Append completed (0.004 + 0.001 + 0.001 secs).\r\n',
    expect: [
      {
        kind: 'tagged',
        tag: 'A17',
        status: 'OK',
        code: { name: 'APPENDUID', args: '1700000000 5' },
        text: 'Append completed (0.004 + 0.001 + 0.001 secs).',
      },
    ],
  },
  {
    name: 'MULTIAPPEND OK with a uid-set, lower-case status and code name',
    input: 'x.9 ok [appenduid 38505 3955:3957,3960] done\r\n',
    expect: [{ kind: 'tagged', tag: 'x.9', status: 'OK', code: { name: 'APPENDUID', args: '38505 3955:3957,3960' }, text: 'done' }],
  },
  {
    name: 'tagged NO with TRYCREATE and tagged BAD without code or text',
    input: 'A2 NO [TRYCREATE] Mailbox doesn\'t exist: Foo\r\nA3 BAD\r\n',
    expect: [
      { kind: 'tagged', tag: 'A2', status: 'NO', code: { name: 'TRYCREATE', args: '' }, text: "Mailbox doesn't exist: Foo" },
      { kind: 'tagged', tag: 'A3', status: 'BAD', code: undefined, text: '' },
    ],
  },
  {
    name: 'a tag that may hold "]" and a trailing {n} in tagged text that is not a literal',
    input: 'a]1 NO quota {5}\r\n',
    expect: [{ kind: 'tagged', tag: 'a]1', status: 'NO', code: undefined, text: 'quota {5}' }],
  },
  {
    name: 'continuation "+ OK" and a bare "+"',
    input: '+ OK\r\n+\r\n+ \r\n',
    expect: [
      { kind: 'continuation', text: 'OK' },
      { kind: 'continuation', text: '' },
      { kind: 'continuation', text: '' },
    ],
  },
  {
    name: 'continuation with base64 SASL challenge',
    input: '+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n',
    expect: [{ kind: 'continuation', text: 'PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+' }],
  },
  {
    name: 'BYE with ALERT code',
    input: '* BYE [ALERT] Server shutting down\r\n',
    expect: [U({ type: 'BYE', code: { name: 'ALERT', args: '' }, text: 'Server shutting down', raw: '* BYE [ALERT] Server shutting down\r\n' })],
  },
  {
    name: 'numbered EXISTS and RECENT',
    input: '* 12 EXISTS\r\n* 0 RECENT\r\n',
    expect: [
      U({ type: 'EXISTS', number: 12, text: '', raw: '* 12 EXISTS\r\n' }),
      U({ type: 'RECENT', number: 0, text: '', raw: '* 0 RECENT\r\n' }),
    ],
  },
  {
    name: 'FETCH with a literal',
    input: '* 1 FETCH (UID 7 BODY[] {12}\r\nHello\r\nWorld)\r\n',
    expect: [
      U({
        type: 'FETCH',
        number: 1,
        text: '(UID 7 BODY[] {12})',
        literals: ['Hello\r\nWorld'],
        raw: '* 1 FETCH (UID 7 BODY[] {12}\r\nHello\r\nWorld)\r\n',
      }),
    ],
  },
  {
    name: 'FETCH with a binary literal holding NUL, CR and LF, and an empty literal',
    input: Buffer.concat([b('* 2 FETCH (BINARY[] ~{6}\r\n'), Buffer.from([0, 13, 10, 0xff, 0x7b, 0x7d]), b(' BODY[1] {0}\r\n)\r\n')]),
    expect: [
      U({
        type: 'FETCH',
        number: 2,
        text: '(BINARY[] ~{6} BODY[1] {0})',
        literals: ['\x00\r\n\xff{}', ''],
        raw: '* 2 FETCH (BINARY[] ~{6}\r\n\x00\r\n\xff{} BODY[1] {0}\r\n)\r\n',
      }),
    ],
  },
  {
    name: 'LIST with quoted names, one holding a brace and a quote, one sent as a literal',
    input: '* LIST (\\HasNoChildren) "/" "Sent {1}"\r\n* LIST () "/" "a \\"q\\" b"\r\n* LIST () "/" {5}\r\nx"y z\r\n',
    expect: [
      U({ type: 'LIST', text: '(\\HasNoChildren) "/" "Sent {1}"', raw: '* LIST (\\HasNoChildren) "/" "Sent {1}"\r\n' }),
      U({ type: 'LIST', text: '() "/" "a \\"q\\" b"', raw: '* LIST () "/" "a \\"q\\" b"\r\n' }),
      U({ type: 'LIST', text: '() "/" {5}', literals: ['x"y z'], raw: '* LIST () "/" {5}\r\nx"y z\r\n' }),
    ],
  },
  {
    name: 'several responses in one chunk, untagged before tagged',
    input: '* 3 EXISTS\r\n* OK [UIDNEXT 4] Predicted next UID\r\n+ go\r\nA4 OK [READ-WRITE] Select completed.\r\n',
    expect: [
      U({ type: 'EXISTS', number: 3, text: '', raw: '* 3 EXISTS\r\n' }),
      U({ type: 'OK', code: { name: 'UIDNEXT', args: '4' }, text: 'Predicted next UID', raw: '* OK [UIDNEXT 4] Predicted next UID\r\n' }),
      { kind: 'continuation', text: 'go' },
      { kind: 'tagged', tag: 'A4', status: 'OK', code: { name: 'READ-WRITE', args: '' }, text: 'Select completed.' },
    ],
  },
  {
    name: 'response code args with a bracket inside a quoted string',
    input: '* NO [BADCHARSET ("x]y" UTF-8)] unsupported\r\n',
    expect: [
      U({ type: 'NO', code: { name: 'BADCHARSET', args: '("x]y" UTF-8)' }, text: 'unsupported', raw: '* NO [BADCHARSET ("x]y" UTF-8)] unsupported\r\n' }),
    ],
  },
  {
    name: 'bare LF line ends are accepted',
    input: '* 1 EXISTS\nA1 OK done\n',
    expect: [U({ type: 'EXISTS', number: 1, text: '', raw: '* 1 EXISTS\n' }), { kind: 'tagged', tag: 'A1', status: 'OK', code: undefined, text: 'done' }],
  },
  {
    name: 'UTF-8 in text is decoded',
    input: Buffer.from('* OK [ALERT] Überlastung\r\n', 'utf8'),
    expect: [U({ type: 'OK', code: { name: 'ALERT', args: '' }, text: 'Überlastung', raw: Buffer.from('* OK [ALERT] Überlastung\r\n', 'utf8').toString('latin1') })],
  },
  {
    name: 'an untagged OK whose text ends in "{5}", which is resp-text and not a literal header',
    input: '* OK [ALERT] quota {5}\r\n* 4 EXISTS\r\n',
    expect: [
      U({ type: 'OK', code: { name: 'ALERT', args: '' }, text: 'quota {5}', raw: '* OK [ALERT] quota {5}\r\n' }),
      U({ type: 'EXISTS', number: 4, text: '', raw: '* 4 EXISTS\r\n' }),
    ],
  },
  {
    name: 'Microsoft 365 throttling answer (tagged BAD)',
    input: 'AV3 BAD Request is throttled. Suggested Backoff Time: 201317 milliseconds\r\n',
    expect: [{ kind: 'tagged', tag: 'AV3', status: 'BAD', code: undefined, text: 'Request is throttled. Suggested Backoff Time: 201317 milliseconds' }],
  },
];

describe('ResponseReader fixtures', () => {
  for (const f of fixtures) {
    it(`parses ${f.name} when fed whole, split at every byte position, and byte by byte`, () => {
      const input = b(f.input);
      const whole = feedWhole(input);
      assert.deepEqual(whole.items, f.expect);
      assert.equal(whole.pending, 0);
      for (let i = 0; i <= input.length; i++) {
        const split = feedChunks([input.subarray(0, i), input.subarray(i)]);
        assert.deepEqual(split.items, f.expect, `split at ${i}`);
        assert.equal(split.pending, 0, `pending after split at ${i}`);
      }
      const bytes: Buffer[] = [];
      for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
      assert.deepEqual(feedChunks(bytes).items, f.expect, 'byte by byte');
    });
  }

  it('gives identical items for all fixtures concatenated and split at every pair of positions', () => {
    const all = Buffer.concat(fixtures.map((f) => b(f.input)));
    const expect = fixtures.flatMap((f) => f.expect);
    // Three pieces: every first cut, a stride of second cuts (all pairs would be ~n²/2 pushes, too slow).
    for (let i = 0; i <= all.length; i++) {
      for (let j = i; j <= all.length; j += 97) {
        const got = feedChunks([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
        assert.deepEqual(got.items, expect, `cuts at ${i}, ${j}`);
      }
    }
    assert.deepEqual(feedChunks([all.subarray(0, 100), all.subarray(100)]).items, expect);
  });
});

describe('ResponseReader pending bytes', () => {
  it('counts buffered bytes of an incomplete response, including a partial literal, and returns to 0', () => {
    const r = new ResponseReader();
    assert.equal(r.pending, 0);
    assert.deepEqual(r.push(b('A1 OK do')), []);
    assert.equal(r.pending, 8);
    assert.equal(r.push(b('ne\r\n')).length, 1);
    assert.equal(r.pending, 0);
    assert.deepEqual(r.push(b('* 1 FETCH (BODY[] {10}\r\nabc')), []);
    assert.equal(r.pending, '* 1 FETCH (BODY[] {10}\r\n'.length + 3);
    assert.deepEqual(r.push(b('defghij')), []);
    assert.equal(r.pending, '* 1 FETCH (BODY[] {10}\r\n'.length + 10);
    assert.deepEqual(r.push(b(')\r')), []);
    assert.ok(r.pending > 0);
    const items = r.push(b('\n'));
    assert.equal(items.length, 1);
    assert.equal(r.pending, 0);
  });

  it('keeps a literal that arrives in one chunk as a view without copying', () => {
    const r = new ResponseReader();
    const chunk = b('* 1 FETCH (BODY[] {3}\r\nabc)\r\n');
    const [item] = r.push(chunk);
    assert.ok(item?.kind === 'untagged');
    assert.equal(item.literals[0]!.buffer, chunk.buffer);
  });

  it('reassembles a large literal delivered in many chunks', () => {
    const r = new ResponseReader();
    const payload = Buffer.alloc(300_000, 0x61);
    payload[0] = 0x0a;
    payload[299_999] = 0x7d;
    const stream = Buffer.concat([b(`* 5 FETCH (BODY[] {${payload.length}}\r\n`), payload, b(')\r\nA9 OK FETCH done\r\n')]);
    const items: ResponseItem[] = [];
    for (let i = 0; i < stream.length; i += 4093) items.push(...r.push(stream.subarray(i, i + 4093)));
    assert.equal(items.length, 2);
    const first = items[0]!;
    assert.ok(first.kind === 'untagged');
    assert.ok(first.literals[0]!.equals(payload));
    assert.ok(first.raw.equals(stream.subarray(0, stream.length - 'A9 OK FETCH done\r\n'.length)));
    assert.equal(items[1]!.kind, 'tagged');
  });
});

describe('ResponseReader malformed input', () => {
  const bad: Array<[string, string | Buffer, ResponseReaderOptions?]> = [
    ['a garbage line', 'hello world\r\n'],
    ['an empty line', '\r\n'],
    ['a tag followed by an unknown status', 'A1 MAYBE fine\r\n'],
    ['a tag with a forbidden character', 'A(1 OK done\r\n'],
    ['a tag starting with "+" is a continuation, but "A+1" is not a tag', 'A+1 OK done\r\n'],
    ['a tag without status', 'A1\r\n'],
    ['"*" alone', '*\r\n'],
    ['"*" without space', '*OK\r\n'],
    ['a number without a type', '* 12\r\n'],
    ['a number too long to be one', '* 123456789012 EXISTS\r\n'],
    ['an untagged type that is not an atom', '* (FOO)\r\n'],
    ['a NUL byte in a line', b('* OK hel\x00lo\r\n')],
    ['a bare CR inside a line', '* OK a\rb\r\n'],
    ['an absurd literal count', '* 1 FETCH (BODY[] {99999999999999999999}\r\n'],
    ['a literal over maxLiteralSize', '* 1 FETCH (BODY[] {1025}\r\n', { maxLiteralSize: 1024 }],
    ['a line over maxLineLength', `* OK ${'x'.repeat(200)}\r\n`, { maxLineLength: 100 }],
    ['an unterminated line over maxLineLength', `* OK ${'x'.repeat(200)}`, { maxLineLength: 100 }],
    ['endless empty-literal continuations over maxResponseSize', '* 1 FETCH (X {0}\r\n'.repeat(1) + ' Y {0}\r\n'.repeat(50), { maxResponseSize: 200 }],
  ];
  for (const [name, input, opts] of bad) {
    it(`throws ProtocolError for ${name}, whole and byte by byte, and stays failed`, () => {
      const data = b(input);
      const r = new ResponseReader(opts);
      assert.throws(() => r.push(data), ProtocolError);
      assert.throws(() => r.push(b('A1 OK fine\r\n')), ProtocolError);
      assert.equal(r.failed, true);
      const r2 = new ResponseReader(opts);
      assert.throws(() => {
        for (let i = 0; i < data.length; i++) r2.push(data.subarray(i, i + 1));
      }, ProtocolError);
    });
  }

  it('does not let the error excerpt grow with the input', () => {
    const r = new ResponseReader({ maxLineLength: 1000 });
    try {
      r.push(b('x'.repeat(5000)));
      assert.fail('expected ProtocolError');
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      assert.ok(err.message.length < 400, err.message);
      assert.equal(err.code, 'E_PROTOCOL');
    }
  });

  it('rejects invalid options', () => {
    assert.throws(() => new ResponseReader({ maxLineLength: 0 }), RangeError);
    assert.throws(() => new ResponseReader({ maxLiteralSize: 1.5 }), RangeError);
  });
});


describe('ResponseReader fuzz', () => {
  it('only ever returns items or throws ProtocolError on thousands of random inputs', () => {
    const rand = prng(20240601);
    const heads = ['* ', '* 3 ', '* OK ', '* BYE ', 'A1 OK ', 'b.2 NO ', 'C3 BAD ', '+ ', '+', 'A1 ', '', '* 1 FETCH '];
    const pieces = [
      'OK ', 'FETCH ', '12 ', '[', ']', '(', ')', '"', '\\', '{', '}', '{3}', '~{2}', '{0}', '{12345}', 'abc', ' ',
      '[APPENDUID 1 2:3] ', '\xff', '*', '+', '\r', '\x00', '\n',
    ];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let items = 0;
    let errors = 0;
    for (let n = 0; n < 3000; n++) {
      // Mostly well-framed responses with random content, then random corruption of some of them.
      const parts: string[] = [];
      const responses = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < responses; k++) {
        parts.push(pick(heads));
        const count = Math.floor(rand() * 6);
        for (let j = 0; j < count; j++) parts.push(pick(pieces));
        if (rand() < 0.3) {
          const len = Math.floor(rand() * 6);
          parts.push(`(BODY[] {${len}}\r\n`);
          for (let j = 0; j < len; j++) parts.push(String.fromCharCode(Math.floor(rand() * 256)));
          parts.push(')');
        }
        parts.push(rand() < 0.9 ? '\r\n' : '\n');
      }
      const bytes = b(parts.join(''));
      if (rand() < 0.3) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      const input = rand() < 0.1 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes;
      const r = new ResponseReader({ maxLineLength: 64, maxLiteralSize: 1000 });
      try {
        let at = 0;
        while (at < input.length) {
          const step = 1 + Math.floor(rand() * 8);
          const got = r.push(input.subarray(at, at + step));
          for (const it of got) assert.ok(['tagged', 'untagged', 'continuation'].includes(it.kind));
          items += got.length;
          at += step;
        }
        assert.ok(r.pending >= 0 && r.pending <= input.length);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw new Error(`case ${n} threw ${String(err)} for ${JSON.stringify(input.toString('latin1'))}`);
        errors++;
      }
    }
    // The generator must exercise both paths, or this test proves nothing.
    assert.ok(items > 100, `items ${items}`);
    assert.ok(errors > 100, `errors ${errors}`);
  });
});
