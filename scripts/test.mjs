// npm test (`node scripts/test.mjs --build --lint`): the test build (scripts/transpile.mjs and the CLI bundle, ~2 s),
// then every compiled test file, several at a time, the longest first; `npm run typecheck` (tsc --noEmit) and
// `npm run lint` run beside them from the start (--lint; either failing fails the run). Each file is its own process,
// and every integration test starts its own private servers on random loopback ports in its own temp dir, so files
// share nothing and their order is free.
//
// Why this shape (issue 13, measured on the 2-core machine, each file alone under /usr/bin/time): the files cost
// ~394 CPU-s for ~938 s of summed wall time, so most of a file's time is waiting on servers, sockets and deliberate
// quiet periods. In alphabetical order, three at a time, the 91 s kill -9 file started two thirds of the way in and
// ran on alone at the end; longest first, they overlap with the many short files instead. More files at once fill the
// waits: 3 at a time left the CPUs idle about a third of the time (see DEFAULT_CONCURRENCY).
// Measured again 2026-12-01 (quiet machine, `vmstat 2` and process accounting, `accton` + `sa`): at 6 at a time the
// CPUs are busy 99 % of the run, so the wall time is the CPU spent over two cores — ~440 CPU-s, of which the ~137 test
// processes (with tsc and ESLint) ~240, 235 CLI runs ~116 (0.49 CPU-s each), the real servers ~70; a third of it is
// system time. 8 at a time only added CPU (425 vs 365 CPU-s by /usr/bin/time, 251 vs 232 s). Without the Cyrus and
// Courier suites (their binaries absent: the tests skip) the whole `npm test` took 185 s, with them 227–244 s.
// - Order: the wall time of each file in the last complete run (dist/test-timings.json, written at the end of each
//   run), else the measured seed table below; files never timed go last, alphabetically.
// - MAILMIGRATE_TEST_CONCURRENCY overrides the default (1 = one file at a time).
// - Arguments that do not start with "--" keep only the files whose path contains one of them
//   (`node scripts/test.mjs fleet/ reliability/late`).
//
// TAP goes to stdout; a spec report goes to a file beside it, and when a test fails its "failing tests" section
// (names, locations, assertion messages) is printed again at the very end — CI shows the tail of a long log, and a
// failure in the middle of 900 tests must not be lost in it. The checks' output is printed after the tests, in full
// when one fails; a failed check fails the run.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

// Files at once. The test phase is CPU-bound on two cores once the waits are filled (~400 CPU-s), so past ~5 more
// files only add memory; 6 was the better of the two full runs measured (`MAILMIGRATE_TEST_CONCURRENCY=N npm test`,
// same code, other work loading the machine to an average of ~11): 5 at a time 575 s for the tests, 6 at a time
// 414 s. A fluid model from the per-file CPU and wall times before issue 13 (each file alone) gives 3: 318 s, 4: 248,
// 5: 212, 6: 201, 8: 197 — longest first; alphabetically 3 gives 316.
const DEFAULT_CONCURRENCY = 6;

// Wall seconds per file in a full run (6 at a time, load average ~11 from other work on the machine, issue 13): only
// the order matters, and only for the long ones; a file not listed counts as short. dist/test-timings.json, written
// by the last complete run, takes precedence.
const SEED_WALL_S = {
  'dist/test/integration/import-verify.test.js': 194,
  'dist/test/cli/rerun-dovecot.test.js': 186,
  'dist/test/cli/import-dovecot.test.js': 152,
  'dist/test/cli/realistic-trees-dovecot.test.js': 138,
  'dist/test/integration/refused-names.test.js': 121,
  'dist/test/fleet/queue-dovecot.test.js': 102,
  'dist/test/fleet/batch-dovecot.test.js': 85,
  'dist/test/scale/doctor.test.js': 72,
  'dist/test/integration/kill-rerun-courier.test.js': 68,
  'dist/test/reliability/cli-faults.test.js': 63,
  'dist/test/reliability/late-store.test.js': 61,
  'dist/test/reliability/late-answer.test.js': 49,
  'dist/test/integration/kill-rerun-cyrus-dot.test.js': 47,
  'dist/test/integration/kill-rerun-dovecot.test.js': 47,
  'dist/test/integration/kill-rerun-cyrus-slash.test.js': 43,
  'dist/test/reliability/lost-reply-dovecot.test.js': 39,
  'dist/test/reliability/dovecot-restart.test.js': 37,
  'dist/test/cli/folders-dovecot.test.js': 33,
  'dist/test/reliability/server-truth.test.js': 32,
  'dist/test/helpers/cyrus.test.js': 28,
};
const TIMINGS = join('dist', 'test-timings.json');

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function lastWalls() {
  try {
    return JSON.parse(readFileSync(TIMINGS, 'utf8'));
  } catch {
    return SEED_WALL_S; // no complete run yet (a fresh clone, CI)
  }
}

// Every process this starts (the checks, ~136 test files, the CLIs and servers they spawn) talks to loopback servers
// with certificates of its own making, never to a public one: a NODE_EXTRA_CA_CERTS from the environment (this
// machine sets one) only makes each Node start read and parse ~140 certificates — `node -e 0` 0.13 → 0.08 CPU-s here.
delete process.env['NODE_EXTRA_CA_CERTS'];

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const unknown = flags.filter((f) => f !== '--lint' && f !== '--build');
if (unknown.length) {
  console.error(`scripts/test.mjs: unknown option ${unknown.join(' ')} (known: --build, --lint; other arguments filter files by path)`);
  process.exit(1);
}
const concurrency = Number(process.env.MAILMIGRATE_TEST_CONCURRENCY ?? DEFAULT_CONCURRENCY);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`MAILMIGRATE_TEST_CONCURRENCY must be a whole number ≥ 1, got ${process.env.MAILMIGRATE_TEST_CONCURRENCY}`);
  process.exit(1);
}

