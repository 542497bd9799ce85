// npm test: every compiled test file, one at a time (integration tests start private servers on random ports and
// the machine has two cores). TAP goes to stdout as before; a spec report goes to a file beside it, and when a test
// fails its "failing tests" section (names, locations, assertion messages) is printed again at the very end — CI
// shows the tail of a long log, and a failure in the middle of 700 tests must not be lost in it.
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
const specFile = join('dist', 'test-report.spec.txt');
rmSync(specFile, { force: true });
const child = spawn(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
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
