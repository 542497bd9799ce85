// The built binary against the embedded server (no --host): needs no Dovecot.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { binarySkipReason, FIXTURES, runCli } from './cli-helpers.js';

const skip = binarySkipReason();

function tempCopy(t: { after(fn: () => void): void }, fixture: string): { dir: string; src: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mm-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  cpSync(join(FIXTURES, fixture), src, { recursive: true });
  return { dir, src };
}

test('without a host the import goes to the embedded server, says so first, and writes a 0600 report and trace', { skip }, async (t) => {
  const { dir, src } = tempCopy(t, 'maildir');
  const report = join(dir, 'report.json');
  const trace = join(dir, 'trace.ndjson');
  const r = await runCli(['import', src, '--report', report, '--trace', trace, '--quiet', '--verbose'], { XDG_STATE_HOME: dir });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout.split('\n')[0]!, /embedded server/);
  assert.match(r.stdout, /Done: 7 appended, 0 already imported \(journal\), 0 already on the server \(checked\), 1 deleted in the source/);
  assert.match(r.stdout, /Work\/Projects\s+→\s+Work\/Projects \(created\)\s+1\s+1\s/);
  assert.match(r.stdout, /APPEND\s+\d+/);
  const j = JSON.parse(readFileSync(report, 'utf8'));
  for (const k of ['total', 'appended', 'skipped', 'failed', 'bytes', 'elapsedMs', 'msgsPerSec', 'settings', 'diagnosis', 'failures']) assert.ok(k in j, k);
  assert.equal(j.total, 8);
  assert.equal(j.appended, 7);
  assert.equal(j.failed, 0);
  assert.deepEqual(j.failures, []);
  for (const k of ['count', 'p50', 'p90', 'p99', 'max']) assert.equal(typeof j.latency.APPEND[k], 'number', k);
  assert.equal(j.settings.noDelay, true);
  assert.equal(j.settings.batch, 200);
  assert.equal(j.settings.connections, 2);
  assert.equal(statSync(report).mode & 0o777, 0o600);
  assert.equal(statSync(trace).mode & 0o777, 0o600);
  const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.verb === 'APPEND' && typeof l.phases.recvWaitMs === 'number'));
  assert.ok(!readFileSync(trace, 'utf8').includes('"test"'), 'the trace carries no credential');
});

test('bad source messages are listed with their reason, the rest arrive, and the exit code is 2', { skip }, async (t) => {
  const { dir, src } = tempCopy(t, 'bad/maildir');
  const report = join(dir, 'report.json');
  const r = await runCli(['import', src, '--report', report, '--quiet']);
  assert.equal(r.code, 2, r.stderr + r.stdout);
  const j = JSON.parse(readFileSync(report, 'utf8'));
  // Since issue 12 the zero-byte file is skipped (not mail) and the two invalid Maildir++ names are repaired, so
  // their messages arrive.
  assert.equal(j.appended, 5);
  assert.equal(j.failed, j.failures.length);
  const codes = j.failures.map((f: { code: string }) => f.code).sort();
  assert.deepEqual(codes, ['E_SOURCE_FOLDER_COLLISION', 'E_SOURCE_NOT_MESSAGE', 'E_SOURCE_NOT_MESSAGE']);
  assert.match(r.stdout, /Failed \(3\):/);
});

test('--dry-run prints the folder plan and sends nothing', { skip }, async (t) => {
  const { src } = tempCopy(t, 'maildir');
  const r = await runCli(['import', src, '--dry-run', '--folder', 'Imported']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Work\/Projects\s+→\s+Imported\/Work\/Projects \(would create\)\s+1\s+1\s/);
  assert.match(r.stdout, /Dry run: 7 would be appended .*1 deleted in the source.* nothing was sent/);
  assert.doesNotMatch(r.stdout, /\d appended/);
});

test('bad options exit 1 with the option named, and there is no --password flag', { skip }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['import', '.', '--connections', '0'], /--connections: must be a whole number/],
    [['import', '.', '--literal', 'fast'], /Allowed choices are auto, sync, plus, minus/],
    [['import', '.', '--tls', '--plain', '--host', 'x'], /cannot be used with/],
    [['import', '.', '--password', 'x'], /unknown option '--password'/],
    [['import', '.', '--host', '127.0.0.1', '--user', 'u'], /no password: set MAILMIGRATE_PASSWORD/],
    [['import', '/nonexistent/mail', '--quiet'], /no such file or directory/],
    [['verify', '.'], /--host: verify needs a server/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});

test('a run that fails before it starts still writes its --report with the error; import --help ends with examples', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-early-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const report = join(dir, 'report.json');
  const r = await runCli(['import', join(dir, 'no-such-source'), '--report', report]);
  assert.equal(r.code, 1, r.stderr);
  const j = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(j.exitCode, 1);
  assert.equal(j.error.code, 'E_SOURCE_NOT_FOUND');
  assert.match(j.error.message, /no-such-source/);
  const help = await runCli(['import', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:\n[\s\S]*--dry-run[\s\S]*--recheck[\s\S]*mailmigrate import \.\/fixtures\/maildir\s*$/);
});

test('the same source given twice (another spelling) or one inside another is refused before anything is sent, exit 1', { skip }, async (t) => {
  const { dir, src } = tempCopy(t, 'maildir');
  const report = join(dir, 'report.json');
  // Before the check, `import fixtures/maildir fixtures/maildir/` appended 14 messages for 7.
  const twice = await runCli(['import', src, `${src}/`, '--report', report]);
  assert.equal(twice.code, 1, twice.stdout + twice.stderr);
  assert.match(twice.stderr, /same file or directory as source .*imported twice.*E_SOURCE_OVERLAP/);
  assert.doesNotMatch(twice.stdout, /appended/);
  assert.equal(JSON.parse(readFileSync(report, 'utf8')).error.code, 'E_SOURCE_OVERLAP');
  const inside = await runCli(['import', src, join(src, '.Work')]);
  assert.equal(inside.code, 1);
  assert.match(inside.stderr, /lies inside source/);
  const verify = await runCli(['verify', src, src, '--host', '127.0.0.1', '--port', '1', '--plain', '--user', 'x'], { MAILMIGRATE_PASSWORD: 'x' });
  assert.equal(verify.code, 1);
  assert.match(verify.stderr, /E_SOURCE_OVERLAP/, 'verify refuses before it connects');
});
