// Adaptation at run time (issue 16), end to end on the embedded server over loopback TCP: a server without LITERAL+
// whose '+' comes ~45 ms late (the fault switch standing in for Courier's continuation stall at depth 2). The
// controller must see the stall, bring the depth to 1 while the import runs, and the import must stay exactly-once;
// with adaptation off (--no-adapt) nothing changes and the report says what adaptation would have done.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import { AdaptiveController, type AdaptationReport, roundTripMs } from '../../src/migrate/adaptive-run.js';
import type { PoolEvent } from '../../src/transport/pool.js';
import { newRecord } from '../../src/transport/timing.js';
import { importOnce, tally, tempDir, withServer, writeCorpus } from '../reliability/harness.js';

const N = 90;
const COURIER_LIKE = { literalPlus: false, literalMinus: false, multiappend: false };

async function run(t: Parameters<typeof tempDir>[0], enabled: boolean, faulty = true, maxTrials?: number, fromCapabilities = false) {
  const s = await withServer(t, { capabilities: COURIER_LIKE, ...(faulty ? { faults: { continuationDelayMs: 45 } } : {}) });
  const dir = tempDir(t);
  const ids = writeCorpus(join(dir, 'mail'), N, enabled ? 'adapt' : 'noadapt', ['Work']);
  let decidedAt: number | undefined;
  const controller = new AdaptiveController(
    { enabled, literalMode: 'auto', batch: 1, afterMessages: 30, afterMs: 1500, minCommands: 20, ...(maxTrials !== undefined ? { maxTrials } : {}), fromCapabilities, onDecision: () => (decidedAt ??= systemClock.now()) },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  const events: PoolEvent[] = [];
  const result = await importOnce(s, join(dir, 'mail'), join(dir, 'journal.jsonl'), {
    batch: 1,
    pool: { connections: 2, pipelineDepth: 2, maxPipelineDepth: 8, observer: controller, timeouts: { connectMs: 2000, greetingMs: 2000, continuationMs: 5000, replyMs: 5000 } },
    onPoolEvent: (e) => events.push(e),
  });
  return { s, ids, result, report: controller.report(), events, decidedAt };
}

/** APPENDs handed to a connection after the decision: what they were sent behind. */
function depthsAfter(result: Awaited<ReturnType<typeof run>>['result'], at: number): number[] {
  return result.records.filter((r) => r.verb === 'APPEND' && r.queued > at).map((r) => r.depthAtSend);
}

test('a continuation stall at depth 2 on a server without LITERAL+ is adapted to depth 1 mid-run, and every message lands exactly once', async (t) => {
  const { s, ids, result, report, events, decidedAt } = await run(t, true);
  assert.equal(report.outcome, 'adapted', JSON.stringify(report, null, 1));
  assert.equal(report.before.pipelineDepth, 2);
  assert.equal(report.after.pipelineDepth, 1);
  const change = report.changes.find((c) => c.setting === 'pipelineDepth');
  assert.ok(change, JSON.stringify(report.changes));
  assert.match(change.reason, /continuation stall/);
  assert.ok(events.some((e) => e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'pipelineDepth' && c.from === 2 && c.to === 1)));
  assert.ok(decidedAt !== undefined);
  const after = depthsAfter(result, decidedAt);
  assert.ok(after.length > 10, `only ${after.length} APPENDs after the decision`);
  assert.deepEqual(after.filter((d) => d > 0), [], 'an APPEND handed out after the decision was pipelined behind another');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.equal(result.appended, N);
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('with adaptation off (--no-adapt) the same stall changes nothing, the report says what it would have done, and the run is exactly-once', async (t) => {
  const { s, ids, result, report, events, decidedAt } = await run(t, false);
  assert.equal(report.outcome, 'advice', JSON.stringify(report, null, 1));
  assert.ok(report.changes.some((c) => c.setting === 'pipelineDepth' && c.to === 1), JSON.stringify(report.changes));
  assert.equal(report.after.pipelineDepth, 2);
  assert.ok(!events.some((e) => e.type === 'reconfigured'), 'the pool was reconfigured with adaptation off');
  assert.ok(decidedAt !== undefined);
  assert.ok(depthsAfter(result, decidedAt).some((d) => d > 0), 'no APPEND was pipelined after the look: the depth changed');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('the same server without the fault is left as it is by the rules: no stall, no change', async (t) => {
  // Rules only: a trial (adapt-climb.ts) may keep a neighbour that measured faster, which is not what this checks.
  const { s, ids, report, events } = await run(t, true, false, 0);
  assert.ok(report.outcome === 'unchanged' || report.outcome === 'too-short', JSON.stringify(report, null, 1));
  assert.equal(report.after.pipelineDepth, 2);
  assert.ok(!events.some((e) => e.type === 'reconfigured'));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('a server offering neither LITERAL+ nor LITERAL- is run at depth 1 from its first APPEND (the capability rule), never stalls, and every message lands exactly once', async (t) => {
  const { s, ids, result, report } = await run(t, true, true, 0, true);
  const change = report.changes.find((c) => c.setting === 'pipelineDepth');
  assert.ok(change, JSON.stringify(report, null, 1));
  assert.match(change.reason, /neither LITERAL\+ nor LITERAL-/);
  assert.equal(report.before.pipelineDepth, 2);
  assert.equal(report.after.pipelineDepth, 1);
  const appends = result.records.filter((r) => r.verb === 'APPEND');
  assert.deepEqual(appends.filter((r) => r.depthAtSend > 0).map((r) => r.tag), [], 'an APPEND was pipelined behind another');
  assert.ok(!report.changes.some((c) => /continuation stall/.test(c.reason)), 'the stall was met and measured: the capability rule came too late');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('the round trip is the fastest answer of any kind, the connect time only when nothing answered', () => {
  const r = newRecord(1, 'A1', 'APPEND', 1, 10, 'sync', 0);
  r.writeStart = 0;
  r.headFlushed = 0.1;
  r.syncWaits.push([0.1, 40.3]);
  r.bodyFlushed = 40.4;
  r.tagged = 83;
  assert.ok(Math.abs(roundTripMs([r], [0.05])! - 40.2) < 1e-9);
  assert.equal(roundTripMs([], [3, 2.5]), 2.5);
  assert.equal(roundTripMs([], []), undefined);
});

test('a run too short to judge reports so, with nothing changed', () => {
  const c = new AdaptiveController({ enabled: true, literalMode: 'auto', batch: 50 }, { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined });
  const report: AdaptationReport = c.report();
  assert.equal(report.outcome, 'too-short');
  assert.deepEqual(report.changes, []);
  assert.equal(report.after.pipelineDepth, 2);
  assert.match(report.notes[0]!, /not enough/);
});
