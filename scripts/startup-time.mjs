#!/usr/bin/env node
// Start-up of `mailmigrate import` to its first byte on the wire (docs/measurements.md "Start-up", issue 14).
// A fake IMAP listener on 127.0.0.1 sends a greeting and waits for the client's first byte; the child runs with
// MAILMIGRATE_TRACE_STARTUP=1, which prints when it first wrote to a socket (ms after its own start, and CPU ms).
// Also measured from outside: wall ms from spawn to the first byte received, and the child's CPU ms (utime+stime,
// /proc/<pid>/stat) at that moment. Prints the medians of N runs as JSON.
// Then one more run with a module.register() load hook (plus a wrapped Module._resolveFilename for CommonJS) counts
// the files loaded before the first socket is dialled and before the first byte ("modules"); for a bundled build
// (dist/bundle.meta.json, esbuild's metafile) also the source modules inside those chunks ("sources"). That run is
// not timed: the hook slows loading.
//   node scripts/startup-time.mjs [runs=7] [root=this checkout | --floor] [extra import args...]
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [runsArg = '7', rootArg = '', ...extra] = process.argv.slice(2);
// --floor instead of a checkout: the same measurement of a child that only connects and writes one line when the
// greeting arrives — what Node itself costs on this machine, below which no start-up can go.
const floor = rootArg === '--floor';
const root = (!floor && rootArg) || join(dirname(fileURLToPath(import.meta.url)), '..');
const FLOOR_CHILD = `import net from 'node:net';
const a = process.argv; const s = net.connect(Number(a[a.indexOf('--port') + 1]), '127.0.0.1');
s.once('data', () => s.write('a LOGIN u p\\r\\n'));`;
const TICKS = 100; // USER_HZ on Linux (getconf CLK_TCK)
const cpuMsOf = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return NaN; // not Linux: the child's own trace line still says
  }
};

function once(nodeArgs = []) {
  return new Promise((resolve, reject) => {
    let child;
    let t0;
    let stderr = '';
    let outside;
    const finish = () => {
      const m = /first socket write at ([\d.]+) ms after process start, ([\d.]+) ms CPU/.exec(stderr);
      if (!outside) return;
      // A build without MAILMIGRATE_TRACE_STARTUP (before it existed) is measured from outside only.
      resolve({ ...outside, selfMs: m ? Number(m[1]) : NaN, selfCpuMs: m ? Number(m[2]) : NaN });
    };
    const timer = setTimeout(() => { child?.kill('SIGKILL'); srv.close(); reject(new Error(`no byte within 30 s; stderr: ${stderr}`)); }, 30_000);
    const srv = net.createServer((s) => {
      s.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
      s.once('data', () => {
        if (outside) return;
        outside = { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: cpuMsOf(child.pid) };
        clearTimeout(timer);
        setTimeout(() => { child.kill('SIGKILL'); srv.close(); s.destroy(); }, 50); // let the trace line arrive
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      t0 = process.hrtime.bigint();
      const program = floor ? ['--input-type=module', '-e', FLOOR_CHILD, '--'] : [join(root, 'bin', 'mailmigrate.js')];
      child = spawn(process.execPath, [...nodeArgs, ...program, 'import', join(root, 'fixtures', 'maildir'), '--host', '127.0.0.1',
        '--port', String(srv.address().port), '--plain', '--user', 'u', '--quiet', ...extra], {
        env: { ...process.env, MAILMIGRATE_PASSWORD: 'p', MAILMIGRATE_TRACE_STARTUP: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('exit', () => finish());
    });
  });
}

/** Files loaded before the first byte, and the source modules in them when the build is a bundle. */
async function modulesBeforeFirstByte() {
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-startup-modules-'));
  try {
    const log = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }
`);
    writeFileSync(join(dir, 'register.mjs'), `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import net from 'node:net';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
const Module = createRequire(import.meta.url)('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...a) { const f = resolve.apply(this, a); if (f.startsWith('/')) appendFileSync(${JSON.stringify(log)}, 'file://' + f + '\\n'); return f; };
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { net.Socket.prototype.connect = connect; appendFileSync(${JSON.stringify(log)}, 'FIRST-CONNECT\\n'); return connect.apply(this, a); };
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (...a) {
  if (this !== process.stdout && this !== process.stderr) { net.Socket.prototype.write = write; appendFileSync(${JSON.stringify(log)}, 'FIRST-BYTE\\n'); }
  return write.apply(this, a);
};
`);
    await once(['--import', pathToFileURL(join(dir, 'register.mjs')).href]);
    const lines = readFileSync(log, 'utf8').split('\n');
    const metaFile = join(root, 'dist', 'bundle.meta.json');
    const meta = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')) : undefined;
    const count = (marker) => {
      const files = [...new Set(lines.slice(0, lines.indexOf(marker)).filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u)))];
      if (!meta) return { modules: files.length };
      const sources = new Set();
      for (const f of files) {
        const out = meta.outputs[relative(root, f)];
        for (const i of out ? Object.keys(out.inputs) : [f]) sources.add(i);
      }
      return { modules: files.length, sources: sources.size };
    };
    // Before the first connect: what the code orders. Before the first byte: also what loaded while the greeting
    // was on its way (a race with the server), so it can differ from run to run.
    return { beforeFirstConnect: count('FIRST-CONNECT'), beforeFirstByte: count('FIRST-BYTE') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs = [];
for (let i = 0; i < Number(runsArg); i++) runs.push(await once());
const median = (k) => { const a = runs.map((r) => r[k]).sort((x, y) => x - y); return Math.round(a[a.length >> 1] * 10) / 10; };
console.log(JSON.stringify({
  runs: runs.length, node: process.version,
  medians: { wallMs: median('wallMs'), cpuMs: median('cpuMs'), selfMs: median('selfMs'), selfCpuMs: median('selfCpuMs') },
  ...(floor ? {} : await modulesBeforeFirstByte()),
}));
