// The pool's gates with fake connections (no sockets): the pool-wide throttle gate, capacity that counts sleeping
// retries and bytes, cancellable backoff, and folders the caller already knows (issue 13).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MailmigrateError, ServerResponseError } from '../../src/core/errors.js';
import type { AppendMessage } from '../../src/core/types.js';
import type { AppendResult } from '../../src/transport/connection.js';
import type { PoolOptions } from '../../src/transport/pool.js';
import { openFakePool } from './fake-pool.js';
import { newRecord } from '../../src/transport/timing.js';

type Verdict = { ok: true } | { ok: false; status: 'NO' | 'BAD'; code?: string; text: string };

/** The server behind every fake connection: sees commands when they are sent (not while held), answers by script. */
class FakeServer {
  /** Every command the server received, with the time it arrived. */
  readonly seen: Array<{ at: number; mailbox: string; messages: number }> = [];
  outstanding = 0;
  maxOutstanding = 0;
  /** When each refusal was answered. */
  readonly refusedAt: number[] = [];
  /** Decides each command's answer; called when the command arrives. */
  script: (n: number, mailbox: string) => Verdict = () => ({ ok: true });
  /** Answer after this many ms (0: next tick); undefined: hold answers until release(). */
  answerAfterMs: number | undefined = 0;
  private held: Array<() => void> = [];
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  receive(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult> {
    const n = this.seen.length;
    this.seen.push({ at: Date.now(), mailbox, messages: messages.length });
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const verdict = this.script(n, mailbox);
    return new Promise<void>((r) => {
      if (this.answerAfterMs === undefined) this.held.push(r);
      else setTimeout(r, this.answerAfterMs);
    }).then(() => {
      this.outstanding--;
      if (!verdict.ok) this.refusedAt.push(Date.now());
      if (verdict.ok) return { uidValidity: 1, uids: undefined, record: newRecord(1, 'A', 'APPEND', messages.length, 0, 'none', 0) };
      throw new ServerResponseError('APPEND', verdict.status, verdict.code, verdict.text, verdict.code === 'TRYCREATE' ? 'now' : 'later');
    });
  }
}

function fakePool(server: FakeServer, opts: Partial<PoolOptions> & { depth?: number } = {}) {
  return openFakePool((_c, mailbox, messages) => server.receive(mailbox, messages), { knownFolders: ['INBOX'], depth: 1, ...opts });
}

const msg = (i: number, size = 100): AppendMessage => ({ mailbox: 'INBOX', flags: [], data: Buffer.alloc(size, 0x61 + (i % 26)) });
const THROTTLE = 'Request is throttled. Suggested Backoff Time: 300 milliseconds';

test('submitting more than capacity while throttled: the server sees no command during the quiet and at most capacity after', async (t) => {
  const server = new FakeServer();
  server.script = (n) => (n === 0 ? { ok: false, status: 'BAD', text: THROTTLE } : { ok: true });
  server.answerAfterMs = 5;
  const { pool } = await fakePool(server);
  t.after(() => pool.close());
  assert.equal(pool.capacity, 2);
  const done: Array<Promise<unknown>> = [];
  const submittedAt: number[] = [];
  for (let i = 0; i < 40; i++) {
    await pool.whenWritable();
    if (pool.throttled) assert.fail('whenWritable resolved while the server asked for quiet');
    submittedAt.push(Date.now());
    done.push(pool.append('INBOX', [msg(i)]));
    await new Promise((r) => setTimeout(r, 1));
  }
  const outcomes = (await Promise.all(done)).flat() as Array<{ status: string }>;
  assert.ok(outcomes.every((o) => o.status === 'appended'), JSON.stringify(outcomes.filter((o) => o.status !== 'appended')));
  assert.equal(server.refusedAt.length, 1, 'the server throttled once');
  const throttledAt = server.refusedAt[0]!;
  const duringQuiet = server.seen.filter((s) => s.at > throttledAt && s.at < throttledAt + 295);
  const submittedDuringQuiet = submittedAt.filter((at) => at > throttledAt && at < throttledAt + 295);
  assert.deepEqual(submittedDuringQuiet, [], 'the caller was let through (whenWritable) while the server asked for quiet');
  assert.deepEqual(duringQuiet, [], `commands reached the server while it asked for quiet: ${server.seen.slice(0, 6).map((s) => s.at - throttledAt).join(' ')}`);
  assert.ok(server.maxOutstanding <= pool.capacity, `the server had ${server.maxOutstanding} commands outstanding at once`);
  assert.equal(server.seen.length, 41, 'every message once, plus the one throttled attempt');
});

test('a retry sleeping on a backoff still counts as load, so the caller is not let through', async (t) => {
  const server = new FakeServer();
  server.script = (n) => (n === 0 ? { ok: false, status: 'NO', code: 'SERVERBUG', text: 'internal error' } : { ok: true });
  const { pool } = await fakePool(server, { connections: 1, maxRetries: 2 });
  t.after(() => pool.close());
  const first = pool.append('INBOX', [msg(1)]);
  await new Promise((r) => setTimeout(r, 50)); // the refusal came; the retry sleeps ~250 ms
  assert.equal(server.seen.length, 1);
  assert.equal(pool.load, 1, 'the sleeping retry is load');
  let writable = false;
  const w = pool.whenWritable().then(() => (writable = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(writable, false, 'whenWritable resolved while the only slot was a sleeping retry');
  assert.deepEqual((await first).map((o) => o.status), ['appended']);
  await w;
});

test('capacity is bounded in bytes as well as in batches, and one large batch is always admitted', async (t) => {
  const server = new FakeServer();
  server.answerAfterMs = undefined; // answers wait for release()
  const { pool } = await fakePool(server, { connections: 2, depth: 4, maxBytesInFlight: 1000 });
  t.after(() => pool.close());
  const all: Array<Promise<unknown>> = [];
  let submitted = 0;
  const feeder = (async () => {
    for (let i = 0; i < 6; i++) {
      await pool.whenWritable();
      all.push(pool.append('INBOX', [msg(i, 600)]));
      submitted++;
    }
  })();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(submitted, 2, 'after 1,200 bytes (limit 1,000) the caller must wait although 8 batches would fit');
  assert.equal(pool.loadBytes, 1200);
  for (let i = 0; i < 6; i++) {
    server.release();
    await new Promise((r) => setTimeout(r, 5));
  }
  await feeder;
  server.answerAfterMs = 0;
  server.release();
  await Promise.all(all);
  // A single batch larger than the limit still goes (nothing else is held).
  const big = await pool.append('INBOX', [msg(9, 5000)]);
  assert.equal(big[0]!.status, 'appended');
});

test('an AbortSignal (SIGINT) ends a long server backoff at once; the waiting batch is reported as never sent', async (t) => {
  const server = new FakeServer();
  server.script = () => ({ ok: false, status: 'BAD', text: 'Request is throttled. Suggested Backoff Time: 600000 milliseconds' });
  const abort = new AbortController();
  const { pool } = await fakePool(server, { connections: 1, signal: abort.signal });
  t.after(() => pool.close());
  const started = Date.now();
  const p = pool.append('INBOX', [msg(1)]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(pool.throttled, true);
  let writable = false;
  const w = pool.whenWritable().then(() => (writable = true));
  abort.abort();
  const [o] = await p;
  await w;
  assert.ok(writable);
  assert.equal(o!.status, 'failed');
  assert.equal((o as { error: MailmigrateError }).error.code, 'E_ABORTED');
  assert.ok(Date.now() - started < 2000, 'the 10-minute backoff was not cut short');
  assert.equal(server.seen.length, 1, 'nothing was re-sent after the interrupt');
});

test('a folder the caller marks known gets its first batches pipelined; an unknown one probes alone', async (t) => {
  const server = new FakeServer();
  server.answerAfterMs = undefined;
  const { pool } = await fakePool(server, { connections: 2, depth: 2 });
  t.after(() => pool.close());
  pool.markFolderKnown('Archive');
  const known = [1, 2, 3].map((i) => pool.append('Archive', [msg(i)]));
  const unknown = [4, 5, 6].map((i) => pool.append('Sent', [msg(i)]));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.seen.filter((s) => s.mailbox === 'Archive').length, 3, 'known folder: all three batches went at once');
  assert.equal(server.seen.filter((s) => s.mailbox === 'Sent').length, 1, 'unknown folder: the first batch probes alone');
  server.answerAfterMs = 0;
  for (let i = 0; i < 4; i++) {
    server.release();
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all([...known, ...unknown]);
  assert.equal(server.seen.length, 6);
});

test('a connection opened later learns the folders already confirmed', async (t) => {
  const server = new FakeServer();
  const { pool, conns } = await fakePool(server, { connections: 1, knownFolders: ['INBOX', 'Archive'] });
  t.after(() => pool.close());
  assert.ok(conns[0]!.confirmed.has('Archive'));
});

test('an event handler that throws does not break the pool', async (t) => {
  const server = new FakeServer();
  server.script = (n) => (n === 0 ? { ok: false, status: 'BAD', text: 'Request is throttled. Suggested Backoff Time: 20 milliseconds' } : { ok: true });
  const { pool } = await fakePool(server, {
    connections: 1,
    onEvent: () => {
      throw new Error('renderer bug');
    },
  });
  t.after(() => pool.close());
  const out = await pool.append('INBOX', [msg(1)]);
  assert.equal(out[0]!.status, 'appended');
});
