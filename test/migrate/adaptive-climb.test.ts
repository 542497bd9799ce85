// The controller's hill-climb and its run-long folder-lock watch (issue 16), driven by a fake pool and a fake clock:
// a server whose speed depends on the settings is simulated by the rate at which APPENDs settle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveController } from '../../src/migrate/adaptive-run.js';
import type { AppendSample, Pool, PoolSettings } from '../../src/transport/pool.js';
import { newRecord } from '../../src/transport/timing.js';
import { FakePool } from '../helpers/fake-pool.js';

function sample(t: number, o: { waitMs?: number; connectionsInFolder?: number; messages?: number } = {}): AppendSample {
  const r = newRecord(1, 'A', 'APPEND', o.messages ?? 50, 50 * 4096, 'nonsync', t);
  r.writeStart = t;
  r.headFlushed = r.bodyFlushed = t + 0.1;
  r.tagged = t + 0.1 + (o.waitMs ?? 0.5);
  return { mailbox: 'INBOX', connectionId: 1, connectionsInFolder: o.connectionsInFolder ?? 1, messages: o.messages ?? 50, bytes: 50 * 4096, record: r, ok: true };
}

/** Settles APPENDs of 50 messages at the rate `msgPerS(settings)` until `untilMs`. */
function drive(c: AdaptiveController, pool: FakePool, clock: { t: number }, untilMs: number, msgPerS: (s: PoolSettings) => number, extra?: (t: number) => Partial<Parameters<typeof sample>[1]>): void {
  while (clock.t < untilMs) {
    clock.t += (50 * 1000) / msgPerS(pool.settings);
    const s = sample(clock.t, extra?.(clock.t) ?? {});
    c.record(s.record!);
    c.appendSettled(s);
  }
}

