// Opening the pool's connections in the background (openInBackground, what the importer uses): open() returns with
// the first connection up, work goes out on it at once, the others join as they log in, a refused extra settles the
// target at what opened, and a pool closed while one still logs in logs that one out. Fake connections, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectError } from '../../src/core/errors.js';
import type { AppendMessage } from '../../src/core/types.js';
import { Pool, type PoolEvent } from '../../src/transport/pool.js';
import { newRecord } from '../../src/transport/timing.js';
import { FakeConnection } from './fake-pool.js';

const msg = (i: number): AppendMessage => ({ mailbox: 'INBOX', flags: [], data: Buffer.from(`message ${i}`) });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** connect() calls after the first wait until the test lets them through (or refuses them). */
function gatedConnects() {
  const opened: FakeConnection[] = [];
  const gates: Array<{ open: () => void; refuse: (e: Error) => void }> = [];
  const sent: Array<{ conn: number; n: number }> = [];
  let uid = 1;
  const connect = async (o: { pipelineDepth?: number }) => {
    const c = new FakeConnection(async (conn, _box, messages) => {
      sent.push({ conn: conn.id, n: messages.length });
      await tick(1);
      return { uidValidity: 1, uids: messages.map(() => uid++), record: newRecord(conn.id, 'A', 'APPEND', messages.length, 0, 'none', 0) };
    }, o.pipelineDepth ?? 1);
    if (opened.length > 0 || gates.length > 0) {
      await new Promise<void>((open, refuse) => gates.push({ open, refuse }));
    }
    opened.push(c);
    return c;
  };
  return { opened, gates, sent, connect };
}

test('in the background, open() returns with the first connection up and its work goes out before the others have logged in; they join and take work as they come', async (t) => {
  const g = gatedConnects();
  const events: PoolEvent[] = [];
  const pool = await Pool.open({ host: 'fake.invalid', port: 143, tls: 'none', connections: 3, pipelineDepth: 2, knownFolders: ['INBOX'], openInBackground: true, connect: g.connect, onEvent: (e) => events.push(e) });
  t.after(() => pool.close());
  assert.equal(pool.size, 1, 'open() waited for the other logins');
  assert.equal(pool.settings.connections, 3);
  const first = await Promise.all([0, 1].map((i) => pool.append('INBOX', [msg(i)])));
  assert.deepEqual(first.flat().map((o) => o.status), ['appended', 'appended']);
  assert.equal(g.gates.length, 2, 'the other two are still logging in');
  for (const gate of g.gates) gate.open();
  await tick();
  assert.equal(pool.size, 3);
  const more = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.append('INBOX', [msg(i + 2)])));
  assert.equal(more.flat().filter((o) => o.status === 'appended').length, 12);
  assert.equal(new Set(g.sent.map((s) => s.conn)).size, 3, 'a connection that joined took no work');
  assert.equal(events.filter((e) => e.type === 'connected').length, 3);
});

test('in the background, an extra connection the server refuses settles the target at what opened, as a refusal at open does', async (t) => {
  const g = gatedConnects();
  const events: PoolEvent[] = [];
  const pool = await Pool.open({ host: 'fake.invalid', port: 143, tls: 'none', connections: 3, knownFolders: ['INBOX'], openInBackground: true, connect: g.connect, onEvent: (e) => events.push(e) });
  t.after(() => pool.close());
  g.gates[0]!.open();
  g.gates[1]!.refuse(new ConnectError('E_CONNECT', 'refused for the test', 'never'));
  await tick();
  assert.equal(pool.size, 2);
  assert.equal(pool.settings.connections, 2);
  assert.ok(events.some((e) => e.type === 'reconnect-failed' && e.attempt === 0), JSON.stringify(events));
  // No refill tried to open the refused one again meanwhile.
  assert.equal(g.gates.length, 2);
});

test('a pool closed while a connection still logs in waits for it and logs it out when it arrives; it never takes work', async () => {
  const g = gatedConnects();
  const pool = await Pool.open({ host: 'fake.invalid', port: 143, tls: 'none', connections: 2, knownFolders: ['INBOX'], openInBackground: true, connect: g.connect });
  await pool.append('INBOX', [msg(0)]);
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await tick();
  assert.equal(closed, false, 'close() did not wait for the login under way');
  g.gates[0]!.open();
  await closing;
  assert.equal(g.opened.length, 2);
  assert.ok(g.opened[1]!.closed, 'the late connection was left open');
  assert.deepEqual(new Set(g.sent.map((s) => s.conn)), new Set([g.opened[0]!.id]));
});

test('without openInBackground, open() still waits for every connection (benchmarks measure from a full pool)', async (t) => {
  const g = gatedConnects();
  let returned = false;
  const opening = Pool.open({ host: 'fake.invalid', port: 143, tls: 'none', connections: 2, connect: g.connect }).then((p) => {
    returned = true;
    return p;
  });
  await tick();
  assert.equal(returned, false);
  g.gates[0]!.open();
  const pool = await opening;
  t.after(() => pool.close());
  assert.equal(pool.size, 2);
});
