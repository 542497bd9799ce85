// npm test: every compiled test file, three at a time. Each file is its own process, and every integration test
// starts its own private servers on random loopback ports in its own temp dir, so files share nothing. Most of a
// file's time is spent waiting on servers and sockets: the whole suite uses ~590 CPU-s (per file, /usr/bin/time),
// while one file at a time took 10 min on two cores, so serial runs left the CPUs idle about half the time.
// MAILMIGRATE_TEST_CONCURRENCY overrides the three (1 = one file at a time).
// TAP goes to stdout; a spec report goes to a file beside it, and when a test fails its "failing tests" section
// (names, locations, assertion messages) is printed again at the very end — CI shows the tail of a long log, and a
// failure in the middle of 900 tests must not be lost in it.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const list = files('dist/test').sort();
const concurrency = Number(process.env.MAILMIGRATE_TEST_CONCURRENCY ?? 3);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`MAILMIGRATE_TEST_CONCURRENCY must be a whole number ≥ 1, got ${process.env.MAILMIGRATE_TEST_CONCURRENCY}`);
  process.exit(1);
}
const specFile = join('dist', 'test-report.spec.txt');
rmSync(specFile, { force: true });
const child = spawn(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    '--test-reporter=spec',
    `--test-reporter-destination=${specFile}`,
    ...process.argv.slice(2),
    ...list,
  ],
  { stdio: 'inherit' },
);
const forward = (sig) => () => child.kill(sig);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
child.on('exit', (code, signal) => {
  // Per real server, what ran against it (issue 16: the closing note lists pass counts per server).
  const counts = spawnSync(process.execPath, [join('scripts', 'server-counts.mjs'), specFile], { encoding: 'utf8' });
  if (counts.status === 0) process.stdout.write(`\n# ---- tests per real server (scripts/server-counts.mjs) ----\n${counts.stdout.replace(/^/gm, '# ')}\n`);
  if (code !== 0) {
    let spec = '';
    try {
      spec = readFileSync(specFile, 'utf8');
    } catch {
      /* the run died before the reporter wrote anything */
    }
    const at = spec.search(/^\S*\s*failing tests:/m);
    const plain = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');
    if (at >= 0) process.stdout.write(`\n# ---- failing tests, again (from ${specFile}) ----\n${plain(spec.slice(at))}\n`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
