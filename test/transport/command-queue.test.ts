import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandQueue, type WireIO } from '../../src/transport/command-queue.js';
import { compileAppend, compileSimple } from '../../src/imap/compiler.js';
import { ConnectionClosedError, ServerResponseError, isOutcomeUnknown } from '../../src/core/errors.js';
import type { TimingRecord } from '../../src/transport/timing.js';
import { timestampOrderViolation } from '../../src/transport/timing.js';

/** A socket stand-in that records each write as the kernel would see it (cork…uncork = one writev). */
class FakeIO implements WireIO {
  syscalls: string[] = [];
  private corked = 0;
  private batch: Buffer[] = [];
  writableLength = 0;
  write(data: Buffer, cb?: () => void): boolean {
    if (this.corked) this.batch.push(data);
    else this.syscalls.push(data.toString('latin1'));
    if (cb) queueMicrotask(cb);
    return true;
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (--this.corked === 0 && this.batch.length) {
      this.syscalls.push(Buffer.concat(this.batch).toString('latin1'));
      this.batch = [];
    }
  }
}

let t = 0;
const clock = { now: () => ++t, wall: () => new Date() };
const msg = (s: string) => ({ flags: [], data: Buffer.from(s) });

function setup(depth: number, writeMode: 'coalesce' | 'split' = 'coalesce') {
  const io = new FakeIO();
  const records: TimingRecord[] = [];
  const q = new CommandQueue(io, { connectionId: 1, depth, writeMode, maxBufferedBytes: 1 << 20, clock, onRecord: (r) => records.push(r) });
  q.setOpen(true);
  return { io, q, records };
}

const tagged = (tag: string, status: 'OK' | 'NO' | 'BAD' = 'OK', code?: { name: string; args: string }) =>
  ({ kind: 'tagged', tag, status, code, text: 'done' }) as const;

test('a non-synchronizing APPEND leaves in one write when coalescing', () => {
  const { io, q } = setup(1);
  void q.enqueue(compileAppend('A1', 'INBOX', [msg('hello')], () => 'nonsync'), { mailbox: 'INBOX', messages: 1 });
  assert.deepEqual(io.syscalls, ['A1 APPEND INBOX {5+}\r\nhello\r\n']);
});

test('split mode writes the command line, the literal and the CRLF separately, like imaplib', async () => {
  const { io, q } = setup(1, 'split');
  const p = q.enqueue(compileAppend('A1', 'INBOX', [msg('hello')], () => 'sync'), { mailbox: 'INBOX', messages: 1 });
  assert.deepEqual(io.syscalls, ['A1 APPEND INBOX {5}\r\n']);
  q.onResponse({ kind: 'continuation', text: 'Ready' });
  assert.deepEqual(io.syscalls, ['A1 APPEND INBOX {5}\r\n', 'hello', '\r\n']);
  await new Promise((r) => setImmediate(r));
  q.onResponse(tagged('A1'));
  const res = await p;
  assert.equal(res.record.syncWaits.length, 1);
  assert.equal(res.record.writes, 3);
  assert.equal(timestampOrderViolation(res.record), undefined);
});

test('a synchronizing literal holds back every later command until the continuation', () => {
  const { io, q } = setup(8);
  void q.enqueue(compileAppend('A1', 'INBOX', [msg('one')], () => 'sync'), { mailbox: 'INBOX', messages: 1 }).catch(() => {});
  void q.enqueue(compileSimple('A2', 'NOOP'));
  assert.equal(io.syscalls.length, 1);
  assert.equal(q.gate(), 'awaiting-continuation');
  q.onResponse({ kind: 'continuation', text: '' });
  assert.deepEqual(io.syscalls.slice(1), ['one\r\nA2 NOOP\r\n']);
});

test('pipelining keeps at most depth commands in flight and records the depth at send', async () => {
  const { io, q, records } = setup(2);
  void q.enqueue(compileSimple('A0', 'NOOP')); // confirm nothing special about first; answered on the next line
  q.onResponse(tagged('A0'));
  io.syscalls = [];
  const ps = [1, 2, 3].map((i) => q.enqueue(compileAppend(`A${i}`, 'INBOX', [msg(`m${i}`)], () => 'nonsync'), { mailbox: 'INBOX', messages: 1 }));
  // First APPEND to an unconfirmed mailbox goes alone.
  assert.equal(io.syscalls.length, 1);
  q.onResponse(tagged('A1'));
  // Mailbox confirmed: the next two may now pipeline, in one write.
  assert.equal(io.syscalls.length, 2);
  assert.match(io.syscalls[1]!, /^A2 APPEND .*A3 APPEND /s);
  q.onResponse(tagged('A2'));
  q.onResponse(tagged('A3'));
  await Promise.all(ps);
  const appends = records.filter((r) => r.verb === 'APPEND');
  assert.deepEqual(appends.map((r) => r.depthAtSend), [0, 0, 1]);
});

