// Issue 13 at the CLI: the built binary, as an admin runs it. Output paths that are symbolic links (a shared /tmp)
// are refused with an error naming the option and the link's target is untouched; file and folder names full of
// terminal escape sequences are printed escaped, so they cannot clear the screen or forge a "Done" line.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from '../../src/server/server.js';
import { binarySkipReason, FIXTURES, runCli } from './cli-helpers.js';

const skip = binarySkipReason();
const PASSWORD = 'h2-output-safety-pw';

function setup(t: { after(fn: () => void): void }): { dir: string; src: string; victim: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mm-out-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  cpSync(join(FIXTURES, 'maildir'), src, { recursive: true });
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  return { dir, src, victim };
}

function assertUntouched(victim: string): void {
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(statSync(victim).mode & 0o777, 0o644);
}

for (const option of ['--report', '--trace'] as const) {
  test(`${option} pointing at a symbolic link is refused before importing, naming the option; the target is untouched`, { skip }, async (t) => {
    const { dir, src, victim } = setup(t);
    const link = join(dir, 'out');
    symlinkSync(victim, link);
    const r = await runCli(['import', src, option, link, '--quiet'], { XDG_STATE_HOME: dir });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, new RegExp(`mailmigrate: ${option}: .*out is a symbolic link; refusing to write through it`));
    assert.doesNotMatch(r.stdout, /Done:/);
    assertUntouched(victim);
  });
}

test('--journal pointing at a symbolic link is refused with a journal error; the target is untouched', { skip }, async (t) => {
  const { dir, src, victim } = setup(t);
  const server = await startServer({ users: { test: PASSWORD } });
  t.after(() => server.close());
  const link = join(dir, 'journal.jsonl');
  symlinkSync(victim, link);
  const r = await runCli(
    ['import', src, '--host', '127.0.0.1', '--port', String(server.port), '--plain', '--user', 'test', '--journal', link, '--quiet'],
    { MAILMIGRATE_PASSWORD: PASSWORD, XDG_STATE_HOME: dir },
  );
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /journal .*journal\.jsonl: cannot open: .*symbolic link; refusing to write through it/);
  assertUntouched(victim);
  assert.equal(server.stats.appended, 0);
});

test('file and folder names with terminal escape sequences are printed escaped: no raw ESC reaches stdout or stderr', { skip }, async (t) => {
  const { dir, src } = setup(t);
  // A Maildir++ subfolder whose name clears the screen, and an empty message file (so it is listed as a failure)
  // whose name moves the cursor home, erases the line and writes a fake summary.
  const evilFolder = join(src, '.\x1b[2JInbox\x1b[H');
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(evilFolder, d), { recursive: true });
  cpSync(join(src, 'new', '1700000002.M3P3.host'), join(evilFolder, 'new', '1700000100.M1P1.host'));
  writeFileSync(join(src, 'cur', '1700000200.M1P1.\x1b[H\x1b[2KDone: 0 failed\r\x9b31m:2,S'), '');
  const report = join(dir, 'report.json');
  const r = await runCli(['import', src, '--quiet', '--report', report], { XDG_STATE_HOME: dir });
  assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /[\x1b\x9b\r]/, 'raw control characters in stdout');
  assert.doesNotMatch(r.stderr, /[\x1b\x9b]/, 'raw control characters in stderr');
  // The folder name is still there, visibly escaped; the empty file is not mail (skipped, listed in the report).
  assert.match(r.stdout, /\\x1b\[2JInbox\\x1b\[H/);
  const j = JSON.parse(readFileSync(report, 'utf8'));
  assert.ok(j.skippedPaths.paths.some((x: { path: string; reason: string }) => x.path.includes('\x1b[H\x1b[2KDone') && x.reason === 'not-mail'));
});
