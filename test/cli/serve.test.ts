// Issue 13: `serve` off loopback has no default password, and a password is never taken from argv.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { rawClient } from '../server/raw-client.js';
import { binarySkipReason, runCli, startCli } from './cli-helpers.js';

const skip = binarySkipReason();

test('serve --host 0.0.0.0 without a password file or MAILMIGRATE_PASSWORD refuses to start and says how', { skip }, async () => {
  const r = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], {}, 15_000);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /--host: 0\.0\.0\.0 is reachable from other machines: give the password with --password-file <file> or MAILMIGRATE_PASSWORD/);
  assert.doesNotMatch(r.stdout, /IMAP on/);
});

test('serve takes the password from --password-file: that password logs in, the default "test" does not', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pw');
  writeFileSync(file, 'from-a-file-9\n', { mode: 0o600 });
  const { child, done } = startCli(['serve', '--port', '0', '--password-file', file]);
  t.after(() => child.kill('SIGTERM'));
  let stdout = '';
  child.stdout!.on('data', (d: string) => (stdout += d));
  for (let i = 0; i < 200 && !/IMAP on 127\.0\.0\.1:\d+/.test(stdout); i++) await new Promise((r) => setTimeout(r, 25));
  const m = /IMAP on 127\.0\.0\.1:(\d+)/.exec(stdout);
  assert.ok(m, `no listening line: ${stdout}`);
  assert.match(stdout, /password from --password-file/);
  assert.doesNotMatch(stdout, /from-a-file-9/);
  const c = await rawClient(Number(m[1]));
  t.after(() => c.close());
  c.send('a LOGIN test test\r\n');
  await c.waitFor(/a NO \[AUTHENTICATIONFAILED\]/);
  c.send('b LOGIN test from-a-file-9\r\n');
  await c.waitFor(/b OK /);
  child.kill('SIGTERM');
  const r = await done;
  assert.equal(r.code, 0);
});

test('serve with an unreadable --password-file names the option and the file', { skip }, async () => {
  const r = await runCli(['serve', '--port', '0', '--password-file', '/nonexistent/pw'], {}, 15_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--password-file: cannot read \/nonexistent\/pw \(ENOENT\)/);
});
