// `npm run bench:reconcile` (issue 11): what "the server is the truth" costs.
//   1. first import   — the built CLI imports a generated Maildir++ source (default 200,000 small messages in two
//                       folders of 100,000) into a private Dovecot;
//   2. clean re-run   — the same command again: one STATUS per folder validates the journal, nothing is read;
//   3. reconcile      — one bulk FETCH of a 100,000-message folder into the reconciliation index (in this process);
//   4. fresh journal  — the same import with a new --journal: every message read and matched against the server.
// Prints a table and (--json FILE) JSON: wall time, client CPU, peak RSS of each step. Targets (issue 11): reconcile
// of 100k ≤ 10 s; clean re-run ≤ 10 s and ≤ 5 % of the first import.
// Options: --messages N (default 200000), --folders N (default 2), --size BYTES (default 1000), --json FILE.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeMaildir } from '../src/bench/corpus.js';
import { ControlPlane } from '../src/mailbox/control-plane.js';
import { transportIndexer } from '../src/migrate/bulk-index.js';
import { ControlAdapter } from '../src/migrate/control-adapter.js';
import { FolderIndex } from '../src/migrate/folder-index.js';
import { BIN } from '../test/cli/cli-helpers.js';
import { dovecotSkipReason, startDovecot } from '../test/helpers/dovecot.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: a whole number ≥ 1, got ${process.argv[i + 1]}`);
  return n;
}
const MESSAGES = arg('--messages', 200_000);
const FOLDERS = arg('--folders', 2);
const SIZE = arg('--size', 1000);
const jsonAt = process.argv.indexOf('--json');
const JSON_FILE = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;

interface Step {
  step: string;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  appended?: number;
  skipped?: number;
  note?: string;
}

/** Runs the CLI, sampling /proc/PID/status for VmHWM (peak RSS) and /proc/PID/stat for CPU until it exits. */
async function runStep(step: string, args: string[], env: Record<string, string>, reportPath: string): Promise<Step> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args, '--report', reportPath, '--quiet'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  let peakKb = 0;
  let cpuTicks = 0;
  const sample = (): void => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuTicks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
    } catch {
      // exited between samples
    }
  };
  const timer = setInterval(sample, 100);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${step}: exit ${code}\n${stderr}`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  return {
    step,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuTicks / 100,
    peakRssMb: peakKb / 1024,
    appended: report.appended,
    skipped: report.skipped,
  };
}

async function main(): Promise<void> {
  const skip = dovecotSkipReason();
  if (skip) {
    console.log(`bench:reconcile needs Dovecot: ${skip}`);
    process.exitCode = 1;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mm-reconcile-'));
  const d = await startDovecot({ maxUserIpConnections: 64 });
  try {
    const src = join(dir, 'Maildir');
    const per = Math.floor(MESSAGES / FOLDERS);
    const t0 = performance.now();
    for (let f = 0; f < FOLDERS; f++) {
      await writeMaildir(f === 0 ? src : join(src, `.Folder${f}`), f === FOLDERS - 1 ? MESSAGES - per * f : per, { seed: 100 + f, size: SIZE });
    }
    console.log(`source: ${MESSAGES} messages of ${SIZE} bytes in ${FOLDERS} folder(s), written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const env = { MAILMIGRATE_PASSWORD: d.password };
    const conn = ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain'];
    const journal = join(dir, 'journal.jsonl');
    const rows: Step[] = [];
    rows.push(await runStep('first import', ['import', src, ...conn, '--journal', journal], env, join(dir, 'r1.json')));
    rows.push(await runStep('clean re-run', ['import', src, ...conn, '--journal', journal], env, join(dir, 'r2.json')));

    // Reconcile one folder of `per` messages: one bulk FETCH into the index, in this process.
    const folder = FOLDERS > 1 ? 'Folder1' : 'INBOX';
    const plane = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    try {
      // The same bulk read import uses (bulk-index.ts: our transport and response reader, a connection of its own).
      const control = new ControlAdapter(plane, undefined, transportIndexer({ host: '127.0.0.1', port: d.port, tls: 'none', auth: { user: d.user, password: d.password } }));
      const rss0 = process.memoryUsage().rss;
      const cpu0 = process.cpuUsage();
      const r0 = performance.now();
      const index = new FolderIndex();
      await control.indexFolder(folder, (e) => index.add(e));
      const cpu = process.cpuUsage(cpu0);
      rows.push({
        step: `reconcile ${folder}`,
        seconds: (performance.now() - r0) / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        peakRssMb: process.memoryUsage().rss / 1048576,
        note: `${index.size} messages indexed; RSS +${((process.memoryUsage().rss - rss0) / 1048576).toFixed(0)} MB in this process`,
      });
    } finally {
      await plane.close();
    }
    rows.push(await runStep('fresh journal', ['import', src, ...conn, '--journal', join(dir, 'fresh.jsonl')], env, join(dir, 'r3.json')));

    const first = rows[0]!;
    const clean = rows[1]!;
    const w = [16, 10, 10, 10, 10, 10];
    const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
    console.log(line(['step', 'wall s', 'CPU s', 'peak RSS MB', 'appended', 'skipped']));
    for (const r of rows) {
      console.log(line([r.step, r.seconds.toFixed(2), r.cpuSeconds.toFixed(2), r.peakRssMb.toFixed(0), String(r.appended ?? ''), String(r.skipped ?? '')]));
    }
    for (const r of rows) if (r.note) console.log(`- ${r.step}: ${r.note}`);
    const ratio = clean.seconds / first.seconds;
    const reconcile = rows[2]!;
    console.log(
      `clean re-run: ${clean.seconds.toFixed(2)} s = ${(ratio * 100).toFixed(1)} % of the first import (targets ≤ 10 s, ≤ 5 %); ` +
        `reconcile of ${per} messages: ${reconcile.seconds.toFixed(2)} s (target ≤ 10 s)`,
    );
    if (JSON_FILE) writeFileSync(JSON_FILE, JSON.stringify({ messages: MESSAGES, folders: FOLDERS, size: SIZE, rows, cleanRatio: ratio }, null, 2));
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