function controller(clock: { t: number }) {
  const pool = new FakePool();
  const c = new AdaptiveController(
    { enabled: true, literalMode: 'auto', batch: 50, clock: { now: () => clock.t, wall: () => new Date(0) } },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  c.attached(pool as unknown as Pool);
  return { pool, c };
}

test('a server that gains from more connections is climbed to them: each step kept with both measurements in the report', () => {
  const clock = { t: 0 };
  const { pool, c } = controller(clock);
  // 500 msg/s per connection up to 8: each doubling doubles the rate.
  drive(c, pool, clock, 20_000, (s) => 500 * s.connections);
  const r = c.report();
  assert.equal(r.after.connections, 8, JSON.stringify(r, null, 1));
  const kept = r.trials.filter((x) => x.result === 'kept');
  assert.deepEqual(kept.map((x) => [x.setting, x.from, x.to]), [['connections', 2, 4], ['connections', 4, 8]]);
  for (const k of kept) assert.ok(k.trialMessagesPerS! >= k.baseMessagesPerS * 1.1);
  assert.ok(r.changes.some((x) => x.setting === 'connections' && x.to === 8 && /trial .* msg\/s against/.test(x.reason)));
  assert.equal(r.outcome, 'adapted');
});

test('a step that measures no faster is undone, and the pool is left as it was', () => {
  const clock = { t: 0 };
  const { pool, c } = controller(clock);
  drive(c, pool, clock, 20_000, () => 2000);
  const r = c.report();
  assert.equal(pool.settings.connections, 2);
  assert.equal(pool.settings.pipelineDepth, 2);
  assert.ok(r.trials.length >= 2, JSON.stringify(r.trials));
  assert.ok(r.trials.every((x) => x.result === 'undone'), JSON.stringify(r.trials));
  assert.deepEqual(r.changes, []);
  assert.equal(r.outcome, 'unchanged');
  assert.ok(r.notes.some((n) => /tried connections 2 → 4 .* undone/.test(n)), r.notes.join('\n'));
});

test('a step that makes the server slower is undone at once (no second step in that direction)', () => {
  const clock = { t: 0 };
  const { pool, c } = controller(clock);
  drive(c, pool, clock, 20_000, (s) => (s.connections > 2 ? 600 : 2000));
  const r = c.report();
  assert.equal(pool.settings.connections, 2);
  assert.ok(!r.trials.some((x) => x.setting === 'connections' && x.to === 8));
});

test('the trial budget bounds the climb, and trials: 0 keeps the rules alone', () => {
  const clock = { t: 0 };
  const { pool, c } = controller(clock);
  drive(c, pool, clock, 60_000, (s) => 100 * s.connections * s.pipelineDepth);
  assert.ok(c.report().trials.length <= 3);
  const clock2 = { t: 0 };
  const pool2 = new FakePool();
  const c2 = new AdaptiveController({ enabled: true, literalMode: 'auto', batch: 50, maxTrials: 0, clock: { now: () => clock2.t, wall: () => new Date(0) } }, { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined });
  c2.attached(pool2 as unknown as Pool);
  drive(c2, pool2, clock2, 20_000, (s) => 500 * s.connections);
  assert.deepEqual(c2.report().trials, []);
  assert.deepEqual(pool2.reconfigured, []);
});

test('a folder-lock stall that settles after the looks still brings one connection per folder (the run-long watch)', () => {
  const clock = { t: 0 };
  const { pool, c } = controller(clock);
  pool.capabilities = { literalPlus: false, literalMinus: false, multiappend: false };
  // 10 s of healthy APPENDs with 2 connections in the folder, then Courier-like lock waits of 1–3 s.
  let n = 0;
  drive(c, pool, clock, 30_000, () => 2000, (t) => ({ connectionsInFolder: 2, waitMs: t > 25_000 && ++n % 40 === 0 ? 1000 * (1 + (n % 3)) : 0.5 }));
  const r = c.report();
  assert.equal(pool.settings.connectionsPerFolder, 1, JSON.stringify(r, null, 1));
  const change = r.changes.find((x) => x.setting === 'connectionsPerFolder');
  assert.ok(change);
  assert.match(change.reason, /folder-lock stalls/);
  assert.ok(!r.notes.some((x) => x.startsWith('folder locks:')), 'the stale "no lock" note is gone');
});

test('with adaptation off nothing is tried and the pool is never reconfigured', () => {
  const clock = { t: 0 };
  const pool = new FakePool();
  const c = new AdaptiveController({ enabled: false, literalMode: 'auto', batch: 50, clock: { now: () => clock.t, wall: () => new Date(0) } }, { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined });
  c.attached(pool as unknown as Pool);
  drive(c, pool, clock, 20_000, (s) => 500 * s.connections, () => ({ connectionsInFolder: 2, waitMs: 0.5 }));
  assert.deepEqual(pool.reconfigured, []);
  assert.deepEqual(c.report().trials, []);
});

test('the looks read MULTIAPPENDs of 50; once the rules are done the run goes on at its own batch of 200', () => {
  const clock = { t: 0 };
  const pool = new FakePool();
  pool.settings = { ...pool.settings, batch: 200 };
  const c = new AdaptiveController(
    { enabled: true, literalMode: 'auto', batch: 200, maxTrials: 0, clock: { now: () => clock.t, wall: () => new Date(0) } },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  c.attached(pool as unknown as Pool);
  assert.equal(pool.settings.batch, 50, 'before the first APPEND: commands the looks can count early');
  // 19 commands of 50 settled: not yet a look, so still 50 a command.
  drive(c, pool, clock, 19 * 25, () => 2000);
  assert.equal(pool.settings.batch, 50);
  drive(c, pool, clock, 5000, () => 2000);
  assert.equal(pool.settings.batch, 200);
  const r = c.report();
  assert.equal(r.before.batch, 200, "the report's before is the run's own batch");
  assert.equal(r.after.batch, 200);
  assert.ok(r.notes.some((n) => /looks read MULTIAPPENDs of 50; the run goes on at 200/.test(n)), r.notes.join(' | '));
  assert.equal(r.changes.length, 0, 'not a change of the settings: the run keeps the batch it was given');
});

test('--no-adapt and a batch of at most 50 keep the batch as given from the first APPEND', () => {
  for (const [enabled, batch] of [[false, 200], [true, 50], [true, 10]] as const) {
    const clock = { t: 0 };
    const pool = new FakePool();
    pool.settings = { ...pool.settings, batch };
    const c = new AdaptiveController(
      { enabled, literalMode: 'auto', batch, clock: { now: () => clock.t, wall: () => new Date(0) } },
      { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
    );
    c.attached(pool as unknown as Pool);
    drive(c, pool, clock, 2000, () => 2000);
    assert.ok(!pool.reconfigured.some((x) => x.batch !== undefined), `${enabled} ${batch}: ${JSON.stringify(pool.reconfigured)}`);
    assert.equal(pool.settings.batch, batch);
  }
});

test('a server without MULTIAPPEND gets no look batch: one message a command whatever was asked', () => {
  const clock = { t: 0 };
  const pool = new FakePool();
  pool.capabilities = { literalPlus: false, literalMinus: false, multiappend: false };
  const c = new AdaptiveController(
    { enabled: true, literalMode: 'auto', batch: 200, maxTrials: 0, clock: { now: () => clock.t, wall: () => new Date(0) } },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  c.attached(pool as unknown as Pool);
  assert.ok(!pool.reconfigured.some((x) => x.batch !== undefined), JSON.stringify(pool.reconfigured));
});
