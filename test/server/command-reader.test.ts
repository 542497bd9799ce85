import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandReader, type ReaderEvent, type Rejection, type LiteralAnnouncement } from '../../src/server/command-reader.js';

function feed(reader: CommandReader, chunks: Buffer[]): ReaderEvent[] {
  const out: ReaderEvent[] = [];
  for (const c of chunks) {
    reader.push(c);
    for (let ev = reader.next(); ev; ev = reader.next()) out.push(ev);
  }
  return out;
}

// Renders events to a stable comparable form (Buffers as strings).
function show(evs: ReaderEvent[]): unknown {
  return JSON.parse(JSON.stringify(evs, (_k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('latin1') : v)));
}

const PIPELINE = Buffer.from(
  'a1 LOGIN "te\\"st" {4+}\r\npass\r\n' +
    'a2 APPEND INBOX (\\Seen) " 2-Jan-2024 03:04:05 +0000" {11}\r\nhello\r\nbye!\r\n' +
    'a3 APPEND Sent {3+}\r\nabc {2+}\r\nde\r\n' +
    'a4 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)])\r\n' +
    'a5 APPEND INBOX ~{3+}\r\na\x00b\r\n',
  'latin1',
);

test('a pipeline split at every byte position yields the same events as one chunk', () => {
  const whole = show(feed(new CommandReader(), [PIPELINE]));
  for (let i = 1; i < PIPELINE.length; i++) {
    const split = show(feed(new CommandReader(), [PIPELINE.subarray(0, i), PIPELINE.subarray(i)]));
    assert.deepEqual(split, whole, `split at ${i}`);
  }
  const bytewise = [...PIPELINE].map((b) => Buffer.from([b]));
  assert.deepEqual(show(feed(new CommandReader(), bytewise)), whole);
});

test('the pipeline parses into tags, verbs, strings, literals and sections', () => {
  const evs = feed(new CommandReader(), [PIPELINE]);
  assert.deepEqual(evs.map((e) => e.kind), ['command', 'continue', 'command', 'command', 'command', 'command']);
  const [login, cont, append, multi, fetch, bin] = evs as any[];
  assert.equal(login.command.verb, 'LOGIN');
  assert.equal(login.command.args[0].value, 'te"st');
  assert.equal(login.command.args[1].value.toString(), 'pass');
  assert.equal(login.command.args[1].sync, false);
  assert.deepEqual({ tag: cont.tag, size: cont.size }, { tag: 'a2', size: 11 });
  assert.equal(append.command.args[1].items[0].value, '\\Seen');
  assert.equal(append.command.args[2].value, ' 2-Jan-2024 03:04:05 +0000');
  assert.equal(append.command.args[3].value.toString(), 'hello\r\nbye!');
  assert.deepEqual(multi.command.args.map((t: any) => t.kind), ['atom', 'literal', 'literal']);
  assert.equal(fetch.command.verb, 'UID FETCH');
  assert.equal(fetch.command.args[1].items[1].value, 'BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)]');
  assert.equal(bin.command.args[1].binary, true);
  assert.equal(bin.command.args[1].value.toString('latin1'), 'a\x00b');
});

test('a non-synchronizing literal gets no continuation event, a synchronizing one does', () => {
  const evs = feed(new CommandReader(), [Buffer.from('x APPEND A {1+}\r\nz\r\ny APPEND A {1}\r\n')]);
  assert.deepEqual(evs.map((e) => e.kind), ['command', 'continue']);
});

test('a refused synchronizing literal ends the command and the next line is a new command', () => {
  const policy = (a: LiteralAnnouncement): Rejection | null => (a.size > 5 ? { status: 'NO', code: 'TOOBIG', text: 'big' } : null);
  const evs = feed(new CommandReader({ policy }), [Buffer.from('t1 APPEND INBOX {100}\r\nt2 NOOP\r\n')]);
  assert.equal(evs[0]!.kind, 'reject');
  assert.equal((evs[0] as any).rejection.code, 'TOOBIG');
  assert.equal((evs[1] as any).command.verb, 'NOOP');
});

test('a refused non-synchronizing literal is read and dropped, keeping the stream in sync', () => {
  const policy = (a: LiteralAnnouncement): Rejection | null => (a.size > 5 ? { status: 'BAD', text: 'no' } : null);
  const evs = feed(new CommandReader({ policy }), [Buffer.from('t1 APPEND INBOX {10+}\r\n0123456789\r\nt2 NOOP\r\n')]);
  assert.equal((evs[0] as any).command.rejection.status, 'BAD');
  assert.equal((evs[0] as any).command.args[1].value.length, 0);
  assert.equal((evs[1] as any).command.tag, 't2');
});

test('malformed lines are reported as BAD and the reader recovers', () => {
  const evs = feed(new CommandReader(), [Buffer.from('\r\n+bad NOOP\r\nt1 LOGIN "unterminated\r\nt2 LIST (a\r\nt3 NOOP\nt4 NOOP\r\n')]);
  assert.deepEqual(evs.map((e) => e.kind), ['bad', 'bad', 'bad', 'bad', 'bad', 'command']);
  assert.equal((evs[2] as any).tag, 't1');
  assert.equal((evs[4] as any).text, 'Line must end with CRLF');
  assert.equal((evs[5] as any).command.tag, 't4');
});

test('an endless line is a fatal error', () => {
  const r = new CommandReader({ maxLineBytes: 100 });
  const evs = feed(r, [Buffer.alloc(200, 0x61)]);
  assert.equal(evs.length, 1);
  assert.equal((evs[0] as any).fatal, true);
});

test('expectLine returns the next line raw, and reset drops buffered bytes', () => {
  const r = new CommandReader();
  r.expectLine();
  const evs = feed(r, [Buffer.from('AHRlc3QAdGVzdA==\r\n')]);
  assert.deepEqual(evs, [{ kind: 'line', text: 'AHRlc3QAdGVzdA==' }]);
  r.push(Buffer.from('x NOOP\r\n'));
  r.reset();
  assert.equal(r.next(), null);
  assert.equal(r.buffered, 0);
});

test('a literal spanning many chunks is assembled once', () => {
  const body = Buffer.alloc(100_000, 0x41);
  const chunks = [Buffer.from('a APPEND INBOX {100000+}\r\n')];
  for (let i = 0; i < body.length; i += 1000) chunks.push(body.subarray(i, i + 1000));
  chunks.push(Buffer.from('\r\n'));
  const evs = feed(new CommandReader(), chunks);
  assert.equal(evs.length, 1);
  assert.ok((evs[0] as any).command.args[1].value.equals(body));
});
