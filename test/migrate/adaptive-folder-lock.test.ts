// The connections-per-folder rule (issue 16) end to end: an embedded server with the folder-lock fault switch
// (faults.ts folderLock: a per-folder lock taken by each APPEND and polled every retryMs, as Courier's maildir lock
// is) and two connections appending into one folder. Courier measured: most APPENDs a few ms, a few waiting whole
// seconds for the lock, 62 % of the time spent waiting (docs/adaptation.md). The controller must see those waits,
// go to one connection per folder while the import runs, and the import must stay exactly-once; with --no-adapt the
// report only advises it; without the lock the rule stays quiet.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import { AdaptiveController } from '../../src/migrate/adaptive-run.js';
import type { PoolEvent } from '../../src/transport/pool.js';
import type { TimingRecord } from '../../src/transport/timing.js';
import { importOnce, tally, tempDir, withServer, writeCorpus } from '../reliability/harness.js';

const N = 160;
// Courier offers neither LITERAL+ nor MULTIAPPEND: one message per command, each waiting for its '+'.
const COURIER_LIKE = { literalPlus: false, literalMinus: false, multiappend: false };
// A lock wait counts as a stall from 500 ms (adapt-policy.ts LOCK_STALL_MIN_MS); Courier polls every second. The
// lock is held for a third of each APPEND's time at the server (the tagged delay is the work outside it), so a
// waiter's poll finds the folder free most of the time, as on Courier, instead of starving until the other is done.
const LOCK = { holdMs: 3, retryMs: 600 };
const OUTSIDE_LOCK = { taggedDelayMs: 6, delayVerbs: ['APPEND'] };

// The measured rule is what these tests are about, so the capability rules stay off in them (fromCapabilities):
// with Courier's capabilities, startFolderChange takes one connection per folder before the first APPEND and no
// folder is ever shared (the last test). The measured rule still serves a server that offers LITERAL+ or
// MULTIAPPEND and locks its folders.
async function run(t: Parameters<typeof tempDir>[0], enabled: boolean, locked: boolean, fromCapabilities = false) {
  const s = await withServer(t, { capabilities: COURIER_LIKE, faults: { ...OUTSIDE_LOCK, ...(locked ? { folderLock: LOCK } : {}) } });
  const dir = tempDir(t);
  // One folder (INBOX): both connections are in it whenever both have work.
  const ids = writeCorpus(join(dir, 'mail'), N, `lock-${enabled}-${locked}`);
  let decidedAt: number | undefined;
  const controller = new AdaptiveController(
    { enabled, literalMode: 'auto', batch: 1, afterMessages: 30, afterMs: 1500, minCommands: 20, maxTrials: 0, fromCapabilities, onDecision: () => (decidedAt ??= systemClock.now()) },
    { pipelineDepth: 1, connections: 2, connectionsPerFolder: undefined },
  );
  const events: PoolEvent[] = [];
  let lockChangedAt: number | undefined;
  const result = await importOnce(s, join(dir, 'mail'), join(dir, 'journal.jsonl'), {
    batch: 1,
    pool: { connections: 2, pipelineDepth: 1, maxPipelineDepth: 4, observer: controller, timeouts: { connectMs: 2000, greetingMs: 2000, continuationMs: 5000, replyMs: 5000 } },
    onPoolEvent: (e) => {
      events.push(e);
      if (e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'connectionsPerFolder')) lockChangedAt ??= systemClock.now();
    },
  });
  return { s, ids, result, report: controller.report(), events, decidedAt, lockChangedAt };
}

/** Pairs of APPENDs on different connections whose time at the server overlapped, the later one written after `from`. */
function overlapsAfter(records: readonly TimingRecord[], from: number): string[] {
  const appends = records.filter((r) => r.verb === 'APPEND' && r.writeStart !== undefined && r.tagged !== undefined);
  const out: string[] = [];
  for (const a of appends) {
    if (a.writeStart! <= from) continue;
    for (const b of appends) {
      if (b.connectionId === a.connectionId || b === a) continue;
      if (b.writeStart! < a.tagged! && a.writeStart! < b.tagged!) out.push(`${a.tag}@${a.connectionId} overlaps ${b.tag}@${b.connectionId}`);
    }
  }
  return out;
}

test('folder-lock stalls with two connections in one folder are adapted to one connection per folder mid-run, and every message lands exactly once', async (t) => {
  const { s, ids, result, report, events, lockChangedAt } = await run(t, true, true);
  const change = report.changes.find((c) => c.setting === 'connectionsPerFolder');
  assert.ok(change, JSON.stringify(report, null, 1));
  assert.equal(change.to, 1);
  assert.match(change.reason, /folder-lock/);
  assert.equal(report.after.connectionsPerFolder, 1);
  assert.ok(events.some((e) => e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'connectionsPerFolder' && c.to === 1)), 'the pool was not told');
  assert.ok(lockChangedAt !== undefined);
  // From the change on, nothing new goes into the folder while another connection is in it: no lock left to wait for.
  assert.deepEqual(overlapsAfter(result.records, lockChangedAt), []);
  assert.ok(result.records.some((r) => r.verb === 'APPEND' && r.writeStart! > lockChangedAt), 'the run ended at the change: nothing was tested');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.equal(result.appended, N);
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('with adaptation off (--no-adapt) the same folder lock changes nothing, and the report advises one connection per folder', async (t) => {
  const { s, ids, result, report, events } = await run(t, false, true);
  assert.ok(report.changes.some((c) => c.setting === 'connectionsPerFolder' && c.to === 1 && /folder-lock/.test(c.reason)), JSON.stringify(report, null, 1));
  assert.equal(report.after.connectionsPerFolder, undefined);
  assert.ok(!events.some((e) => e.type === 'reconfigured'), 'the pool was reconfigured with adaptation off');
  // Both connections went on sharing the folder to the end.
  assert.ok(new Set(result.records.filter((r) => r.verb === 'APPEND').slice(-20).map((r) => r.connectionId)).size === 2);
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('the same two connections in one folder without a lock leave the connections-per-folder rule quiet', async (t) => {
  const { s, ids, report } = await run(t, true, false);
  assert.ok(!report.changes.some((c) => c.setting === 'connectionsPerFolder'), JSON.stringify(report, null, 1));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test("with the capability rules, a Courier-like server gets one connection per folder before the first APPEND: no APPEND ever shares the folder or waits on its lock, and every message lands exactly once", async (t) => {
  const { s, ids, result, report, events } = await run(t, true, true, true);
  const change = report.changes.find((c) => c.setting === 'connectionsPerFolder');
  assert.ok(change, JSON.stringify(report, null, 1));
  assert.match(change.reason, /neither LITERAL\+\/LITERAL- nor MULTIAPPEND/);
  assert.equal(report.after.connectionsPerFolder, 1);
  assert.ok(events.some((e) => e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'connectionsPerFolder' && c.to === 1)), 'the pool was not told');
  // From the very first APPEND: no two connections in the folder at once, so no wait for the lock (it polls every 600 ms).
  assert.deepEqual(overlapsAfter(result.records, -Infinity), []);
  const waits = result.records.filter((r) => r.verb === 'APPEND' && r.tagged! - r.writeStart! >= LOCK.retryMs);
  assert.deepEqual(waits.map((r) => `${r.tag}@${r.connectionId}`), [], 'APPENDs that waited for the lock');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.equal(result.appended, N);
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});
