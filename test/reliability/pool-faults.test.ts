// Issue 7, faults 3, 4, 5 at the transport level: refusals (TRYCREATE, OVERQUOTA, APPENDLIMIT, one BAD message in
// a MULTIAPPEND batch), the server's connection cap, and throttling (Microsoft 365's suggested backoff, Zimbra's
// disconnect after 5 errors in a row). The pool is driven directly; the embedded server injects each fault.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppendMessage } from '../../src/core/types.js';
import type { ServerOptions } from '../../src/server/server.js';
import { Pool, type MessageOutcome, type PoolEvent, type PoolOptions } from '../../src/transport/pool.js';
import { type After, FAST_TIMEOUTS, census, message, messageIdOf, withServer } from './harness.js';

async function openPool(t: After, serverOpts: ServerOptions, opts: Partial<PoolOptions> = {}) {
  const server = await withServer(t, serverOpts);
  const events: PoolEvent[] = [];
  const pool = await Pool.open({
    host: server.host, port: server.port, tls: 'none', auth: { user: 'test', password: 'test' },
    timeouts: FAST_TIMEOUTS, backoffMinMs: 10, backoffMaxMs: 200, connections: 1, pipelineDepth: 1,
    onEvent: (e) => events.push(e), ...opts,
  });
  t.after(() => pool.close());
  return { server, pool, events };
}

const msg = (i: number, tag: string, size?: number, flags: string[] = []): AppendMessage =>
  ({ mailbox: 'INBOX', flags, internalDate: new Date(Date.UTC(2020, 0, 1)), data: message(i, tag, size) });

const statuses = (o: MessageOutcome[]): string[] => o.map((x) => x.status);

test('NO [TRYCREATE] for a missing mailbox: one CREATE, then the message is appended', async (t) => {
  const { server, pool, events } = await openPool(t, {});
  const out = await pool.append('Archive/2020', [msg(1, 'tc'), msg(2, 'tc')]);
  assert.deepEqual(statuses(out), ['appended', 'appended']);
  assert.equal(pool.stats.creates, 1);
  assert.ok(events.some((e) => e.type === 'mailbox-created' && e.mailbox === 'Archive/2020'));
  assert.equal(server.store.get('Archive/2020')!.messages.length, 2);
});

test('NO [OVERQUOTA] fails the message at once with the quota named, and is not retried', async (t) => {
  const { server, pool } = await openPool(t, { faults: { fail: { code: 'OVERQUOTA', text: 'Quota exceeded (mailbox for user is full)' } } });
  const before = server.stats.commands;
  const [o] = await pool.append('INBOX', [msg(1, 'oq')]);
  assert.equal(o!.status, 'failed');
  assert.match((o as { error: Error }).error.message, /OVERQUOTA.*Quota exceeded/);
  assert.equal((o as { error: { retry: string } }).error.retry, 'never');
  assert.equal(server.stats.commands - before, 1, 'an over-quota APPEND must not be retried');
});

test('APPENDLIMIT from CAPABILITY is honoured before sending: the big message never leaves, its batch neighbours arrive', async (t) => {
  const { server, pool, events } = await openPool(t, { maxMessageBytes: 5000 });
  assert.equal(pool.capabilities?.appendLimit, 5000);
  const before = server.stats.bytesIn;
  const out = await pool.append('INBOX', [msg(1, 'lim'), msg(2, 'lim', 60_000), msg(3, 'lim')]);
  assert.deepEqual(statuses(out), ['appended', 'failed', 'appended']);
  assert.equal((out[1] as { error: { code: string } }).error.code, 'E_TOO_BIG');
  assert.match((out[1] as { error: Error }).error.message, /APPENDLIMIT of 5000/);
  assert.ok(server.stats.bytesIn - before < 20_000, `the 60 KB message was uploaded (${server.stats.bytesIn - before} bytes in)`);
  assert.ok(events.some((e) => e.type === 'batch-split'));
});

test('NO [TOOBIG] from a server that did not announce a limit fails only that message', async (t) => {
  const { pool } = await openPool(t, { faults: { fail: { code: 'TOOBIG', text: 'Message too large', times: 1 } } });
  const [o] = await pool.append('INBOX', [msg(1, 'tb')]);
  assert.equal(o!.status, 'failed');
  assert.match((o as { error: Error }).error.message, /TOOBIG/);
  const [p] = await pool.append('INBOX', [msg(2, 'tb')]);
  assert.equal(p!.status, 'appended');
});

