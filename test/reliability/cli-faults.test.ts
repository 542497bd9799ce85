// Issue 7 at the CLI: the built binary killed with SIGKILL at random points (3 times here, 20 in bench:chaos),
// SIGINT twice, and the password never in argv, the trace, the report, stdout/stderr or the journal; files 0600.
// The server is the embedded one, started in this process on 127.0.0.1 with a password only this file knows.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { binarySkipReason, runCli, startCli } from '../cli/cli-helpers.js';
import { Journal } from '../../src/journal/journal.js';
import { tally, tempDir, withServer, writeCorpus } from './harness.js';

const skip = binarySkipReason();
const PASSWORD = 'Rel-7-pa55w0rd-NeverPrinted';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cliArgs(port: number, src: string, dir: string, extra: string[] = []): string[] {
  return [
    'import', src, '--host', '127.0.0.1', '--port', String(port), '--plain', '--user', 'test',
    '--journal', join(dir, 'journal.jsonl'), '--report', join(dir, 'report.json'), '--trace', join(dir, 'trace.ndjson'),
    '--connections', '2', '--batch', '5', '--quiet', ...extra,
  ];
}
const env = { MAILMIGRATE_PASSWORD: PASSWORD };

test('SIGKILL at three random points, then a re-run: every message on the server exactly once', { skip, timeout: 60_000 }, async (t) => {
  // Each reply waits 4 ms so a run lasts long enough to be killed mid-import.
  const s = await withServer(t, { users: { test: PASSWORD }, faults: { taggedDelayMs: 4, delayVerbs: ['APPEND'] } });
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  const ids = writeCorpus(src, 400, 'kill', ['Work', 'Lists']);
  const landed: number[] = [];
  for (let k = 0; k < 3; k++) {
    const before = s.store.appendedMessages;
    const { child, done } = startCli(cliArgs(s.port, src, dir), env);
    let exited = false;
    void done.then(() => (exited = true));
    // A random point of the import: once the server has taken 1..100 more messages (a time-based kill could
    // land before the first APPEND on a slow machine and prove nothing).
    const target = before + 1 + Math.floor(Math.random() * 100);
    const deadline = performance.now() + 20_000;
    while (!exited && s.store.appendedMessages < target && performance.now() < deadline) await sleep(2);
    child.kill('SIGKILL');
    const r = await done;
    landed.push(s.store.appendedMessages - before);
    if (r.signal !== 'SIGKILL') break; // finished before the kill: nothing more to interrupt
  }
  assert.ok(landed.some((n) => n > 0), `no kill landed mid-import (appended per run: ${landed.join(', ')})`);
  const r = await runCli(cliArgs(s.port, src, dir), env, 45_000);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(tally(s.store, ids), { source: 400, onServer: 400, duplicates: 0, lost: 0 });
});

test('SIGINT twice aborts at once with 130, the journal still opens, and the re-run ends with each message once', { skip, timeout: 60_000 }, async (t) => {
  // Each APPEND answer takes 400 ms, so commands are still in flight when the second Ctrl-C comes 30 ms after the
  // first (Ctrl-C ends backoff sleeps and unsent batches at once: only answers still owed keep the run alive).
  const s = await withServer(t, { users: { test: PASSWORD }, faults: { taggedDelayMs: 400, delayVerbs: ['APPEND'] } });
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  const ids = writeCorpus(src, 200, 'int', ['Work']);
  const { child, done } = startCli(cliArgs(s.port, src, dir), env);
  while (s.store.appendedMessages < 10) await sleep(20);
  child.kill('SIGINT');
  await sleep(30);
  child.kill('SIGINT');
  const t0 = performance.now();
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assert.ok(performance.now() - t0 < 5000, 'the second SIGINT did not exit at once');
  assert.match(r.stderr, /Interrupted twice: journal closed/);
  const j = await Journal.open(join(dir, 'journal.jsonl'), JSON.parse(JSON.stringify(readJournalHeader(dir))));
  const counts = j.counts;
  await j.close();
  assert.ok(counts.confirmed + counts.sent > 0, JSON.stringify(counts));
  assert.ok(s.store.appendedMessages < 200, 'the run was not interrupted');
  const again = await runCli(cliArgs(s.port, src, dir), env, 45_000);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(tally(s.store, ids), { source: 200, onServer: 200, duplicates: 0, lost: 0 });
});

