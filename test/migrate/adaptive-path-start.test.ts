// The path start rule in the controller (issue 16): the pool's login answered after a round trip of a path, so the
// LITERAL+ limit is raised before the first APPEND, from that round trip and the assumed bandwidth; the first look
// replaces it with the measured one. A fake pool and a fake clock: what is checked is when and what the controller
// asks the pool, and what the report says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PLUS_MAX_BYTES } from '../../src/imap/literal-policy.js';
import { AdaptiveController } from '../../src/migrate/adaptive-run.js';
import type { AppendSample, Pool } from '../../src/transport/pool.js';
import { newRecord } from '../../src/transport/timing.js';
import { capabilityRecord } from '../helpers/timing-records.js';
import { FakePool } from '../helpers/fake-pool.js';

/** One MULTIAPPEND of 50 × 20 000 bytes settling at `t` after a wait of `rttMs` + 20 ms at the server. */
function settle(c: AdaptiveController, t: number, rttMs: number): void {
  const r = newRecord(1, 'A', 'APPEND', 50, 50 * 20_000, 'nonsync', t - rttMs - 21);
  r.writeStart = t - rttMs - 21;
  r.headFlushed = r.bodyFlushed = t - rttMs - 20;
  r.tagged = t;
  c.record(r);
  const s: AppendSample = { mailbox: 'INBOX', connectionId: 1, connectionsInFolder: 1, messages: 50, bytes: 50 * 20_000, record: r, ok: true };
  c.appendSettled(s);
}

function start(loginMs: number, o: { enabled?: boolean; assumed?: number; caps?: FakePool['capabilities'] } = {}) {
  const clock = { t: 0 };
  const pool = new FakePool(200);
  if (o.caps) pool.capabilities = o.caps;
  const c = new AdaptiveController(
    { enabled: o.enabled ?? true, literalMode: 'auto', batch: 200, maxTrials: 0, clock: { now: () => clock.t, wall: () => new Date(0) }, ...(o.assumed !== undefined ? { assumedPathBytesPerMs: o.assumed } : {}) },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  // The login's records reach the observer before the pool is handed over (Pool.open, FirstConnection.adopt).
  c.record(capabilityRecord(loginMs, 'A1'));
  c.attached(pool as unknown as Pool);
  return { clock, pool, c };
}

test('a 40 ms login raises the LITERAL+ limit before the first APPEND; the first look replaces it with what the path delivered, and the report keeps both with their reasons', () => {
  const { clock, pool, c } = start(40);
  const first = pool.reconfigured.find((x) => x.literalPlusMaxBytes !== undefined);
  assert.equal(first?.literalPlusMaxBytes, 488 * 1024, JSON.stringify(pool.reconfigured));
  // Commands over the path at 4 ms of upload each: 1 MB per ~65 ms.
  for (let i = 1; i <= 4; i++) settle(c, (clock.t += 65), 40);
  const r = c.report();
  const changes = r.changes.filter((x) => x.setting === 'literalPlusMaxBytes');
  assert.equal(changes.length, 2, JSON.stringify(r, null, 1));
  assert.match(changes[0]!.reason, /at login/);
  assert.equal(changes[0]!.from, DEFAULT_PLUS_MAX_BYTES);
  assert.match(changes[1]!.reason, /assumed at the start/);
  assert.equal(changes[1]!.from, 488 * 1024);
  assert.equal(r.before.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES, 'the report\'s "before" is what the run was given');
  assert.equal(pool.settings.literalPlusMaxBytes, changes[1]!.to);
});

test('a login on loopback changes nothing before the first APPEND', () => {
  const { pool, c } = start(0.3);
  assert.ok(!pool.reconfigured.some((x) => x.literalPlusMaxBytes !== undefined), JSON.stringify(pool.reconfigured));
  assert.ok(!c.report().changes.some((x) => x.setting === 'literalPlusMaxBytes'));
});

test('with --no-adapt the path start is advice: the pool is not reconfigured, the report says what it would do', () => {
  const { pool, c } = start(40, { enabled: false });
  assert.ok(!pool.reconfigured.some((x) => x.literalPlusMaxBytes !== undefined), JSON.stringify(pool.reconfigured));
  const change = c.report().changes.find((x) => x.setting === 'literalPlusMaxBytes');
  assert.equal(change?.to, 488 * 1024);
  assert.equal(c.report().outcome, 'advice');
});

test('no assumption (0), or a server without LITERAL+: the limit stays until measured', () => {
  for (const run of [start(40, { assumed: 0 }), start(40, { caps: { literalPlus: false, literalMinus: true, multiappend: true } })]) {
    assert.ok(!run.pool.reconfigured.some((x) => x.literalPlusMaxBytes !== undefined), JSON.stringify(run.pool.reconfigured));
  }
});
