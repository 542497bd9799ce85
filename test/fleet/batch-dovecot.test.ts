// `mailmigrate batch` end to end: the built binary, 10 accounts of a private Dovecot (one user each), mixed
// sources, one wrong password and one missing source; what arrives is read back from Dovecot with doveadm, and the
// connections to the server are counted from /proc/net/tcp while the batch runs. Skipped, with the reason shown,
// where Dovecot or the build is missing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BatchSummary } from '../../src/fleet/batch-state.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { csv, messageIdOf, sampleConnections, writeSource, type SourceKind } from './fleet-fixtures.js';

const skip = dovecotSkipReason() ?? binarySkipReason() ?? (process.platform === 'linux' ? undefined : 'counts connections from /proc/net/tcp (Linux)');
if (skip) console.log(`# fleet batch Dovecot tests skipped: ${skip}`);

// 10 accounts, 4 at a time under the connection cap while --parallel 6 would start 6 (18 connections): the cap holds
// with accounts queued behind it, every source kind and both password sources arrive, and the 2 failures are
// reported among 8 successes. Each account is an `import` process per run (first run and re-run): 50 accounts cost
// 106 CPU-s of the test suite, 20 cost 41 (issue 13, /usr/bin/time per file).
const N = 10;
const WRONG_PASSWORD = 4;
const MISSING_SOURCE = 7;
const CAP = 16; // 4 accounts at a time: each holds 1 APPEND connection + control + folder survey + bulk reader
const name = (i: number): string => `fleet${String(i).padStart(2, '0')}`;
const count = (i: number): number => 2 + (i % 3);
const kinds: SourceKind[] = ['maildir', 'mbox', 'eml'];

/** Message-IDs per user, read back from Dovecot (every folder). */
async function readBack(d: DovecotInstance, users: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < users.length; i += 8) {
    await Promise.all(
      users.slice(i, i + 8).map(async (u) => {
        const text = await d.doveadm(['fetch', '-u', u, 'hdr.message-id', 'all']);
        out.set(u, [...text.matchAll(/^hdr\.message-id: (.*)$/gm)].map((m) => m[1]!.trim()).sort());
      }),
    );
  }
  return out;
}

