import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthError, ConnectError, type MailmigrateError } from '../../src/core/errors.js';
import { startServer } from '../../src/server/server.js';
import type { ConnectionOptions } from '../../src/transport/connection.js';
import { Pool, type PoolConnection } from '../../src/transport/pool.js';
import type { TimingRecord } from '../../src/transport/timing.js';
import { FirstConnection, sameConnectionSettings } from '../../src/migrate/first-connection.js';

// The pool's first APPEND connection opened before the control plane loads (issue 14, start-up): the pool must get
// that very connection when nothing changed, and exactly what it would have got without it otherwise.

class FakeConnection {
  static next = 1;
  readonly id = FakeConnection.next++;
  readonly capabilities = undefined as unknown as PoolConnection['capabilities'];
  closed = false;
  closes = 0;
  readonly bye = undefined;
  readonly inFlight = 0;
  readonly load = 0;
  readonly depth = 1;
  readonly connectMs = 0;
  constructor(readonly options: ConnectionOptions) {}
  append(): never {
    throw new Error('not used');
  }
  create(): never {
    throw new Error('not used');
  }
  confirmMailbox(): void {}
  hold(): void {}
  async close(): Promise<void> {
    this.closes++;
    this.closed = true;
  }
  destroy(): void {
    this.closed = true;
  }
  whenClosed(): Promise<void> {
    return Promise.resolve();
  }
}

/** An opener that records what it was asked; the first call's outcome can be made to fail. */
function opener(firstFails?: MailmigrateError) {
  const opened: FakeConnection[] = [];
  let calls = 0;
  const open = async (o: ConnectionOptions): Promise<PoolConnection> => {
    calls++;
    if (calls === 1 && firstFails) throw firstFails;
    const c = new FakeConnection(o);
    opened.push(c);
    return c as unknown as PoolConnection;
  };
  return { open, opened, calls: () => calls };
}

const base: ConnectionOptions = { host: '127.0.0.1', port: 143, tls: 'none', auth: { user: 'u', password: 'p' }, pipelineDepth: 4 };

test('the pool’s first connection is the one opened early, and every later one is opened fresh', async () => {
  const o = opener();
  const first = new FirstConnection(base, o.open);
  assert.equal(o.calls(), 1, 'connecting starts at once, before the pool exists');
  const a = await first.connect({ ...base, onRecord: () => undefined });
  assert.equal(a, o.opened[0]);
  const b = await first.connect(base);
  assert.notEqual(b, a);
  assert.equal(o.calls(), 2);
  await first.close();
  assert.equal((a as unknown as FakeConnection).closes, 0, 'the pool owns it now: close() leaves it alone');
});

test('a pool asking with other settings gets a fresh connection, and the early one is closed', async () => {
  const o = opener();
  const first = new FirstConnection(base, o.open);
  const c = (await first.connect({ ...base, pipelineDepth: 2 })) as unknown as FakeConnection;
  assert.equal(c.options.pipelineDepth, 2);
  await new Promise((r) => setImmediate(r));
  assert.equal(o.opened[0]!.closes, 1);
  assert.equal(o.opened.length, 2);
});

test('a refused login on the early connection is the pool’s first failure, and is not tried again', async () => {
  const o = opener(new AuthError('LOGIN failed: NO [AUTHENTICATIONFAILED]'));
  const first = new FirstConnection(base, o.open);
  await assert.rejects(first.connect(base), (e: MailmigrateError) => e.code === 'E_AUTH');
  assert.equal(o.calls(), 1, 'one login attempt, as without the early connection');
});

test('an early connection that failed for a passing reason (reset, cap) is opened again when the pool asks', async () => {
  const o = opener(new ConnectError('E_CONNECT', 'ECONNRESET', 'now'));
  const first = new FirstConnection(base, o.open);
  const c = await first.connect(base);
  assert.equal(c, o.opened[0]);
  assert.equal(o.calls(), 2);
});

