import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmtEta, plainLine, rateAndEta } from '../../src/cli/render/progress.js';
import { groupFailures, type ImportReport, reasonWithoutSource, renderImportSummary } from '../../src/cli/render/summary.js';

test('rate and ETA come from counts and elapsed time, and ETA is unknown without a total', () => {
  assert.deepEqual(rateAndEta(100, 300, 2000), { rate: 50, etaS: 4 });
  assert.equal(rateAndEta(100, undefined, 2000).etaS, undefined);
  assert.equal(rateAndEta(0, 10, 0).rate, 0);
  assert.equal(fmtEta(75), '1m15s');
  assert.equal(fmtEta(3700), '1h01m');
  assert.equal(fmtEta(undefined), '--');
});

test('the plain progress line shows done of total, MB, msg/s and ETA', () => {
  const line = plainLine({ appended: 90, skipped: 5, failed: 5, bytes: 2_500_000, seen: 100 }, 200, 1000);
  assert.match(line, /100\/200 messages \(90 appended, 5 skipped, 5 failed\), 2\.5 MB, 100 msg\/s, ETA 1s/);
});

test('a failure reason does not repeat the path the report already gives', () => {
  assert.equal(reasonWithoutSource('/a/b', '/a/b: empty file'), 'empty file');
  assert.equal(reasonWithoutSource('/a/b', 'server said NO'), 'server said NO');
});

test('the summary shows totals, per-command recv-wait percentiles, diagnosis, failures and the journal', () => {
  const r = sampleReport();

  const s = renderImportSummary(r, { verbose: true });
  assert.match(s, /^source\s+target\s+messages/);
  assert.match(s, /Work\s+→\s+Work \(created\)\s+10\s+7\s+1\s+0\s+0\s+2\s+server \(absent\)/);
  assert.match(s, /Not imported, not failures: 2 not-mail/);
  assert.match(s, /Note: dates taken from file names/);
  assert.match(s, /Server alert: Mailbox is 95% full/);
  assert.match(s, /Interrupted: 7 appended, 1 already imported \(journal\), 0 already on the server \(checked\)/);
  assert.match(s, /3\.5 msg\/s, 3\.50 MB\/s/);
  assert.match(s, /APPEND\s+3\s+44\s+45\s+50\s+51/);
  assert.ok(s.indexOf('APPEND') < s.indexOf('LOGIN'), 'APPEND first');
  assert.match(s, /\[delayed-ack-stall\] recv-wait clusters at 44 ms/);
  assert.match(s, /\$Label1 ×3/);
  assert.match(s, /\/m\/x: empty file \(E_SOURCE_EMPTY\)/);
  assert.match(s, /Journal: \/state\/j\.jsonl \(re-run the same command to resume\)/);
});

test('without --verbose the summary leads with folders and totals; identical failures are one line with a count', () => {
  const failures = [
    ...Array.from({ length: 18 }, (_, i) => ({ source: `/m/cur/${i}`, code: 'E_LIMIT', reason: 'NO [LIMIT] too many recipients' })),
    { source: '/m/cur/x', code: 'E_SOURCE_EMPTY', reason: 'empty file' },
  ];
  assert.deepEqual(groupFailures(failures).map((g) => [g.count, g.code, g.first]), [[18, 'E_LIMIT', '/m/cur/0'], [1, 'E_SOURCE_EMPTY', '/m/cur/x']]);
  const r = { ...sampleReport(), failures, failed: 19 };
  const s = renderImportSummary(r);
  assert.doesNotMatch(s, /recv-wait per command|Settings:/);
  assert.match(s, /\[delayed-ack-stall\]/, 'a diagnosis naming a real problem is always shown');
  assert.match(s, / {2}18 × NO \[LIMIT\] too many recipients \(E_LIMIT\), e\.g\. \/m\/cur\/0/);
  assert.match(s, / {2}\/m\/cur\/x: empty file \(E_SOURCE_EMPTY\)/);
});

test('an adaptation change of a setting that had no value prints "no limit", not "undefined"', () => {
  const settings = { pipelineDepth: 1, connections: 2, batch: 1, literalMode: 'auto', literalPlusMaxBytes: 102400, connectionsPerFolder: undefined };
  const change = { setting: 'connectionsPerFolder' as const, from: undefined, to: 1, reason: 'one connection per folder' };
  const r: ImportReport = {
    ...sampleReport(),
    adaptation: {
      enabled: true, outcome: 'adapted', looks: 0, atMessages: 40, atMs: 300, messagesPerS: 130, rttMs: 0.05,
      before: settings, after: { ...settings, connectionsPerFolder: 1 }, changes: [change], notApplied: [], trials: [], notes: [],
    } as unknown as ImportReport['adaptation'],
  };
  const s = renderImportSummary(r);
  assert.match(s, /connectionsPerFolder no limit → 1: one connection per folder/);
  assert.doesNotMatch(s, /undefined/);
});

function sampleReport(): ImportReport {
  return {
    version: 1, target: 't', embedded: false, sources: ['/m'], dryRun: false, interrupted: true,
    total: 10, appended: 7, skipped: 1, failed: 2, bytes: 7_000_000, elapsedMs: 2000, msgsPerSec: 3.5, mbPerSec: 3.5,
    settings: { connections: 2, pipeline: 2, batch: 50, noDelay: true, literal: 'auto', write: 'coalesce', tls: 'implicit', folderPrefix: null },
    latency: { APPEND: { count: 3, p50: 44, p90: 45, p99: 50, max: 51 }, LOGIN: { count: 2, p50: 1, p90: 1, p99: 1, max: 1 } },
    diagnosis: [{ code: 'delayed-ack-stall', message: 'recv-wait clusters at 44 ms' }],
    failures: [{ source: '/m/x', code: 'E_SOURCE_EMPTY', reason: 'empty file' }, { source: '/m/y', code: 'E_SERVER_NO', reason: 'NO' }],
    flagsDropped: { $Label1: 3 }, foldersCreated: ['Work'], repairs: [], unknownResolved: 0,
    skippedBy: { journal: 1, checked: 0, deleted: 0, excluded: 0, foldersOnly: 0 }, excluded: [], flagsUpdated: 0,
    skippedPaths: { byReason: { 'not-mail': 2 }, paths: [], pathsLeftOut: 0 }, sourceNotes: ['dates taken from file names'], alerts: ['Mailbox is 95% full'],
    folders: [{ target: 'Work', sources: ['Work'], existed: false, created: true, check: 'absent', checkDetail: 'x', serverMessages: 0, bodiesFetched: 0, messages: 10, appended: 7, journal: 1, checked: 0, deleted: 0, flagsUpdated: 0, failed: 2 }],
    connections: { opened: 2, cap: null }, foldersAtOnce: 1, journal: '/state/j.jsonl', exitCode: 130,
  };}