test('BAD for one message of a MULTIAPPEND batch: the batch is split until that message is isolated, the rest arrive', async (t) => {
  const { server, pool } = await openPool(t, {});
  const batch = Array.from({ length: 8 }, (_, i) => msg(i, 'bad', 1000, i === 5 ? ['\\Bogus'] : ['\\Seen']));
  const out = await pool.append('INBOX', batch);
  assert.deepEqual(statuses(out), ['appended', 'appended', 'appended', 'appended', 'appended', 'failed', 'appended', 'appended']);
  assert.match((out[5] as { error: Error }).error.message, /BAD/);
  assert.ok(pool.stats.splits >= 3, `log2(8) splits expected, got ${pool.stats.splits}`);
  const c = census(server.store);
  assert.equal(c.size, 7);
  assert.equal(c.get(messageIdOf(5, 'bad')), undefined);
});

for (const reply of ['no', 'bye'] as const) {
  test(`the server refuses connection N+1 (${reply === 'no' ? 'NO [UNAVAILABLE] to LOGIN' : '* BYE [UNAVAILABLE]'}): the pool settles at what it allows and says so`, async (t) => {
    const { pool, events } = await openPool(t, { maxConnectionsPerUser: 2, connectionCapReply: reply }, { connections: 5, pipelineDepth: 2 });
    assert.equal(pool.size, 2);
    assert.equal(pool.connectionCap, 2);
    const cap = events.find((e) => e.type === 'connection-cap');
    assert.ok(cap && cap.type === 'connection-cap' && cap.limit === 2, JSON.stringify(events));
    const out = (await Promise.all(Array.from({ length: 10 }, (_, i) => pool.append('INBOX', [msg(i, `cap${reply}`)])))).flat();
    assert.ok(out.every((o) => o.status === 'appended'));
  });
}

test('a connection refused before the greeting (too many connections) also settles the pool', async (t) => {
  const { pool, events } = await openPool(t, { maxConnections: 3 }, { connections: 6 });
  assert.equal(pool.size, 3);
  assert.equal(pool.connectionCap, 3);
  assert.ok(events.some((e) => e.type === 'connection-cap'));
});

test('"Request is throttled. Suggested Backoff Time: N ms": the pool waits that long, then continues', async (t) => {
  const { server, pool, events } = await openPool(t, { faults: { throttle: { backoffMs: 120, times: 3 } } });
  const t0 = performance.now();
  const out = await pool.append('INBOX', [msg(1, 'thr')]);
  assert.deepEqual(statuses(out), ['appended']);
  const throttled = events.filter((e) => e.type === 'throttled');
  assert.equal(throttled.length, 3);
  assert.ok(throttled.every((e) => e.type === 'throttled' && e.delayMs === 120), JSON.stringify(throttled));
  assert.ok(performance.now() - t0 >= 300, 'the suggested backoff was not honoured');
  assert.equal(server.store.get('INBOX')!.messages.length, 1);
});

test('throttled and then disconnected (Microsoft 365): the pool reconnects and the message arrives once', async (t) => {
  const { server, pool, events } = await openPool(t, { faults: { throttle: { backoffMs: 50, times: 2, thenBye: true } } }, { connections: 2 });
  const out = (await Promise.all([1, 2, 3, 4].map((i) => pool.append('INBOX', [msg(i, 'm365')])))).flat();
  assert.deepEqual(statuses(out), ['appended', 'appended', 'appended', 'appended']);
  assert.ok(events.some((e) => e.type === 'disconnected'));
  const c = census(server.store);
  assert.equal(c.size, 4);
  assert.ok([...c.values()].every((n) => n === 1));
});

test('a server that disconnects after 5 errors in a row (Zimbra): failed messages are reported, the rest arrive once', async (t) => {
  const { server, pool, events } = await openPool(t, {
    faults: { fail: { code: 'CANNOT', text: 'Refused by policy', times: 5 }, disconnectAfterErrors: 5 },
  });
  const out: MessageOutcome[] = [];
  for (let i = 0; i < 10; i++) out.push(...(await pool.append('INBOX', [msg(i, 'zim')])));
  const failed = out.filter((o) => o.status === 'failed');
  assert.equal(failed.length, 5);
  assert.ok(failed.every((o) => /NO \[CANNOT\] Refused by policy/.test((o as { error: Error }).error.message)));
  // The APPEND written just as the BYE was on its way may be 'unknown' (never 'appended' twice): the importer
  // looks those up before re-sending (import-faults.test.ts).
  const appended = out.filter((o) => o.status === 'appended').length;
  assert.equal(appended + out.filter((o) => o.status === 'unknown').length, 5);
  assert.ok(events.some((e) => e.type === 'disconnected'), 'the server should have dropped the connection');
  const c = census(server.store);
  assert.equal(c.size, appended);
  assert.ok([...c.values()].every((n) => n === 1));
});