function readJournalHeader(dir: string): { account: string } {
  const h = JSON.parse(readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n', 1)[0]!) as { account: string };
  return { account: h.account };
}

test('the password appears in no argv, output, report, trace or journal, and every file written is 0600', { skip, timeout: 30_000 }, async (t) => {
  const s = await withServer(t, { users: { test: PASSWORD } });
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  writeCorpus(src, 30, 'pw');
  const args = cliArgs(s.port, src, dir, ['--quiet']);
  const { child, done } = startCli(args, env);
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!cmdline.includes(PASSWORD), 'argv');
  assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'stdout/stderr');
  for (const f of ['journal.jsonl', 'report.json', 'trace.ndjson']) {
    const p = join(dir, f);
    assert.ok(!readFileSync(p, 'utf8').includes(PASSWORD), f);
    assert.equal(statSync(p).mode & 0o777, 0o600, `${f} mode ${(statSync(p).mode & 0o777).toString(8)}`);
  }
  // The journal holds ids, mailboxes, Message-IDs, sizes and digests: no message text.
  assert.doesNotMatch(readFileSync(join(dir, 'journal.jsonl'), 'utf8'), /Nothing lost, nothing doubled/);
  // A wrong password: the error names the failure, not the password.
  const failedBefore = s.stats.failedLogins;
  const bad = await runCli(cliArgs(s.port, src, dir), { MAILMIGRATE_PASSWORD: `${PASSWORD}-wrong` });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /authenticat|login|password/i, bad.stderr);
  // Two failed logins, no more (the pool's first connection and the folder survey, dialled together; the control
  // plane and the pool's other connections only after a good login): an admin's fail2ban counts each.
  assert.ok(s.stats.failedLogins - failedBefore <= 2, `${s.stats.failedLogins - failedBefore} failed logins`);
  assert.ok(s.stats.failedLogins - failedBefore >= 1);
  // verify: one failed login (the survey's; the control plane is dialled only after a good one), and the same message.
  const verifyFailedBefore = s.stats.failedLogins;
  const badVerify = await runCli(['verify', src, '--host', '127.0.0.1', '--port', String(s.port), '--plain', '--user', 'test'], { MAILMIGRATE_PASSWORD: `${PASSWORD}-wrong` });
  assert.equal(badVerify.code, 1, badVerify.stdout + badVerify.stderr);
  assert.match(badVerify.stderr, /authenticat|login|password/i, badVerify.stderr);
  assert.ok(!(badVerify.stdout + badVerify.stderr).includes(PASSWORD), badVerify.stderr);
  assert.equal(s.stats.failedLogins - verifyFailedBefore, 1);
  // A dry run opens no pool: one failed login too (the survey's).
  const dryFailedBefore = s.stats.failedLogins;
  const badDry = await runCli([...cliArgs(s.port, src, dir), '--dry-run'], { MAILMIGRATE_PASSWORD: `${PASSWORD}-wrong` });
  assert.equal(badDry.code, 1, badDry.stdout + badDry.stderr);
  assert.match(badDry.stderr, /authenticat|login|password/i, badDry.stderr);
  assert.equal(s.stats.failedLogins - dryFailedBefore, 1);
  assert.ok(!(bad.stdout + bad.stderr).includes(PASSWORD), bad.stderr);
  for (const f of readdirSync(dir)) if (f.endsWith('.json') || f.endsWith('.ndjson')) assert.ok(!readFileSync(join(dir, f), 'utf8').includes(PASSWORD), f);
});

test('TLS is verified by default: a self-signed server fails with a message naming --ca and --insecure', { skip, timeout: 30_000 }, async (t) => {
  const s = await withServer(t, { users: { test: PASSWORD }, tls: 'self-signed' });
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  writeCorpus(src, 3, 'tls');
  const base = cliArgs(s.port, src, dir).filter((a) => a !== '--plain');
  const r = await runCli([...base, '--starttls'], env);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /--ca/);
  assert.match(r.stderr, /--insecure/);
  assert.equal(s.stats.logins, 0);
  const ok = await runCli([...base, '--starttls', '--insecure'], env);
  assert.equal(ok.code, 0, ok.stderr);
});

test('STARTTLS stripping (the server stops offering it) is refused when --starttls was asked for; no LOGIN is sent', { skip, timeout: 30_000 }, async (t) => {
  const s = await withServer(t, { users: { test: PASSWORD } }); // no TLS: STARTTLS is not in CAPABILITY
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  writeCorpus(src, 3, 'strip');
  const r = await runCli([...cliArgs(s.port, src, dir).filter((a) => a !== '--plain'), '--starttls'], env);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /STARTTLS/i);
  assert.equal(s.stats.logins + s.stats.failedLogins, 0, 'credentials went out in clear text');
});
