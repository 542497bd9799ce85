import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { buildProgram } from '../../src/cli/program.js';
import { BIN, binarySkipReason, FIXTURES, ROOT } from './cli-helpers.js';
import { readStartupProbe, writeStartupProbe } from './startup-probe.js';

// Start-up (issue 14, docs/measurements.md "Start-up"): `mailmigrate import` loads only what an import uses before
// its first byte reaches the server. These tests check which code is loaded, not how long it takes (timing
// targets live in benchmarks: scripts/startup-time.mjs).

const ALL = ['bench', 'serve', 'import', 'verify', 'doctor', 'batch', 'worker'];
const names = (argv?: string[]) => buildProgram(argv).then((p) => p.commands.map((c) => c.name()));

test('the program built for `mailmigrate import` registers the import command alone', async () => {
  assert.deepEqual(await names(['node', 'mailmigrate', 'import', 'x']), ['import']);
});

test('help, `help <command>` and an unknown command see every command', async () => {
  assert.deepEqual(await names(), ALL);
  assert.deepEqual(await names(['node', 'mailmigrate', '--help']), ALL);
  assert.deepEqual(await names(['node', 'mailmigrate', 'help', 'import']), ALL);
  assert.deepEqual(await names(['node', 'mailmigrate', 'imprt']), ALL);
  // A name inherited from Object.prototype is not a command.
  assert.deepEqual(await names(['node', 'mailmigrate', 'constructor']), ALL);
});

test('`batch` also registers import, whose options are its CSV columns', async () => {
  assert.deepEqual(await names(['node', 'mailmigrate', 'batch', 'a.csv']), ['import', 'batch']);
});

test('`bench` comes with its scale subcommands (connections, storm, churn)', async () => {
  const program = await buildProgram(['node', 'mailmigrate', 'bench', 'churn']);
  const bench = program.commands.find((c) => c.name() === 'bench');
  assert.deepEqual(bench?.commands.map((c) => c.name()).sort(), ['churn', 'connections', 'storm']);
});

test('an import into a server dials its first APPEND connection before loading imapflow, and loads neither the embedded server, the benchmarks, the fleet code nor cli-progress before its first byte', async (t) => {
  const skip = binarySkipReason();
  if (skip) return t.skip(skip);
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-startup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const probe = writeStartupProbe(dir);
  let sawByte = false;
  const server = net.createServer((s) => {
    s.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
    s.once('data', () => {
      sawByte = true;
      s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const child = spawn(
    process.execPath,
    ['--import', probe.importUrl, BIN, 'import', join(FIXTURES, 'maildir'), '--host', '127.0.0.1', '--port', String(port), '--plain', '--user', 'u', '--quiet'],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir, MAILMIGRATE_PASSWORD: 'p' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((r) => child.on('exit', r));
  clearTimeout(timer);
  assert.ok(sawByte, 'the import reached the server');
  // The CLI is a bundle: what was loaded is the sources in the chunks loaded (esbuild's metafile, written by
  // scripts/bundle.mjs), plus any file node_modules still holds (externals).
  const loaded = readStartupProbe(probe.log, ROOT);
  const beforeByte = loaded.beforeFirstByte.sources;
  assert.ok(beforeByte.includes('src/migrate/import-run.ts'), 'the hook saw the import code load');
  const unwanted = beforeByte.filter((u) =>
    /(^|\/)src\/(server|fleet)\/|(^|\/)src\/bench\/(?!profiles\.ts)|\/node_modules\/(cli-progress|bullmq|ioredis|mailparser|selfsigned)\//.test(u),
  );
  assert.deepEqual(unwanted, []);
  // commander's node:child_process (for executable subcommands, which mailmigrate has none of) is loaded only if
  // one is ever spawned (scripts/bundle.mjs): it was the costliest Node built-in of the start-up.
  assert.ok(!loaded.builtinsAtFirstByte.includes('child_process'), loaded.builtinsAtFirstByte.join(' '));
  assert.ok(loaded.builtinsAtFirstByte.includes('net'), 'the probe lists the built-ins');
  // The APPEND pool's first connection is dialled before imapflow (the control plane) even starts to load, so its
  // greeting and login overlap imapflow's loading. (Whether the first byte also precedes imapflow's load depends
  // on when the greeting arrives: the script measures that, this test checks the order the code guarantees.)
  const beforeConnect = loaded.beforeFirstConnect.sources;
  assert.ok(beforeConnect.includes('src/transport/connection.ts'), 'the transport, whose connection is dialled first');
  // src/mailbox/folder-info.ts is the one file of the control plane's folder that needs no imapflow: the folder
  // survey, dialled beside that first connection, reads its LIST with it.
  assert.deepEqual(beforeConnect.filter((u) => /(^|\/)src\/mailbox\/(?!folder-info\.ts$)|\/node_modules\/imapflow\//.test(u)), []);
  // Those ~120 sources come in a handful of files: the import command's path is one merged file
  // (scripts/merge-chunks.mjs), not one per chunk — each file costs Node 20's ESM loader ~1.4 ms CPU (30 before).
  const files = loaded.beforeFirstConnect.files.map((f) => relative(ROOT, f));
  assert.ok(files.includes(join('dist', 'bundle', 'import-path.js')), files.join(' '));
  // bin, main.js, main-path.js (what main imports: commander, the errors, …), the import command's entry facade and
  // import-path.js (the read worker is built apart, so the sources' chunks are in it too): 5, 12 before.
  assert.ok(files.includes(join('dist', 'bundle', 'main-path.js')), files.join(' '));
  assert.ok(files.length <= 6, `${files.length} files before the first connect: ${files.join(' ')}`);
});

test('the read worker, one file of its own in the bundle, reads and fingerprints the messages of an import with --read-threads 2', async (t) => {
  const skip = binarySkipReason();
  if (skip) return t.skip(skip);
  // scripts/bundle.mjs builds src/sources/read-worker.ts apart from the split build (read-pool.ts starts it by URL);
  // on a machine with fewer than 3 cores the default is no worker, so no other CLI test would reach that file.
  // The pool reads a run's first 1000 messages on the main thread (DEFAULT_WARM_UP_MESSAGES): 1100 small ones here.
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-read-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tree = join(dir, 'mail');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(tree, sub), { recursive: true });
  for (let i = 0; i < 1100; i++) writeFileSync(join(tree, 'cur', `${1_700_000_000 + i}.M${i}P1.host:2,S`), `Message-ID: <rw${i}@x>\nSubject: ${i}\n\nbody ${i}\n`);
  const run = (threads: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'import', tree, '--read-threads', threads, '--quiet'], {
        cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir, XDG_STATE_HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
    });
  const threaded = await run('2');
  assert.equal(threaded.code, 0, threaded.out);
  assert.match(threaded.out, /Done: 1,100 appended, .*, 0 failed, 1,100 seen/);
  const inline = await run('0');
  assert.match(inline.out, /Done: 1,100 appended, .*, 0 failed, 1,100 seen/);
});
