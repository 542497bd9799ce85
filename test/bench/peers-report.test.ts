// bench/peers/report.ts: the CPU-per-message columns and the ratios bench:peers prints (issues 14 and 16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAdaptTargets, renderCpuTable, rttRatios, type RunResult, summarizeRow, withRatios } from '../../bench/peers/report.js';

const run = (wallSeconds: number, client: number | undefined, server: number | undefined, verified = true): RunResult => ({
  wallSeconds,
  appended: 1000,
  verified,
  clientCpuSeconds: client,
  serverCpuSeconds: server,
});

test('CPU per message is the median over verified runs only, and client and server are divided by the corpus size', () => {
  const row = summarizeRow('mailmigrate', 'mm', [run(1, 0.2, 0.3), run(1, 0.4, 0.1), run(1, 0.3, 0.2), run(1, 9, 9, false)], 1000, 1e6);
  assert.equal(row.clientUsPerMsg, 300);
  assert.equal(row.serverUsPerMsg, 200);
  assert.equal(row.totalUsPerMsg, 500);
});

test('a row where some run has no CPU reading reports no CPU rather than a median of the others', () => {
  const row = summarizeRow('perl', 'perl', [run(1, 0.2, 0.3), run(1, undefined, 0.3)], 1000, 1e6);
  assert.equal(row.clientUsPerMsg, undefined);
  assert.equal(row.serverUsPerMsg, 300);
  assert.equal(row.totalUsPerMsg, undefined);
});

test('ratios to mbsync divide each row by the mbsync row of the same table, and are absent without an mbsync row', () => {
  const rows = withRatios([
    summarizeRow('mbsync', 'mbsync', [run(2, 0.2, 0.8)], 1000, 1e6),
    summarizeRow('mailmigrate', 'mm', [run(1, 0.1, 0.2)], 1000, 1e6),
  ]);
  const mm = rows.find((r) => r.client === 'mailmigrate')!;
  assert.equal(mm.clientCpuVsMbsync, 0.5);
  assert.equal(mm.serverCpuVsMbsync, 0.25);
  assert.equal(mm.totalCpuVsMbsync, 0.3);
  assert.equal(mm.rateVsMbsync, 2);
  assert.match(renderCpuTable(rows), /\| mm +\| +100 \| +200 \| +300 \| +0\.50 \| +0\.25 \| +0\.30 \| +2\.00 \|/);
  const alone = withRatios([summarizeRow('mailmigrate', 'mm', [run(1, 0.1, 0.2)], 1000, 1e6)]);
  assert.equal(alone[0]!.clientCpuVsMbsync, undefined);
});

test('the round-trip summary gives each client its msg/s at the delay over its own at 0 ms, and the defaults over mbsync at both', () => {
  const at = (mmSeconds: number, mbSeconds: number) =>
    withRatios([summarizeRow('mbsync', 'mbsync', [run(mbSeconds, 0.2, 0.8)], 1000, 1e6), summarizeRow('mailmigrate', 'mm', [run(mmSeconds, 0.1, 0.2)], 1000, 1e6)]);
  const r = rttRatios([{ rttMs: 0, rows: at(1, 2) }, { rttMs: 40, rows: at(2, 8) }], 40);
  assert.equal(r.keep['mailmigrate'], 0.5);
  assert.equal(r.keep['mbsync'], 0.25);
  assert.deepEqual(r.defaultsVsMbsync, { at0: 2, atRtt: 4 });
  assert.ok(r.lines.some((l) => l.includes('2.00× at 0 ms, 4.00× at 40 ms')));
});

test("issue 16's targets: the defaults against the best peer of the same run and against the best fixed setting", () => {
  const rows = withRatios([
    summarizeRow('perl', 'Perl', [run(6.1, 1, 1)], 1000, 1e6),
    summarizeRow('mbsync', 'mbsync', [run(12.2, 1, 1)], 1000, 1e6),
    summarizeRow('mailmigrate', 'mm', [run(4, 1, 1)], 1000, 1e6),
    summarizeRow('mailmigrate-best', 'mm best', [run(3.8, 1, 1)], 1000, 1e6),
  ]);
  const [peer, best] = checkAdaptTargets(rows);
  assert.match(peer!.target, /best peer \(perl\)/);
  assert.equal(peer!.measured, 1.53);
  assert.equal(peer!.met, true);
  assert.equal(best!.measured, 0.95);
  assert.equal(best!.met, true);
  const none = checkAdaptTargets(rows.filter((r) => r.client === 'mailmigrate'));
  assert.deepEqual(none.map((t) => t.met), [undefined, undefined]);
});
