// The pool's settings changed while it runs (issue 16: adaptation), with fake connections (no sockets): depth kept
// by the pool per connection, connections per folder, retiring and adding connections, smaller batches. Every test
// checks the invariant that matters: each message is sent exactly once and settles exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppendMessage } from '../../src/core/types.js';
import type { AppendResult } from '../../src/transport/connection.js';
import type { AppendSample, PoolOptions, PoolView } from '../../src/transport/pool.js';
import { openFakePool } from './fake-pool.js';
import { newRecord } from '../../src/transport/timing.js';

/** Answers every command after `answerAfterMs`, or holds answers until release(); counts what each connection holds. */
class FakeServer {
  readonly sent: string[] = [];
  readonly batches: number[] = [];
  answerAfterMs: number | undefined = 2;
  /** Violations seen when a command arrived: a connection above `depthLimit`, a folder with too many connections. */
  depthLimit = Infinity;
  folderLimit = Infinity;
  readonly violations: string[] = [];
  private readonly perConn = new Map<number, number>();
  private readonly perFolder = new Map<string, Map<number, number>>();
  private held: Array<{ conn: number; answer: () => void }> = [];
  private uid = 1;
  release(): void {
    for (const h of this.held.splice(0)) h.answer();
  }
  /** Answers the oldest held command of connection `conn`. */
  releaseOne(conn: number): void {
    const i = this.held.findIndex((h) => h.conn === conn);
    if (i >= 0) this.held.splice(i, 1)[0]!.answer();
  }
  heldBy(conn: number): number {
    return this.held.filter((h) => h.conn === conn).length;
  }
  async receive(conn: number, mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult> {
    for (const m of messages) this.sent.push(m.data.toString());
    this.batches.push(messages.length);
    const n = (this.perConn.get(conn) ?? 0) + 1;
    this.perConn.set(conn, n);
    if (n > this.depthLimit) this.violations.push(`connection ${conn} holds ${n} > ${this.depthLimit}`);
    const f = this.perFolder.get(mailbox) ?? new Map<number, number>();
    f.set(conn, (f.get(conn) ?? 0) + 1);
    this.perFolder.set(mailbox, f);
    if (f.size > this.folderLimit) this.violations.push(`${f.size} connections in ${mailbox}`);
    await new Promise<void>((r) => (this.answerAfterMs === undefined ? this.held.push({ conn, answer: r }) : setTimeout(r, this.answerAfterMs)));
    this.perConn.set(conn, this.perConn.get(conn)! - 1);
    const left = f.get(conn)! - 1;
    if (left) f.set(conn, left);
    else f.delete(conn);
    const uids = messages.map(() => this.uid++);
    return { uidValidity: 1, uids, record: newRecord(conn, 'A', 'APPEND', messages.length, 0, 'none', 0) };
  }
}

function fakePool(server: FakeServer, opts: Partial<PoolOptions> = {}) {
  return openFakePool((c, mailbox, messages) => server.receive(c.id, mailbox, messages), { pipelineDepth: 4, knownFolders: ['INBOX', 'Work'], ...opts });
}

const msg = (i: number, mailbox = 'INBOX'): AppendMessage => ({ mailbox, flags: [], data: Buffer.from(`message ${i}`) });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

function exactlyOnce(sent: readonly string[], n: number): void {
  const expected = Array.from({ length: n }, (_, i) => `message ${i}`).sort();
  assert.deepEqual([...sent].sort(), expected);
}

test('lowering the depth from 4 to 1 with 8 commands in flight loses none, sends none twice, and sends nothing new above depth 1', async (t) => {
  const server = new FakeServer();
  server.answerAfterMs = undefined;
  const { pool, events } = await fakePool(server);
  t.after(() => pool.close());
  const done = Array.from({ length: 20 }, (_, i) => pool.append('INBOX', [msg(i)]));
  await tick();
  assert.equal(server.sent.length, 8, 'two connections at depth 4');
  pool.reconfigure({ pipelineDepth: 1 });
  server.depthLimit = 1;
  server.answerAfterMs = 2;
  server.release();
  const outcomes = (await Promise.all(done)).flat();
  assert.equal(outcomes.length, 20);
  assert.ok(outcomes.every((o) => o.status === 'appended'));
  assert.deepEqual(server.violations, []);
  exactlyOnce(server.sent, 20);
  assert.equal(pool.settings.pipelineDepth, 1);
  assert.ok(events.some((e) => e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'pipelineDepth' && c.from === 4 && c.to === 1)));
});

