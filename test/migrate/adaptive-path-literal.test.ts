// Adapting the LITERAL+ limit to the path (issue 16), end to end: the embedded server behind the benchmark's delay
// relay (a 50 ms round trip on loopback), a third of the messages 110 KB — above the 100 KiB LITERAL+ limit, so each
// waits a round trip for its '+'. The controller must see those waits, raise the limit to what the path uploads in one
// round trip, and every APPEND compiled after that must go without waiting; the import stays exactly-once. With
// adaptation off the limit stays and the report says what it would have done. The first two runs assume nothing at
// the start (assumedPathBytesPerMs 0: the measured rule alone); the last one runs with the default assumption, under
// which the login's round trip raises the limit before the first APPEND (pathStartChange).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DelayRelay } from '../../bench/peers/delay-relay.js';
import { systemClock } from '../../src/core/clock.js';
import { PATH_ASSUMED_BYTES_PER_MS } from '../../src/core/settings.js';
import { DEFAULT_PLUS_MAX_BYTES } from '../../src/imap/literal-policy.js';
import { AdaptiveController } from '../../src/migrate/adaptive-run.js';
import type { PoolEvent } from '../../src/transport/pool.js';
import { importOnce, message, messageIdOf, tally, tempDir, withServer } from '../reliability/harness.js';

// Enough for a second look: under load the first may see too little delivered to raise the limit (RTT × a lower
// bound of the bandwidth stays under 100 KiB when the server takes 80 ms a command) and change the connections first.
const N = 180;
// Just above the 100 KiB limit: the raised limit is RTT × a lower bound of the bandwidth, so a loaded machine (slower
// delivery) still raises it past these.
const LARGE = 110_000;

/** INBOX only: every third message `large` bytes, the rest 2 KB. */
function writeMixed(root: string, tag: string, large: number): string[] {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    writeFileSync(join(root, 'cur', `${1_700_000_000 + i}.M${i}P1.path:2,S`), message(i, tag, i % 3 === 0 ? large : 2000));
    ids.push(messageIdOf(i, tag));
  }
  return ids;
}

async function run(t: Parameters<typeof tempDir>[0], enabled: boolean, assumedPathBytesPerMs = 0, large = LARGE) {
  const s = await withServer(t);
  const relay = await DelayRelay.start({ targetPort: s.port, oneWayMs: 25 });
  t.after(() => relay.close());
  const dir = tempDir(t);
  const ids = writeMixed(join(dir, 'mail'), enabled ? 'path' : 'pathnoadapt', large);
  let decidedAt: number | undefined;
  // Rules only (no hill-climb trials): what is checked is the literal rule.
  const controller = new AdaptiveController(
    { enabled, literalMode: 'auto', batch: 10, maxTrials: 0, assumedPathBytesPerMs, onDecision: () => (decidedAt ??= systemClock.now()) },
    { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined },
  );
  const events: PoolEvent[] = [];
  const result = await importOnce({ host: '127.0.0.1', port: relay.port }, join(dir, 'mail'), join(dir, 'journal.jsonl'), {
    batch: 10,
    pool: { connections: 2, pipelineDepth: 2, maxPipelineDepth: 8, observer: controller, timeouts: { connectMs: 4000, greetingMs: 4000, continuationMs: 5000, replyMs: 5000 } },
    onPoolEvent: (e) => events.push(e),
  });
  return { s, ids, result, report: controller.report(), events, decidedAt };
}

test('over a 50 ms path, messages above the LITERAL+ limit waiting a round trip each raise the limit mid-run; every APPEND compiled after it goes without a "+", and every message lands exactly once', async (t) => {
  const { s, ids, result, report, events, decidedAt } = await run(t, true);
  const change = report.changes.find((c) => c.setting === 'literalPlusMaxBytes');
  assert.ok(change, JSON.stringify(report, null, 1));
  assert.equal(change.from, DEFAULT_PLUS_MAX_BYTES);
  assert.ok(report.after.literalPlusMaxBytes > LARGE, `limit ${report.after.literalPlusMaxBytes}`);
  assert.match(change.reason, /synchronizing literal/);
  assert.ok(events.some((e) => e.type === 'reconfigured' && e.changes.some((c) => c.setting === 'literalPlusMaxBytes')));
  assert.ok(decidedAt !== undefined);
  const appends = result.records.filter((r) => r.verb === 'APPEND');
  assert.ok(appends.filter((r) => r.queued < decidedAt).some((r) => r.syncWaits.length > 0), 'no APPEND waited for a "+" before the look: the test proves nothing');
  const after = appends.filter((r) => r.queued > decidedAt);
  assert.ok(after.length >= 3, `only ${after.length} APPENDs after the decision`);
  assert.deepEqual(after.filter((r) => r.syncWaits.length > 0).map((r) => r.tag), [], 'an APPEND compiled after the change still waited for a "+"');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.equal(result.appended, N);
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('with adaptation off the LITERAL+ limit stays where it was, and the report gives the raise as advice', async (t) => {
  const { s, ids, result, report, events } = await run(t, false);
  assert.equal(report.outcome, 'advice', JSON.stringify(report, null, 1));
  assert.ok(report.changes.some((c) => c.setting === 'literalPlusMaxBytes'), JSON.stringify(report.changes));
  assert.equal(report.after.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES);
  assert.ok(!events.some((e) => e.type === 'reconfigured'));
  const appends = result.records.filter((r) => r.verb === 'APPEND');
  assert.ok(appends.slice(-3).some((r) => r.syncWaits.length > 0), 'the last APPENDs no longer waited for "+": the limit moved');
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('with the default assumption the 50 ms round trip of the login raises the limit before the first APPEND: not one message of 110 KB waits for a "+", and every message lands exactly once', async (t) => {
  const { s, ids, result, report } = await run(t, true, PATH_ASSUMED_BYTES_PER_MS);
  const start = report.changes.find((c) => c.setting === 'literalPlusMaxBytes');
  assert.ok(start, JSON.stringify(report, null, 1));
  assert.equal(start.from, DEFAULT_PLUS_MAX_BYTES);
  assert.match(start.reason, /at login/);
  assert.ok((start.to as number) > LARGE, `limit ${String(start.to)}`);
  const appends = result.records.filter((r) => r.verb === 'APPEND');
  assert.ok(appends.length >= 10, `${appends.length} APPENDs`);
  assert.deepEqual(appends.filter((r) => r.syncWaits.length > 0).map((r) => r.tag), [], 'an APPEND waited for a "+"');
  assert.equal(result.failed, 0, JSON.stringify(result.failures));
  assert.equal(result.appended, N);
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});
