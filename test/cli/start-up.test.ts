import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildProgram } from '../../src/cli/program.js';
import { BIN, binarySkipReason, FIXTURES, ROOT } from './cli-helpers.js';

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
  const log = join(dir, 'loaded.txt');
  // A load hook (module.register) appends each module's URL to a file before the module runs; the main thread
  // appends a marker when it first opens a socket and another when it first writes to one. What precedes a marker
  // was loaded before it.
  writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }
`);
  writeFileSync(join(dir, 'register.mjs'), `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import net from 'node:net';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
const require = createRequire(import.meta.url);
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...a) { const f = resolve.apply(this, a); appendFileSync(${JSON.stringify(log)}, f + '\\n'); return f; };
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { net.Socket.prototype.connect = connect; appendFileSync(${JSON.stringify(log)}, 'FIRST-CONNECT\\n'); return connect.apply(this, a); };
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (...a) {
  if (this !== process.stdout && this !== process.stderr) { net.Socket.prototype.write = write; appendFileSync(${JSON.stringify(log)}, 'FIRST-BYTE\\n'); }
  return write.apply(this, a);
};
`);
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
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, BIN, 'import', join(FIXTURES, 'maildir'), '--host', '127.0.0.1', '--port', String(port), '--plain', '--user', 'u', '--quiet'],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir, MAILMIGRATE_PASSWORD: 'p' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((r) => child.on('exit', r));
  clearTimeout(timer);
  assert.ok(sawByte, 'the import reached the server');
  const lines = readFileSync(log, 'utf8').split('\n');
  assert.ok(lines.includes('FIRST-CONNECT') && lines.includes('FIRST-BYTE'), 'the markers were written');
  // The CLI is a bundle: what was loaded is the sources in the chunks loaded (esbuild's metafile, written by
  // scripts/bundle.mjs), plus any file node_modules still holds (externals).
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'bundle.meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const sourcesBefore = (marker: string) =>
    lines.slice(0, lines.indexOf(marker)).filter((u) => u !== '' && !u.startsWith('FIRST-')).flatMap((u) => {
      const path = u.startsWith('file://') ? fileURLToPath(u) : u;
      const out = meta.outputs[relative(ROOT, path)];
      return out ? Object.keys(out.inputs) : [path];
    });
  const beforeByte = sourcesBefore('FIRST-BYTE');
  assert.ok(beforeByte.includes('src/migrate/import-run.ts'), 'the hook saw the import code load');
  const unwanted = beforeByte.filter((u) =>
    /(^|\/)src\/(server|fleet)\/|(^|\/)src\/bench\/(?!profiles\.ts)|\/node_modules\/(cli-progress|bullmq|ioredis|hdr-histogram-js|mailparser|selfsigned)\//.test(u),
  );
  assert.deepEqual([...new Set(unwanted)], []);
  // The APPEND pool's first connection is dialled before imapflow (the control plane) even starts to load, so its
  // greeting and login overlap imapflow's loading. (Whether the first byte also precedes imapflow's load depends
  // on when the greeting arrives: the script measures that, this test checks the order the code guarantees.)
  const beforeConnect = sourcesBefore('FIRST-CONNECT');
  assert.ok(beforeConnect.includes('src/transport/connection.ts'), 'the transport, whose connection is dialled first');
  assert.deepEqual(beforeConnect.filter((u) => /(^|\/)src\/mailbox\/|\/node_modules\/imapflow\//.test(u)), []);
});