test('raising the depth lets waiting commands go at once, never above the depth connections were opened with', async (t) => {
  const server = new FakeServer();
  server.answerAfterMs = undefined;
  const { pool } = await fakePool(server, { pipelineDepth: 1, maxPipelineDepth: 3 });
  t.after(() => pool.close());
  const done = Array.from({ length: 12 }, (_, i) => pool.append('INBOX', [msg(i)]));
  await tick();
  assert.equal(server.sent.length, 2);
  assert.equal(pool.reconfigure({ pipelineDepth: 10 }).pipelineDepth, 3);
  await tick();
  assert.equal(server.sent.length, 6, 'two connections at depth 3');
  server.answerAfterMs = 1;
  server.release();
  await Promise.all(done);
  exactlyOnce(server.sent, 12);
});

test('one connection per folder: a folder is never appended to on two connections at once, while another folder uses the other', async (t) => {
  const server = new FakeServer();
  server.folderLimit = 1;
  const { pool } = await fakePool(server, { connections: 2, pipelineDepth: 2 });
  t.after(() => pool.close());
  pool.reconfigure({ connectionsPerFolder: 1 });
  const done = Array.from({ length: 40 }, (_, i) => pool.append(i % 2 ? 'Work' : 'INBOX', [msg(i, i % 2 ? 'Work' : 'INBOX')]));
  await Promise.all(done);
  assert.deepEqual(server.violations, []);
  exactlyOnce(server.sent, 40);
});

test('one connection per folder set while two connections are in the folder: neither takes a new APPEND into it until one has left', async (t) => {
  // The folder-lock rule changes the limit mid-run, when both connections are in the folder. Each going on with its
  // own kept the folder shared, and on a server that polls its lock the one waiting was starved by the other.
  const server = new FakeServer();
  server.answerAfterMs = undefined;
  const { pool, conns } = await fakePool(server, { connections: 2, pipelineDepth: 2 });
  t.after(() => pool.close());
  const done = Array.from({ length: 12 }, (_, i) => pool.append('INBOX', [msg(i)]));
  await tick();
  const [a, b] = conns.map((c) => c.id) as [number, number];
  assert.deepEqual([server.heldBy(a), server.heldBy(b)], [2, 2]);
  pool.reconfigure({ connectionsPerFolder: 1 });
  server.folderLimit = 1;
  server.releaseOne(a);
  await tick();
  assert.equal(server.sent.length, 4, 'a new APPEND went into the folder while both connections were in it');
  server.releaseOne(a);
  await tick();
  // Only b is in the folder now: it may take more (it has no room until it answers), a may not.
  assert.equal(server.heldBy(a), 0);
  server.answerAfterMs = 1;
  server.release();
  await Promise.all(done);
  assert.deepEqual(server.violations, []);
  exactlyOnce(server.sent, 12);
});

test('fewer connections retire idle ones without a disconnect event or a reconnect; the work goes on on the rest', async (t) => {
  const server = new FakeServer();
  const { pool, events, conns } = await fakePool(server, { connections: 3 });
  t.after(() => pool.close());
  assert.equal(pool.size, 3);
  pool.reconfigure({ connections: 1 });
  await tick(20);
  assert.equal(pool.size, 1);
  assert.equal(conns.filter((c) => c.closed).length, 2);
  assert.ok(!events.some((e) => e.type === 'disconnected'));
  const out = (await Promise.all(Array.from({ length: 10 }, (_, i) => pool.append('INBOX', [msg(i)])))).flat();
  assert.ok(out.every((o) => o.status === 'appended'));
  await tick(20);
  assert.equal(conns.length, 3, 'a retired connection was reopened');
  exactlyOnce(server.sent, 10);
});