/** Runs an npm script; `quiet` keeps its output for later instead of showing it as it comes. */
function npmRun(script, quiet) {
  const child = spawn('npm', ['run', '--silent', script], { stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  const job = { child, output: '', done: undefined };
  if (quiet) {
    child.stdout.setEncoding('utf8').on('data', (s) => (job.output += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (job.output += s));
  }
  job.done = new Promise((resolveDone) => {
    child.on('error', (err) => resolveDone({ code: 1, why: err.message }));
    child.on('close', (code, signal) => resolveDone({ code: code ?? 1, why: signal ? `killed by ${signal}` : `exit ${code}` }));
  });
  return job;
}

// The checks need no build (tsc --noEmit, ESLint and dpdm read src/ and test/), so they start first and run beside
// the build and the tests — typed ESLint alone is ~24 CPU-s, tsc ~14, each single-threaded: on two cores they overlap
// the tests instead of queueing before them. Their output is kept and shown after the tests, so it does not cut into
// the TAP stream.
const checks = flags.includes('--lint') ? ['typecheck', 'lint'].map((script) => ({ script, job: npmRun(script, true) })) : [];
const showChecks = async () => {
  let anyFailed = false;
  for (const { script, job } of checks) {
    const r = await job.done;
    if (r.code !== 0) process.stdout.write(`\n# ---- ${script} FAILED (npm run ${script}: ${r.why}) ----\n${job.output}\n`);
    else process.stdout.write(`\n# ${script} (npm run ${script}): passed\n`);
    anyFailed ||= r.code !== 0;
  }
  return anyFailed;
};
// The tests run the compiled dist/: the build must be complete before the first one starts. esbuild compiles each
// file without type-checking (scripts/transpile.mjs says why; the type-check is one of the checks above), then the
// CLI bundle.
if (flags.includes('--build')) {
  for (const step of ['scripts/transpile.mjs', 'scripts/bundle.mjs']) {
    const r = spawnSync(process.execPath, [step], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`scripts/test.mjs: node ${step} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}): no test was run`);
      await showChecks();
      process.exit(1);
    }
  }
}

const walls = lastWalls();
// Only files whose source is still in test/: tsc never deletes the output of a removed or renamed test file, and a
// stale copy would run twice or run what no longer exists.
const hasSource = (f) => existsSync(f.replace(/^dist[\\/]/, '').replace(/\.test\.js$/, '.test.ts'));
const list = files(join('dist', 'test'))
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort((a, b) => (walls[b] ?? 0) - (walls[a] ?? 0) || (a < b ? -1 : 1));
if (list.length === 0) {
  console.error(`scripts/test.mjs: no test file under dist/test matches ${filters.join(' ')} (run \`npm run build\` first?)`);
  await showChecks();
  process.exit(1);
}

const specFile = join('dist', 'test-report.spec.txt');
rmSync(specFile, { force: true });
const controller = new AbortController();
const forward = () => {
  controller.abort();
  for (const { job } of checks) job.child.kill('SIGTERM');
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

const startedAt = Date.now();
const byPath = new Map(list.map((f) => [resolve(f), f]));
const fileWalls = {};
let failed = false;
const stream = run({ files: list, concurrency, signal: controller.signal });
stream.on('test:fail', (data) => {
  // A failing `todo` test reports without failing the suite, as with `node --test`.
  if (!data.todo) failed = true;
});
stream.on('test:complete', (data) => {
  // The per-file test (one per process) completes with the file's path as its name.
  const file = data.nesting === 0 && data.file && byPath.get(resolve(data.file));
  if (!file || resolve(data.name) !== resolve(data.file)) return;
  fileWalls[file] = Math.round(data.details.duration_ms / 100) / 10;
  if (data.details.error) failed = true; // the process itself failed (a crash, a syntax error, a hung file)
});
const toTap = new PassThrough({ objectMode: true });
const toSpec = new PassThrough({ objectMode: true });
stream.pipe(toTap);
stream.pipe(toSpec);
const tapDone = new Promise((resolveDone) => toTap.compose(tap).pipe(process.stdout, { end: false }).on('unpipe', resolveDone));
const specOut = createWriteStream(specFile);
const specDone = new Promise((resolveDone) => specOut.on('finish', resolveDone));
toSpec.compose(new spec()).pipe(specOut);

await Promise.all([tapDone, specDone]);
const wallS = ((Date.now() - startedAt) / 1000).toFixed(1);
process.stdout.write(`\n# ${list.length} files, ${concurrency} at a time, in ${wallS} s\n`);
if (!controller.signal.aborted && filters.length === 0 && Object.keys(fileWalls).length === list.length) {
  writeFileSync(TIMINGS, `${JSON.stringify(fileWalls, null, 1)}\n`);
}

// Per real server, what ran against it (issue 16: the closing note lists pass counts per server).
const counts = spawnSync(process.execPath, [join('scripts', 'server-counts.mjs'), specFile], { encoding: 'utf8' });
if (counts.status === 0) process.stdout.write(`\n# ---- tests per real server (scripts/server-counts.mjs) ----\n${counts.stdout.replace(/^/gm, '# ')}\n`);
if (failed) {
  const spec = existsSync(specFile) ? readFileSync(specFile, 'utf8') : '';
  const at = spec.search(/^\S*\s*failing tests:/m);
  const plain = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');
  if (at >= 0) process.stdout.write(`\n# ---- failing tests, again (from ${specFile}) ----\n${plain(spec.slice(at))}\n`);
}
const checksFailed = await showChecks();
process.exit(failed || checksFailed || controller.signal.aborted ? 1 : 0);
