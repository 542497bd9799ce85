// The account runner against a stand-in `mailmigrate` binary (a small script that behaves like the import's
// outcomes: complete, login refused, partial, hung, crashed), so the mechanics — argv, environment, report and log
// reading, interruption, the guard that dies with its parent — are tested without a server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { AccountSpec } from '../../src/fleet/account.js';
import { accountFiles, runAccount, type RunAccountOptions } from '../../src/fleet/account-runner.js';
import { isTransient } from '../../src/fleet/failure-class.js';
import { LEAN_HEAP } from '../../src/core/settings.js';

const FAKE_BIN = `
import { writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const mode = process.env.FAKE_MODE;
if (mode === 'hang') process.on('SIGINT', () => { writeFileSync(process.env.FAKE_OUT + '.sigint', 'yes'); process.exit(130); });
const opt = (name) => { const a = args.find((x) => x.startsWith('--' + name + '=')); return a && a.slice(name.length + 3); };
writeFileSync(process.env.FAKE_OUT, JSON.stringify({ args, password: process.env.MAILMIGRATE_PASSWORD ?? null,
  host: process.env.MAILMIGRATE_HOST ?? null, secretVar: process.env.PW_ALICE ?? null, pid: process.pid, execArgv: process.execArgv, arenas: process.env.MALLOC_ARENA_MAX ?? null }));
const report = (o) => writeFileSync(opt('report'), JSON.stringify({ total: 3, appended: 3, skipped: 0, failed: 0, bytes: 300, failures: [], ...o }));
if (mode === 'ok') { report({}); process.exit(0); }
if (mode === 'auth') { process.stderr.write('mailmigrate: login refused by h:143: Authentication failed. (E_AUTH)\\n'); process.exit(1); }
if (mode === 'refused') { process.stderr.write('mailmigrate: connection to h:143 refused (E_CONNREFUSED)\\n'); process.exit(1); }
if (mode === 'partial') { report({ appended: 2, failed: 1, failures: [{ source: '/m/1', code: 'E_TOO_BIG', reason: 'too big' }] }); process.exit(2); }
if (mode === 'crash') process.exit(1);
if (mode === 'hang') setInterval(() => {}, 1000);
`;