test('an early connection the server closed while the control plane worked is replaced by a fresh one', async () => {
  const o = opener();
  const first = new FirstConnection(base, o.open);
  await new Promise((r) => setImmediate(r));
  o.opened[0]!.closed = true; // the server's idle timer, a restart
  const c = await first.connect(base);
  assert.equal(c, o.opened[1]);
});

test('close() closes an early connection the pool never took (a failure before the pool opened)', async () => {
  const o = opener();
  const first = new FirstConnection(base, o.open);
  await first.close();
  assert.equal(o.opened[0]!.closes, 1);
  // A pool asking afterwards (it does not) would not get the closed one.
  const c = await first.connect(base);
  assert.notEqual(c, o.opened[0]);
});

test('more connections decided from the first one: that many are dialled after its login, and a late decision counts those the pool opened itself', async () => {
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
  // Decided at once: two more, dialled after the first one's login; the pool takes all three.
  const a = opener();
  const seen: unknown[] = [];
  const fa = new FirstConnection(base, a.open, async (first) => {
    seen.push(first);
    return 2;
  });
  await settle();
  assert.equal(a.calls(), 3);
  assert.equal(seen[0], a.opened[0], 'decided from the first connection (its capabilities)');
  for (let i = 0; i < 3; i++) assert.equal(await fa.connect(base), a.opened[i]);
  // Decided late (a long folder walk): the pool already opened one of the two itself; one more is dialled, not two.
  const b = opener();
  let decide!: (n: number) => void;
  const fb = new FirstConnection(base, b.open, () => new Promise<number>((r) => (decide = r)));
  await settle();
  await fb.connect(base); // the early one
  await fb.connect(base); // opened fresh: nothing was dialled yet
  assert.equal(b.calls(), 2);
  decide(2);
  await settle();
  assert.equal(b.calls(), 3, 'one more dialled early');
  await fb.close();
  // A decision that fails dials none (the pool opens what it needs).
  const c = opener();
  const fc = new FirstConnection(base, c.open, async () => {
    throw new Error('no folder list');
  });
  await settle();
  assert.equal(c.calls(), 1);
  await fc.close();
  await fa.close();
});

test('the settings compared are every connection option but the observers', () => {
  assert.ok(sameConnectionSettings(base, { ...base, onRecord: () => undefined, onAlert: () => undefined, onObserverError: () => undefined }));
  for (const change of [{ port: 993 }, { tls: 'implicit' as const }, { auth: { user: 'u', password: 'p' } }, { writeMode: 'split' as const }, { literalMode: 'sync' as const }, { noDelay: false }, { timeouts: {} }]) {
    assert.equal(sameConnectionSettings(base, { ...base, ...change }), false, JSON.stringify(change));
  }
});

test('against a real server: the pool adopts the early connection, and the early login’s timing record reaches the pool’s observer', async (t) => {
  const server = await startServer({ store: 'memory', users: { u: 'p' }, noDelay: true });
  t.after(() => server.close());
  const options: ConnectionOptions = { host: server.host, port: server.port, tls: 'none', auth: { user: 'u', password: 'p' }, pipelineDepth: 2 };
  const first = new FirstConnection(options);
  t.after(() => first.close());
  // Let the early connection log in before the pool exists, as it does while imapflow loads.
  await new Promise((r) => setTimeout(r, 200));
  const records: TimingRecord[] = [];
  const pool = await Pool.open({ ...options, connections: 2, connect: first.connect, onRecord: (r) => records.push(r) });
  t.after(() => pool.close());
  assert.equal(pool.size, 2);
  const logins = records.filter((r) => r.verb === 'LOGIN' || r.verb === 'AUTHENTICATE').map((r) => r.connectionId);
  assert.equal(new Set(logins).size, 2, `a login record from each connection, the early one's handed over: ${records.map((r) => r.verb).join(', ')}`);
  const [outcome] = await pool.append('INBOX', [{ mailbox: 'INBOX', flags: [], data: Buffer.from('Subject: x\r\n\r\nbody\r\n') }]);
  assert.equal(outcome?.status, 'appended');
});