describe(`batch: ${N} accounts against a private Dovecot`, { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  let env: Record<string, string>;
  let csvFile: string;
  const users = Array.from({ length: N }, (_, i) => name(i + 1));
  const good = users.filter((_, i) => i + 1 !== WRONG_PASSWORD && i + 1 !== MISSING_SOURCE);
  const expected = (u: string): string[] => {
    const i = Number(u.slice(5));
    return Array.from({ length: count(i) }, (_, k) => messageIdOf(u, k + 1)).sort();
  };
  const args = (stateDir: string, extra: string[] = []): string[] => [
    'batch', csvFile, '--host', '127.0.0.1', '--port', String(d.port), '--state-dir', stateDir,
    '--max-connections-per-host', String(CAP), '--connections', '1', '--parallel', '6', '--retries', '0', ...extra,
  ];

  before(async () => {
    const passwords = Object.fromEntries(users.map((u) => [u, randomBytes(6).toString('hex')]));
    d = await startDovecot({ extraUsers: passwords });
    work = mkdtempSync(join(tmpdir(), 'mm-fleet-'));
    mkdirSync(join(work, 'src'));
    mkdirSync(join(work, 'pw'), { mode: 0o700 });
    env = {};
    const rows: string[][] = [['source', 'user', 'password_file', 'password_env', 'folder']];
    users.forEach((u, idx) => {
      const i = idx + 1;
      let source = writeSource(join(work, 'src'), u, kinds[i % 3]!, count(i));
      if (i === MISSING_SOURCE) source = join(work, 'src', 'no-such-tree');
      const pw = i === WRONG_PASSWORD ? 'not-the-password' : passwords[u]!;
      // Half the accounts take their password from a file, half from an environment variable of this machine.
      let file = '';
      let envName = '';
      if (i % 2 === 0) {
        file = join('pw', u); // relative: resolved against the CSV's directory
        writeFileSync(join(work, file), `${pw}\n`, { mode: 0o600 });
      } else {
        envName = `PW_${u.toUpperCase()}`;
        env[envName] = pw;
      }
      rows.push([source, u, file, envName, i % 10 === 0 ? 'Imported' : '']);
    });
    csvFile = join(work, 'accounts.csv');
    writeFileSync(csvFile, csv(rows));
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test(`${N - 2} accounts arrive exactly once, the 2 that cannot are reported with reasons, exit 2, and the cap holds`, async () => {
    const state = join(work, 'state');
    const html = join(work, 'batch.html');
    const sampler = sampleConnections(d.port, 25);
    const t0 = performance.now();
    const r = await runCli([...args(state), '--html', html], env, 240_000);
    const firstMs = performance.now() - t0;
    const seen = sampler.stop();
    console.log(`# first run: ${(firstMs / 1000).toFixed(1)} s; connections to Dovecot: at most ${seen.max} at once (cap ${CAP}) over ${seen.samples} samples`);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`line ${WRONG_PASSWORD + 1} ${name(WRONG_PASSWORD)}@127\\.0\\.0\\.1:${d.port}: .*Authentication failed.* \\(E_AUTH\\)`));
    assert.match(r.stdout, new RegExp(`line ${MISSING_SOURCE + 1} ${name(MISSING_SOURCE)}@.*no-such-tree: no such file or directory \\(E_SOURCE_NOT_FOUND\\)`));
    assert.match(r.stdout, new RegExp(`Accounts: ${N - 2} complete, 2 failed, 0 running, 0 pending \\(of ${N}\\)`));

    assert.ok(seen.nonZero > 0, 'the sampler saw the batch at work');
    assert.ok(seen.max <= CAP, `at most ${CAP} connections to the server, saw ${seen.max}`);

    const back = await readBack(d, users);
    for (const u of good) assert.deepEqual(back.get(u), expected(u), `${u}: every message exactly once`);
    assert.deepEqual(back.get(name(WRONG_PASSWORD)), []);
    assert.deepEqual(back.get(name(MISSING_SOURCE)), []);
    const imported = await d.doveadm(['mailbox', 'list', '-u', name(10)]);
    assert.match(imported, /^Imported$/m, 'the folder column reached the import');

    const s = JSON.parse(readFileSync(join(state, 'batch.json'), 'utf8')) as BatchSummary;
    assert.deepEqual(s.accounts, { total: N, complete: N - 2, failed: 2, pending: 0, running: 0 });
    assert.equal(s.messages.appended, good.reduce((n, u) => n + expected(u).length, 0));
    assert.ok(s.finishedAt);
    assert.ok(s.peakConnections[`127.0.0.1:${d.port}`]! <= CAP);
    const byUser = new Map(s.list.map((e) => [e.user, e]));
    assert.equal(byUser.get(name(WRONG_PASSWORD))!.error!.code, 'E_AUTH');
    assert.equal(byUser.get(name(MISSING_SOURCE))!.error!.code, 'E_SOURCE_NOT_FOUND');
    for (const u of good) assert.equal(byUser.get(u)!.status, 'complete', u);
    assert.equal(byUser.get(name(1))!.connections, 1);
    // Each account has its journal, report and log.
    const dir = byUser.get(name(1))!.dir!;
    assert.ok(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).appended === count(1));
    assert.match(readFileSync(join(dir, 'import.log'), 'utf8'), /^=== .* mailmigrate import /);
    assert.ok(!readFileSync(join(byUser.get(name(1))!.dir!, 'import.log'), 'utf8').includes(env[`PW_${name(1).toUpperCase()}`]!), 'no password in a log');

    const page = readFileSync(html, 'utf8');
    assert.match(page, new RegExp(`<b>${N - 2}</b> / ${N} accounts complete`));
    const firstRows = [...page.matchAll(/<tr class="(\w+)">/g)].slice(0, 3).map((m) => m[1]);
    assert.deepEqual(firstRows, ['failed', 'failed', 'complete'], 'failures first');
    assert.match(page, /E_AUTH/);
  });

  test('a re-run adds nothing: complete accounts are re-checked quickly, the 2 failures are reported again (with --lean-heap)', async () => {
    const state = join(work, 'state');
    const t0 = performance.now();
    // --lean-heap: each import started as LEAN_HEAP says (settings.ts), against the real server.
    const r = await runCli([...args(state), '--json', '--lean-heap'], env, 240_000);
    console.log(`# re-run: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(r.code, 2, r.stderr);
    const s = JSON.parse(r.stdout) as BatchSummary;
    assert.deepEqual(s.accounts, { total: N, complete: N - 2, failed: 2, pending: 0, running: 0 });
    assert.equal(s.messages.appended, 0, 'nothing appended twice');
    assert.equal(s.list.filter((e) => e.wasComplete).length, N - 2);
    const log = readFileSync(join(s.list.find((e) => e.user === name(1))!.dir!, 'import.log'), 'utf8');
    assert.match(log, /\n=== \S+ MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=100 \$\(command -v mailmigrate\) import /, 'the re-run went under the lean heap');
    const back = await readBack(d, good);
    for (const u of good) assert.deepEqual(back.get(u), expected(u), `${u}: still exactly once`);
  });

  test('with --skip-complete a re-run starts only the accounts that are not complete', async () => {
    const r = await runCli([...args(join(work, 'state'), ['--skip-complete', '--json'])], env, 240_000);
    assert.equal(r.code, 2, r.stderr);
    const s = JSON.parse(r.stdout) as BatchSummary;
    assert.equal(s.list.filter((e) => e.attempts > 0).length, 2);
    assert.equal(s.accounts.complete, N - 2);
  });

  test('--lean-heap with --queue is refused, naming the option: the workers start the imports', async () => {
    const csv = join(work, 'lean.csv');
    writeFileSync(csv, `source,user,password_env\n${join(work, 'src')},${name(1)},PW_X\n`);
    // Port 1: nothing is contacted; the option is refused before the queue is.
    const r = await runCli(['batch', csv, '--host', '127.0.0.1', '--queue', 'redis://127.0.0.1:1', '--lean-heap'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--lean-heap.*mailmigrate worker --lean-heap/);
  });

  test('a CSV with a password column is refused before anything runs (exit 1), naming the column', async () => {
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, `source,user,password\n${join(work, 'src')},${name(1)},secret\n`);
    const r = await runCli(['batch', bad, '--host', '127.0.0.1', '--port', String(d.port), '--state-dir', join(work, 'state-bad')], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 1, column "password": refused/);
    assert.doesNotMatch(r.stderr + r.stdout, /secret/);
  });
});