test('a NO reply rejects with a typed server error carrying the response code and timing', async () => {
  const { q } = setup(1);
  const p = q.enqueue(compileAppend('A1', 'Nope', [msg('x')], () => 'sync'), { mailbox: 'Nope', messages: 1 });
  q.onResponse(tagged('A1', 'NO', { name: 'TRYCREATE', args: '' }));
  await assert.rejects(p, (e: unknown) => e instanceof ServerResponseError && e.responseCode === 'TRYCREATE' && e.status === 'NO');
  assert.equal(q.gate(), 'empty');
});

test('a tagged reply for an unknown tag is a protocol error', () => {
  const { q } = setup(1);
  assert.throws(() => q.onResponse(tagged('Z9')), /never sent/);
});

test('on failure, in-flight commands have an unknown outcome and queued ones are marked never sent', async () => {
  const { q } = setup(1);
  const sent = q.enqueue(compileSimple('A1', 'NOOP'));
  const queued = q.enqueue(compileSimple('A2', 'NOOP'));
  q.failAll(new ConnectionClosedError('gone', 1));
  await assert.rejects(sent, (e: unknown) => isOutcomeUnknown(e));
  await assert.rejects(queued, (e: unknown) => e instanceof ConnectionClosedError && !e.sent);
  await assert.rejects(q.enqueue(compileSimple('A3', 'NOOP')), ConnectionClosedError);
});

test('zero-copy framing: each message literal goes to the socket as the very buffer read, its length as announced', () => {
  // A socket stand-in that keeps the buffers themselves (as writev would get them), not their text.
  const seen: Buffer[] = [];
  const io: WireIO = { writableLength: 0, write: (d: Buffer, cb?: () => void) => (seen.push(d), cb && queueMicrotask(cb), true), cork() {}, uncork() {} };
  const q = new CommandQueue(io, { connectionId: 1, depth: 1, writeMode: 'coalesce', maxBufferedBytes: 1 << 20, clock, onRecord: () => undefined });
  q.setOpen(true);
  const sizes = [0, 1, 65536];
  const bodies = sizes.map((n, i) => Buffer.alloc(n, 0x61 + i));
  void q.enqueue(compileAppend('Z1', 'INBOX', bodies.map((data) => ({ flags: [], data })), () => 'nonsync'), { mailbox: 'INBOX', messages: 3 });
  for (const body of bodies) {
    const at = seen.indexOf(body);
    assert.ok(at > 0, `the ${body.length}-byte literal was written as the same Buffer object (no copy)`);
    const header = seen[at - 1]!.toString('latin1');
    assert.equal(Number(/\{(\d+)\+\}\r\n$/.exec(header)?.[1]), body.length, `announced ${header.trim()}, wrote ${body.length}`);
  }
  assert.equal(seen.at(-1)!.toString(), '\r\n');
  assert.equal(Buffer.concat(seen).toString('latin1'), `Z1 APPEND INBOX {0+}\r\n {1+}\r\nb {65536+}\r\n${'c'.repeat(65536)}\r\n`);
});

test('an overdue connection: commands not started leave as never sent, nothing new starts, and the late answer settles the held APPEND and opens the gate again', async () => {
  const { io, q } = setup(1);
  const held = q.enqueue(compileAppend('A1', 'INBOX', [msg('one')], () => 'nonsync'), { mailbox: 'INBOX', messages: 1 });
  q.confirm('INBOX');
  const waiting = q.enqueue(compileAppend('A2', 'INBOX', [msg('two')], () => 'nonsync'), { mailbox: 'INBOX', messages: 1 });
  assert.equal(q.gate(), 'depth');
  assert.equal(q.wholeAppendsInFlight, 1);
  q.setOverdue(new ConnectionClosedError('silent', 1));
  const e = await waiting.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof ConnectionClosedError && !isOutcomeUnknown(e), 'A2 was never sent: safe to send elsewhere');
  assert.ok(q.overdueSince !== undefined);
  const late = q.enqueue(compileAppend('A3', 'INBOX', [msg('three')], () => 'nonsync'), { mailbox: 'INBOX', messages: 1 });
  assert.equal(q.gate(), 'overdue');
  assert.equal(io.syscalls.length, 1, 'only A1 went out');
  q.onResponse(tagged('A1'));
  assert.equal((await held).status, 'OK');
  assert.equal(q.overdueSince, undefined, 'the answer ends the wait');
  assert.equal(io.syscalls.length, 2, 'A3 goes now');
  q.onResponse(tagged('A3'));
  assert.equal((await late).status, 'OK');
});

test('an APPEND stopped before its synchronizing literal is not whole: the server cannot have stored it', () => {
  const { q } = setup(2);
  void q.enqueue(compileAppend('A1', 'INBOX', [msg('hello')], () => 'sync'), { mailbox: 'INBOX', messages: 1 });
  assert.equal(q.inFlight, 1);
  assert.equal(q.wholeAppendsInFlight, 0);
  q.onResponse({ kind: 'continuation', text: 'Ready' });
  assert.equal(q.wholeAppendsInFlight, 1);
});
