import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';

// The built binary, as a user runs it: the --json files carry the fields of the output contract.
const skip = binarySkipReason();
const tmp = (t: { after: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-scale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const readJson = (file: string): Record<string, any> => JSON.parse(readFileSync(file, 'utf8'));

test('bench connections writes sessions, established, failed, rssPerSessionBytes and connectMs', { skip }, async (t) => {
  const file = join(tmp(t), 'c.json');
  const r = await runCli(['bench', 'connections', '--sessions', '50', '--hold', '0', '--json', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sessions held: 50 of 50/);
  const j = readJson(file);
  assert.equal(j['sessions'], 50);
  assert.equal(j['established'], 50);
  assert.equal(j['failed'], 0);
  assert.equal(typeof j['rssPerSessionBytes'], 'number');
  for (const k of ['p50', 'p99', 'max']) assert.equal(typeof j['connectMs'][k], 'number');
});

test('bench storm writes one run per backlog with connect and first-reply percentiles', { skip }, async (t) => {
  const file = join(tmp(t), 's.json');
  const r = await runCli(['bench', 'storm', '--clients', '40', '--backlog', '1024', '--busy', '200', '--json', file]);
  assert.equal(r.code, 0, r.stderr);
  const run = readJson(file)['runs'][0];
  assert.equal(run.backlog, 1024);
  assert.equal(run.clients, 40);
  for (const k of ['p50', 'p99', 'max']) {
    assert.equal(typeof run.connectMs[k], 'number');
    assert.equal(typeof run.firstReplyMs[k], 'number');
  }
  assert.ok('listenOverflows' in run);
  assert.ok(Array.isArray(run.diagnosis));
});

test('bench churn honours its own --messages and writes msg/s, latency and TIME_WAIT per mode', { skip }, async (t) => {
  const file = join(tmp(t), 'ch.json');
  const r = await runCli(['bench', 'churn', '--messages', '40', '--modes', 'persistent,new-connection', '--json', file]);
  assert.equal(r.code, 0, r.stderr);
  const runs = readJson(file)['runs'];
  assert.deepEqual(runs.map((x: { mode: string }) => x.mode), ['persistent', 'new-connection']);
  for (const x of runs) {
    assert.equal(x.messages, 40);
    assert.ok(x.msgsPerSec > 0);
    for (const k of ['p50', 'p99', 'max']) assert.equal(typeof x.latencyMs[k], 'number');
    assert.ok('timeWait' in x);
    assert.ok(Array.isArray(x.diagnosis));
  }
});

test('doctor without --host examines the embedded server and writes capabilities, timings, cap and recommendations', { skip }, async (t) => {
  const file = join(tmp(t), 'd.json');
  const r = await runCli(['doctor', '--max-sessions', '12', '--json', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recommended: mailmigrate import --connections \d/);
  const j = readJson(file);
  assert.ok(j['capabilities'].includes('MULTIAPPEND'));
  for (const k of ['connectMs', 'loginMs']) assert.equal(typeof j[k], 'number');
  assert.equal(j['connectionCap'], 10);
  assert.equal(typeof j['recommended']['connections'], 'number');
  assert.ok(Array.isArray(j['findings']));
  assert.doesNotMatch(readFileSync(file, 'utf8'), /"password"/);
});

test('doctor refuses a bad --max-sessions with exit code 1', { skip }, async () => {
  const r = await runCli(['doctor', '--max-sessions', 'lots']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--max-sessions/);
});
