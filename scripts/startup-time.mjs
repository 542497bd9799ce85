#!/usr/bin/env node
// Start-up of `mailmigrate import` to its first byte on the wire (docs/measurements.md "Start-up", issue 14).
// A fake IMAP listener on 127.0.0.1 sends a greeting and waits for the client's first byte; the child runs with
// MAILMIGRATE_TRACE_STARTUP=1, which prints when it first wrote to a socket (ms after its own start, and CPU ms).
// Also measured from outside: wall ms from spawn to the first byte received, and the child's CPU ms (utime+stime,
// /proc/<pid>/stat) at that moment. Prints the medians of N runs as JSON.
// Then one more run, probed and not timed (test/cli/startup-probe.ts: a load hook slows loading), counts the files
// loaded before the first socket is dialled and before the first byte, their kB, the source modules inside them
// (for a bundle, from its metafile dist/bundle.meta.json) and the Node built-ins loaded by the first byte.
// GREETING_DELAY_MS=N: the listener greets N ms after accepting, as a remote server does at least one round trip
// later; the first byte then also waits for what the client loads meanwhile (the control plane, imapflow).
// NODE_EXTRA_CA_CERTS is removed from the child's environment unless KEEP_EXTRA_CA=1: Node 20 reads and parses that
// file and its own ~140 root certificates at process start, before any of our code, whether or not TLS is used —
// ~50 ms CPU on this machine, whose environment sets it; an admin's shell usually does not. The JSON says which.
//   node scripts/startup-time.mjs [runs=7] [root=this checkout | --floor] [extra import args...]
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The probe is compiled with the tests (npm run build): the start-up test uses the same one.
import { readStartupProbe, writeStartupProbe } from '../dist/test/cli/startup-probe.js';
import { clientEnvironment } from '../dist/bench/peers/clients.js';

const [runsArg = '7', rootArg = '', ...extra] = process.argv.slice(2);
// --floor instead of a checkout: the same measurement of a child that only connects and writes one line when the
// greeting arrives — what Node itself costs on this machine, below which no start-up can go.
const floor = rootArg === '--floor';
const root = (!floor && rootArg) || join(dirname(fileURLToPath(import.meta.url)), '..');
const FLOOR_CHILD = `import net from 'node:net';
const a = process.argv; const s = net.connect(Number(a[a.indexOf('--port') + 1]), '127.0.0.1');
s.once('data', () => s.write('a LOGIN u p\\r\\n'));`;
const GREETING_DELAY_MS = Number(process.env.GREETING_DELAY_MS ?? 0);
// The benchmark's one rule for it (bench/peers/clients.ts): NODE_EXTRA_CA_CERTS removed unless KEEP_EXTRA_CA=1.
const childEnv = clientEnvironment();
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
      s.on('error', () => undefined); // the child is killed once its byte arrived: a reset is expected
      const greet = () => { if (!s.destroyed) s.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n'); };
      if (GREETING_DELAY_MS > 0) setTimeout(greet, GREETING_DELAY_MS); else greet();
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
        env: { ...childEnv, MAILMIGRATE_PASSWORD: 'p', MAILMIGRATE_TRACE_STARTUP: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('exit', () => finish());
    });
  });
}

/** What was loaded before the first connect and the first byte: one probed (untimed) run, test/cli/startup-probe.ts. */
async function loadedBeforeFirstByte() {
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-startup-modules-'));
  try {
    const probe = writeStartupProbe(dir);
    await once(['--import', probe.importUrl]);
    const r = readStartupProbe(probe.log, root);
    const sum = (l) => ({ files: l.files.length, kB: Math.round(l.bytes / 1024), sources: l.sources.length });
    // Before the first connect: what the code orders. Before the first byte: also what loaded while the greeting
    // was on its way (a race with the server), so it can differ from run to run.
    return { beforeFirstConnect: sum(r.beforeFirstConnect), beforeFirstByte: sum(r.beforeFirstByte), builtinsAtFirstByte: r.builtinsAtFirstByte.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs = [];
for (let i = 0; i < Number(runsArg); i++) runs.push(await once());
const median = (k) => { const a = runs.map((r) => r[k]).sort((x, y) => x - y); return Math.round(a[a.length >> 1] * 10) / 10; };
console.log(JSON.stringify({
  runs: runs.length, node: process.version,
  nodeExtraCaCerts: childEnv.NODE_EXTRA_CA_CERTS ? 'set (KEEP_EXTRA_CA=1)' : process.env.NODE_EXTRA_CA_CERTS ? 'removed' : 'not set',
  medians: { wallMs: median('wallMs'), cpuMs: median('cpuMs'), selfMs: median('selfMs'), selfCpuMs: median('selfCpuMs') },
  ...(floor ? {} : await loadedBeforeFirstByte()),
}));