test('a connection retired while it holds commands closes only after they settled', async (t) => {
  const server = new FakeServer();
  server.answerAfterMs = undefined;
  const { pool, conns } = await fakePool(server, { connections: 2 });
  t.after(() => pool.close());
  const done = Array.from({ length: 8 }, (_, i) => pool.append('INBOX', [msg(i)]));
  await tick();
  pool.reconfigure({ connections: 1 });
  await tick();
  assert.ok(conns.every((c) => !c.closed), 'closed with commands in flight');
  server.answerAfterMs = 1;
  server.release();
  await Promise.all(done);
  await tick(10);
  assert.equal(pool.size, 1);
  exactlyOnce(server.sent, 8);
});

test('more connections are opened like reconnects, up to the new count', async (t) => {
  const server = new FakeServer();
  const { pool } = await fakePool(server, { connections: 1 });
  t.after(() => pool.close());
  pool.reconfigure({ connections: 3 });
  await tick(20);
  assert.equal(pool.size, 3);
  assert.equal(pool.capacity, 12);
});

test('a raised LITERAL+ limit reaches every open connection, and a connection opened later gets the limit in force', async (t) => {
  const server = new FakeServer();
  const { pool, conns } = await fakePool(server, { connections: 1 });
  t.after(() => pool.close());
  assert.equal(pool.settings.literalPlusMaxBytes, 100 * 1024);
  const events = pool.reconfigure({ literalPlusMaxBytes: 600 * 1024 });
  assert.equal(events.literalPlusMaxBytes, 600 * 1024);
  assert.deepEqual(conns.map((c) => c.literalPlusMax), [600 * 1024]);
  pool.reconfigure({ connections: 3 });
  await tick(20);
  assert.equal(conns.length, 3);
  assert.deepEqual(conns.map((c) => c.literalPlusMax), [600 * 1024, 600 * 1024, 600 * 1024]);
  // Nonsense never reaches a connection.
  pool.reconfigure({ literalPlusMaxBytes: 0 });
  assert.equal(pool.settings.literalPlusMaxBytes, 600 * 1024);
});

test('a smaller batch size splits a submitted batch in order, outcomes one per message in order', async (t) => {
  const server = new FakeServer();
  const { pool } = await fakePool(server, { connections: 1, pipelineDepth: 1 });
  t.after(() => pool.close());
  pool.reconfigure({ batch: 2 });
  assert.equal(pool.batchSize, 2);
  const out = await pool.append('INBOX', [0, 1, 2, 3, 4].map((i) => msg(i)));
  assert.deepEqual(server.batches, [2, 2, 1]);
  assert.deepEqual(server.sent, ['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
  assert.deepEqual(out.map((o) => (o.status === 'appended' ? o.uid : -1)), [1, 2, 3, 4, 5]);
});

test('the observer is attached, sees every settled APPEND with the connections in its folder, and one that throws stops nothing', async (t) => {
  const server = new FakeServer();
  const samples: AppendSample[] = [];
  let attached: PoolView | undefined;
  const { pool, events } = await fakePool(server, {
    observer: {
      attached: (p) => (attached = p),
      appendSettled: (s) => {
        samples.push(s);
        throw new Error('observer bug');
      },
    },
  });
  t.after(() => pool.close());
  assert.equal(attached, pool);
  const out = (await Promise.all(Array.from({ length: 6 }, (_, i) => pool.append('INBOX', [msg(i)])))).flat();
  assert.ok(out.every((o) => o.status === 'appended'));
  assert.equal(samples.length, 6);
  assert.ok(samples.every((s) => s.ok && s.mailbox === 'INBOX' && s.connectionsInFolder >= 1 && s.connectionsInFolder <= 2));
  assert.equal(events.filter((e) => e.type === 'observer-failed').length, 1);
});
