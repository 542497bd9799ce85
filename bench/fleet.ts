// `npm run bench:fleet` (issue 15): how fast a fleet moves on this machine, against a private Dovecot.
//   - `batch --parallel 1, 4, 16` in one process (one machine, no Redis);
//   - `batch --queue` drained by 1, 2 and 4 local `mailmigrate worker` processes (BullMQ on a private Redis).
// Same accounts each time (fresh users per run, so every run appends everything). The connections to Dovecot are
// sampled from /proc/net/tcp during each run and must stay under the cap. Prints a table and writes
// bench/results/fleet.json. Knobs: FLEET_ACCOUNTS (default 16), FLEET_MESSAGES per account (20), FLEET_CAP (16).
//
// What it measures is mostly process start-up: each account is a child `mailmigrate import` (isolation, see
// src/fleet/account-runner.ts), so on a small machine accounts/minute is bound by CPU, not by the server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseQueueUrl, queueStatus } from '../src/fleet/queue.js';
import { runCli, startCli } from '../test/cli/cli-helpers.js';
import { dovecotSkipReason, startDovecot } from '../test/helpers/dovecot.js';
import { redisSkipReason, startRedis } from '../test/helpers/redis.js';
import { csv, sampleConnections, writeSource } from '../test/fleet/fleet-fixtures.js';

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};
const ACCOUNTS = num('FLEET_ACCOUNTS', 16);
const MESSAGES = num('FLEET_MESSAGES', 20);
const CAP = num('FLEET_CAP', 16);
const say = (s: string): void => void process.stdout.write(`${s}\n`);

const skip = dovecotSkipReason() ?? redisSkipReason();
if (skip) {
  say(`bench:fleet skipped: ${skip}`);
  process.exit(0);
}

interface Row {
  mode: string;
  accounts: number;
  messages: number;
  seconds: number;
  accountsPerMinute: number;
  msgsPerSec: number;
  maxConnections: number;
  cap: number;
  capHonoured: boolean;
}

const runs: Array<{ mode: 'batch' | 'queue'; n: number }> = [
  { mode: 'batch', n: 1 }, { mode: 'batch', n: 4 }, { mode: 'batch', n: 16 },
  { mode: 'queue', n: 1 }, { mode: 'queue', n: 2 }, { mode: 'queue', n: 4 },
];
const userOf = (run: number, i: number): string => `r${run}u${String(i).padStart(3, '0')}`;
const passwords: Record<string, string> = {};
for (let r = 0; r < runs.length; r++) for (let i = 0; i < ACCOUNTS; i++) passwords[userOf(r, i)] = `pw-${r}-${i}`;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'mm-bench-fleet-'));
const d = await startDovecot({ extraUsers: passwords, maxUserIpConnections: 64 });
const redis = await startRedis();
const rows: Row[] = [];
try {
  // Sources are the same for every run: written once.
  const sources = Array.from({ length: ACCOUNTS }, (_, i) => writeSource(work, `acct${i}`, i % 2 ? 'mbox' : 'maildir', MESSAGES));
  const env: Record<string, string> = {};
  for (const [u, p] of Object.entries(passwords)) env[`PW_${u.toUpperCase()}`] = p;
  for (const [r, run] of runs.entries()) {
    const file = join(work, `run${r}.csv`);
    writeFileSync(file, csv([['source', 'user', 'password_env'], ...sources.map((s, i) => [s, userOf(r, i), `PW_${userOf(r, i).toUpperCase()}`])]));
    const common = ['--host', '127.0.0.1', '--port', String(d.port), '--max-connections-per-host', String(CAP), '--connections', '1'];
    const sampler = sampleConnections(d.port, 25);
    const t0 = performance.now();
    if (run.mode === 'batch') {
      const res = await runCli(['batch', file, ...common, '--parallel', String(run.n), '--state-dir', join(work, `state${r}`), '--json'], env, 3_600_000);
      if (res.code !== 0) throw new Error(`batch --parallel ${run.n} exited ${res.code}: ${res.stderr}`);
    } else {
      const url = `${redis.url}/${r}`; // one Redis database per run: nothing left over from the previous one
      const enq = await runCli(['batch', file, ...common, '--queue', url], env, 120_000);
      if (enq.code !== 0) throw new Error(`enqueue exited ${enq.code}: ${enq.stderr}`);
      const workers = Array.from({ length: run.n }, () => startCli(['worker', '--queue', url, '--concurrency', '16', '--state-dir', join(work, `state${r}`)], env));
      const target = parseQueueUrl(url, {});
      for (;;) {
        const s = await queueStatus(target);
        if (s.accounts.complete + s.accounts.failed === ACCOUNTS) {
          if (s.accounts.failed) throw new Error(`${s.accounts.failed} account(s) failed with ${run.n} worker(s)`);
          break;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.done));
    }
    const seconds = (performance.now() - t0) / 1000;
    const seen = sampler.stop();
    const row: Row = {
      mode: run.mode === 'batch' ? `batch --parallel ${run.n}` : `queue, ${run.n} worker(s)`,
      accounts: ACCOUNTS, messages: ACCOUNTS * MESSAGES, seconds: Math.round(seconds * 10) / 10,
      accountsPerMinute: Math.round((ACCOUNTS * 60 * 10) / seconds) / 10,
      msgsPerSec: Math.round((ACCOUNTS * MESSAGES * 10) / seconds) / 10,
      maxConnections: seen.max, cap: CAP, capHonoured: seen.max <= CAP,
    };
    rows.push(row);
    say(`${row.mode}: ${row.seconds} s, ${row.accountsPerMinute} accounts/min, ${row.msgsPerSec} msg/s, at most ${row.maxConnections} connections (cap ${CAP})`);
  }
} finally {
  await redis.stop();
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}

say(`\n${ACCOUNTS} accounts × ${MESSAGES} messages, Dovecot ${d.version}, ${cpus().length} CPU(s); the queue runs include enqueueing and worker start`);
say('mode                     seconds  accounts/min  msg/s  max conns  cap held');
for (const r of rows) {
  say(`${r.mode.padEnd(24)} ${String(r.seconds).padStart(7)}  ${String(r.accountsPerMinute).padStart(12)}  ${String(r.msgsPerSec).padStart(5)}  ${String(r.maxConnections).padStart(9)}  ${r.capHonoured ? 'yes' : 'NO'}`);
}
const out = join(root, 'bench', 'results', 'fleet.json');
mkdirSync(dirname(out), { recursive: true });
const result = { date: new Date().toISOString(), cpus: cpus().length, dovecot: d.version, accounts: ACCOUNTS, messagesPerAccount: MESSAGES, cap: CAP, rows };
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
say(JSON.stringify(result));
if (rows.some((r) => !r.capHonoured)) process.exitCode = 1;
