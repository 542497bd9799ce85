#!/usr/bin/env node
// The fixed CPU cost of a whole small run (issue 14, docs/measurements.md "Start-up"): `mailmigrate import` of
// fixtures/maildir (8 messages, 4 folders) into the embedded server, first import each time, from start to exit.
// One `mailmigrate serve` (memory store, this checkout's build) serves every run; each run imports under a folder
// of its own (--folder) with a fresh journal, so every run creates its folders and appends all its messages.
// CPU: user + system seconds of the child and its threads from wait4(2) (bench/peers/rusage.py; Node cannot wait4
// a child itself). Builds given as several checkouts are run alternately (A B A B …), so a busy minute on this
// shared machine falls on all of them alike; `--floor` adds `node -e 0` as one more "build", what Node alone costs.
// A checkout may carry extra import arguments after "::" (`.::--read-threads 0`), to compare options alternately,
// and node/V8 flags after "@", space-separated, before any "::" (`.@--max-lazy`, `.@"--maglev --max-lazy"::ARGS`),
// as scripts/cpu-per-message.mjs takes them, to compare V8 flag sets on one build.
//   node scripts/run-cost.mjs [--runs 7] [--floor] [CHECKOUT[@NODEFLAGS][::ARGS]…]     (default: this checkout)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, floor: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const builds = positionals.length > 0 ? positionals : [here];
const rusage = join(here, 'bench', 'peers', 'rusage.py');
const work = mkdtempSync(join(tmpdir(), 'mailmigrate-run-cost-'));

// The server: its own process, killed by pid at the end.
const server = spawn(process.execPath, [join(here, 'bin', 'mailmigrate.js'), 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
const port = await new Promise((res, rej) => {
  let out = '';
  const timer = setTimeout(() => rej(new Error(`serve did not start: ${out}`)), 30_000);
  server.stdout.on('data', (d) => {
    out += d;
    const m = /127\.0\.0\.1:(\d+)/.exec(out);
    if (m) { clearTimeout(timer); res(Number(m[1])); }
  });
  server.on('exit', (c) => rej(new Error(`serve exited (${c}): ${out}`)));
});

let n = 0;
function once(build) {
  const file = join(work, `r${++n}.json`);
  const [checkout, args = ''] = build.split('::');
  const [dir, nodeFlags = ''] = checkout.split('@');
  const argv = build === 'floor'
    ? [process.execPath, '-e', '0']
    : [process.execPath, ...nodeFlags.split(' ').filter(Boolean), join(resolve(dir), 'bin', 'mailmigrate.js'), 'import', join(here, 'fixtures', 'maildir'), '--host', '127.0.0.1',
      '--port', String(port), '--plain', '--user', 'test', '--quiet', '--folder', `run${n}`, '--journal', join(work, `j${n}`), ...args.split(' ').filter(Boolean)];
  try {
    execFileSync('python3', [rusage, file, ...argv], { env: { ...process.env, MAILMIGRATE_PASSWORD: 'test' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    throw new Error(`run ${n} (${build}) failed: ${err.stderr ?? err.message}`);
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  return r.user + r.sys;
}

const all = opt.floor ? [...builds, 'floor'] : builds;
const cpu = new Map(all.map((b) => [b, []]));
try {
  for (let i = 0; i < Number(opt.runs); i++) for (const b of all) cpu.get(b).push(once(b));
} finally {
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(JSON.stringify({
  runs: Number(opt.runs), node: process.version,
  cpuSeconds: Object.fromEntries([...cpu].map(([b, a]) => [b, { median: Math.round(median(a) * 1000) / 1000, all: a.map((x) => Math.round(x * 1000) / 1000) }])),
}, null, 1));