describe('running one account as a child process', () => {
  let dir: string;
  let bin: string;
  let out: string;
  const account = (over: Partial<AccountSpec> = {}): AccountSpec => ({
    id: 'alice@mail.example.com:143', line: 2, source: '/src/alice', user: 'alice', host: 'mail.example.com', port: undefined, security: undefined,
    passwordFile: undefined, passwordEnv: 'PW_ALICE', oauthTokenFile: undefined, importArgs: ['--folder=Old'], connections: 2, ...over,
  });
  const opts = (mode: string, over: Partial<RunAccountOptions> = {}): RunAccountOptions => ({
    bin, stateDir: join(dir, 'state'), connections: 2, timeoutMs: 60_000,
    env: { PATH: process.env.PATH, FAKE_MODE: mode, FAKE_OUT: out, PW_ALICE: 's3cret', MAILMIGRATE_PASSWORD: 'fleet-wide', MAILMIGRATE_HOST: 'elsewhere' },
    ...over,
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mm-runner-'));
    bin = join(dir, 'fake-mailmigrate.mjs');
    out = join(dir, 'fake-out.json');
    writeFileSync(bin, FAKE_BIN);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a complete import is read from its report; argv carries no secret and the password reaches only the child env', async () => {
    const o = await runAccount(account(), opts('ok'));
    assert.equal(o.status, 'complete');
    assert.equal(o.appended, 3);
    assert.equal(o.exitCode, 0);
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(seen.password, 's3cret', 'MAILMIGRATE_PASSWORD comes from the row\'s password_env');
    assert.equal(seen.host, null, 'the fleet\'s own MAILMIGRATE_HOST does not leak into an account');
    assert.equal(seen.secretVar, null, 'the variable holding the password is not passed on under its own name');
    assert.ok(!seen.args.join(' ').includes('s3cret'));
    const f = accountFiles(join(dir, 'state'), account().id);
    assert.deepEqual(seen.args.slice(0, 4), ['import', '/src/alice', '--host=mail.example.com', '--user=alice']);
    assert.ok(seen.args.includes(`--journal=${f.journal}`) && seen.args.includes(`--report=${f.report}`) && seen.args.includes('--quiet'));
    assert.ok(seen.args.includes('--connections=2') && seen.args.includes('--read-threads=0') && seen.args.includes('--folder=Old'));
    assert.match(readFileSync(f.log, 'utf8'), /^=== .* mailmigrate import \/src\/alice /);
  });

  test('--lean-heap: the import runs under node with the lean flags and two malloc arenas, and its log line says how to re-run it so', async () => {
    const plain = await runAccount(account(), opts('ok'));
    assert.equal(plain.status, 'complete');
    const seenPlain = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(seenPlain.execArgv.filter((f: string) => LEAN_HEAP.nodeFlags.includes(f)), [], 'no flag by default');
    assert.equal(seenPlain.arenas, null, 'no variable by default');
    const lean = await runAccount(account(), opts('ok', { heap: LEAN_HEAP }));
    assert.equal(lean.status, 'complete');
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    for (const f of LEAN_HEAP.nodeFlags) assert.ok(seen.execArgv.includes(f), `${f} on the import's node command line`);
    assert.equal(seen.arenas, '2');
    assert.equal(seen.args[0], 'import', 'the flags go to node, not to mailmigrate');
    const log = (): string => readFileSync(accountFiles(join(dir, 'state'), account().id).log, 'utf8');
    assert.match(log(), /=== \S+ MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=100 \$\(command -v mailmigrate\) import \/src\/alice /);
    // The machine's own MALLOC_ARENA_MAX wins, and the log line does not claim another.
    const own = opts('ok', { heap: LEAN_HEAP });
    await runAccount(account(), { ...own, env: { ...own.env, MALLOC_ARENA_MAX: '4' } });
    assert.equal(JSON.parse(readFileSync(out, 'utf8')).arenas, '4');
    assert.match(log().trimEnd().split('\n').filter((l) => l.startsWith('=== ')).at(-1)!, /^=== \S+ node --max-semi-space-size=2 /);
  });

  test('a refused login is a permanent failure with the code and message the import printed', async () => {
    const o = await runAccount(account(), opts('auth'));
    assert.equal(o.status, 'failed');
    assert.deepEqual(o.error, { code: 'E_AUTH', message: 'login refused by h:143: Authentication failed.', transient: false });
  });

  test('a refused connection is transient: worth a retry after a pause', async () => {
    const o = await runAccount(account(), opts('refused'));
    assert.equal(o.error?.code, 'E_CONNREFUSED');
    assert.equal(o.error?.transient, true);
  });

  test('some messages failed (exit 2): the account failed with the first reason and the counts of its report', async () => {
    const o = await runAccount(account(), opts('partial'));
    assert.equal(o.status, 'failed');
    assert.equal(o.appended, 2);
    assert.equal(o.failed, 1);
    assert.equal(o.error?.code, 'E_TOO_BIG');
    assert.match(o.error!.message, /1 message\(s\) failed \(first: E_TOO_BIG too big\)/);
    assert.equal(o.error?.transient, false);
  });

  test('a report left by an earlier attempt is not mistaken for the result of a crash', async () => {
    await runAccount(account(), opts('ok'));
    const o = await runAccount(account(), opts('crash'));
    assert.equal(o.status, 'failed');
    assert.equal(o.error?.code, 'E_NO_REPORT');
    assert.equal(o.appended, 0);
  });

  test('a password_env that is not set on this machine fails the account without starting anything', async () => {
    const o = await runAccount(account({ passwordEnv: 'PW_NOBODY' }), opts('ok'));
    assert.equal(o.error?.code, 'E_CONFIG');
    assert.match(o.error!.message, /PW_NOBODY is not set on this machine/);
  });

  test('aborting interrupts the import with SIGINT (so it flushes its journal) and the account is transient', async () => {
    rmSync(`${out}.sigint`, { force: true });
    rmSync(out, { force: true });
    const ac = new AbortController();
    const running = runAccount(account(), opts('hang', { signal: ac.signal }));
    // Interrupt once the stand-in runs (it writes its record after installing its SIGINT handler).
    for (let i = 0; i < 400 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 25));
    ac.abort();
    const o = await running;
    assert.equal(o.error?.code, 'E_INTERRUPTED');
    assert.equal(o.error?.transient, true);
    assert.ok(existsSync(`${out}.sigint`), 'the import received SIGINT');
  });

  test('when the process that runs accounts is killed with SIGKILL, its import does not live on', async () => {
    rmSync(out, { force: true });
    const runnerUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'fleet', 'account-runner.js')).href;
    const script = join(dir, 'parent.mjs');
    writeFileSync(
      script,
      `import { runAccount } from ${JSON.stringify(runnerUrl)};\n` +
        `await runAccount(${JSON.stringify(account())}, { bin: ${JSON.stringify(bin)}, stateDir: ${JSON.stringify(join(dir, 'state2'))}, connections: 1, timeoutMs: 600000, env: { PATH: process.env.PATH, FAKE_MODE: 'hang', FAKE_OUT: ${JSON.stringify(out)}, PW_ALICE: 'x' } });\n`,
    );
    const parent = spawn(process.execPath, [script], { stdio: 'ignore' });
    let childPid: number | undefined;
    for (let i = 0; i < 300 && childPid === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        childPid = JSON.parse(readFileSync(out, 'utf8')).pid;
      } catch {
        /* not yet */
      }
    }
    assert.ok(childPid, 'the import started');
    parent.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        process.kill(childPid!, 0);
      } catch {
        alive = false;
      }
    }
    if (alive) process.kill(childPid!, 'SIGKILL');
    assert.equal(alive, false, 'the orphaned import was stopped by its guard within 5 s');
  });
});

test('login, quota, source and option errors are permanent; connection and throttling errors are transient', () => {
  for (const c of ['E_AUTH', 'E_OVERQUOTA', 'E_SOURCE_NOT_FOUND', 'E_CONFIG', 'E_TLS_VERIFY', 'E_JOURNAL']) assert.equal(isTransient(c), false, c);
  for (const c of ['E_CONNREFUSED', 'E_REFUSED_BY_SERVER', 'E_NO_CONNECTION', 'E_CLOSED', 'E_TIMEOUT', 'E_INTERRUPTED']) assert.equal(isTransient(c), true, c);
});
