// npm run bench:memory (issue 14): the client's memory while it imports a million small messages, and the time of a
// clean re-run over them. Targets (issue 14): peak RSS ≤ 120 MB and flat (≤ 10 % growth between 10 % and 100 % of the
// messages); clean re-run over 1M ≤ 30 s.
//
//   node dist/bench/memory.js [--messages 1000000] [--folders 4] [--size 1000] [--target dovecot|embedded]
//                             [--tmp DIR] [--interval-ms 1000] [--out FILE] [--node-flags "--optimize-for-size"]
//                             [--env "MALLOC_ARENA_MAX=2"] [--attribute]
//
// 1. writes a Maildir++ tree of N messages of --size bytes (the seeded corpus of src/bench/corpus.ts) split over
//    --folders folders (INBOX and .Folder1 …), on /dev/shm when it is a tmpfs with room, else under --tmp;
// 2. imports it with the built CLI (defaults, --quiet, a journal on the disk's temp dir — its fsyncs are the
//    client's cost) into a private Dovecot whose Maildir is on the same tmpfs, or with --target embedded into
//    `mailmigrate serve --maildir` (a separate process: the client's RSS is measured alone either way);
// 3. every --interval-ms samples the CLI process: VmRSS and VmHWM (/proc/PID/status; the read workers are threads of
//    the same process, so they are included), its CPU (/proc/PID/stat utime+stime) and the size of its journal.
//    Progress is the journal's size over its final size (one record per message, of near-constant length), not a
//    STATUS poll, so the measurement adds no work to the server (a STATUS of a Maildir folder being appended to
//    costs Dovecot a directory scan);
// 4. checks the server holds exactly N messages, then runs the same command again (the clean re-run: every
//    message confirmed by the journal) and times it;
// 5. imports one message (into a folder of its own, with a journal of its own) to measure the floor: what the
//    client's RSS is before any per-message state (the node binary's pages, V8's heap at start, the read workers);
// 6. prints a table and writes JSON (every sample, at most 600 of them kept evenly) to bench/results/.
// Before anything is written it checks free space (statfs) and, on a tmpfs, free memory: each file takes at least
// one 4 KiB page there, twice (source and server copy).
import { isTmpfs } from './peers/machine.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ImapFlow } from 'imapflow';
import { writeMaildir } from '../src/bench/corpus.js';
import { dovecotSkipReason, startDovecot } from '../test/helpers/dovecot.js';
import { bytesNeeded, growth, type Sample, thin } from './memory/rss-growth.js';
import { mailmigrateCli, REPO_ROOT } from './peers/clients.js';
import { type Account, startEmbedded } from './memory/embedded-server.js';
import { roomFor } from './memory/room.js';
import { moments, parseSamples, type RssSample, table, tenthsTable } from './memory/rss-attribution.js';
import { parseVariant } from './memory/variant.js';

const { values: opt } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    folders: { type: 'string', default: '4' },
    size: { type: 'string', default: '1000' },
    target: { type: 'string', default: 'dovecot' },
    tmp: { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
    out: { type: 'string' },
    // Node/V8 flags for the imported CLI only (not the server), e.g. "--optimize-for-size": measures what a flag
    // trades (peak RSS against client CPU) without changing the CLI.
    'node-flags': { type: 'string', default: '' },
    // Environment for the imported CLI only, "K=V K=V" (e.g. glibc's MALLOC_ARENA_MAX=2): the fourth pass's test of
    // where the RSS is.
    env: { type: 'string', default: '' },
    // Preload bench/memory/rss-sampler.js into the import and the re-run: where the RSS is, by part, every
    // --interval-ms (the table printed at the end; every sample in the JSON).
    attribute: { type: 'boolean', default: false },
  },
});
const nodeFlags = opt['node-flags']!.split(' ').filter(Boolean);
const childEnv = parseVariant(`env; env=${opt.env}`).env;
const samplerModule = join(REPO_ROOT, 'dist', 'bench', 'memory', 'rss-sampler.js');

const log = (s: string): void => void process.stderr.write(s + '\n');

function whole(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name}: a whole number ≥ ${min}, got "${text}"`);
  return n;
}

function procSample(pid: number): { rssKb: number; hwmKb: number; cpuTicks: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      rssKb: Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0),
      hwmKb: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0),
      cpuTicks: Number(f[11]) + Number(f[12]), // utime + stime, fields 14 and 15 (all threads)
    };
  } catch {
    return undefined; // exited between samples
  }
}

async function connectImap(a: Account): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: a.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: a.user, pass: a.password },
    logger: false,
    emitLogs: false,
    disableAutoIdle: true,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Messages in every folder of the account (STATUS MESSAGES each). */
async function serverCount(c: ImapFlow): Promise<number> {
  let n = 0;
  for (const box of await c.list()) {
    if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
    const st = await c.status(box.path, { messages: true });
    if (!st) throw new Error(`STATUS ${box.path} failed`);
    n += st.messages ?? 0;
  }
  return n;
}

interface Step {
  step: string;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  appended: number | undefined;
  skipped: number | undefined;
  samples: Sample[];
  attribution?: RssSample[];
}

let current: ReturnType<typeof spawn> | undefined;
let interrupted = false;
// Ctrl-C / SIGTERM: stop the CLI (it ends its batches cleanly), then the finally blocks stop the server and remove
// the generated tree — a million files left on a tmpfs would hold gigabytes of memory.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = true;
    current?.kill('SIGTERM');
  });
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function runImport(step: string, cli: string, args: string[], a: Account, reportPath: string, intervalMs: number, expected: number, journal: string): Promise<Step> {
  if (interrupted) throw new Error('interrupted');
  const t0 = performance.now();
  const samplesPath = `${reportPath}.rss.jsonl`;
  const pre = opt.attribute ? ['--import', samplerModule] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...pre, cli, ...args, '--report', reportPath, '--quiet'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      MAILMIGRATE_PASSWORD: a.password,
      ...(opt.attribute ? { MM_RSS_OUT: samplesPath, MM_RSS_JOURNAL: journal, MM_RSS_INTERVAL: String(intervalMs) } : {}),
      ...childEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  current = child;
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8000)));
  const journalAtStart = fileSize(journal);
  const journalBytes: number[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const samples: Sample[] = [];
  let last = { rssKb: 0, hwmKb: 0, cpuTicks: 0 };
  let running = true;
  void exited.then(() => (running = false));
  const sampler = (async (): Promise<void> => {
    while (running) {
      const p = procSample(child.pid!);
      // An exited child not yet reaped (a zombie) has no VmRSS: not a sample of 0 MB, but its CPU time is final.
      if (p) last = { rssKb: p.rssKb || last.rssKb, hwmKb: p.hwmKb || last.hwmKb, cpuTicks: p.cpuTicks };
      if (p && p.rssKb > 0) {
        const sample = { t: (performance.now() - t0) / 1000, rssMb: p.rssKb / 1024, hwmMb: p.hwmKb / 1024, cpuSeconds: p.cpuTicks / 100, done: -1 };
        samples.push(sample);
        journalBytes.push(fileSize(journal) - journalAtStart);
        // A line a minute: a long run that is stopped still leaves its curve in the log.
        if (samples.length % Math.max(1, Math.round(60_000 / intervalMs)) === 0) {
          log(`  ${step} ${sample.t.toFixed(0)} s: journal ${(journalBytes[journalBytes.length - 1]! / 1e6).toFixed(1)} MB, RSS ${sample.rssMb.toFixed(0)} MB (peak ${sample.hwmMb.toFixed(0)}), CPU ${sample.cpuSeconds.toFixed(1)} s`);
        }
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, intervalMs))]);
    }
  })();
  const code = await exited;
  await sampler;
  current = undefined;
  // Messages done at each sample: the journal's growth over its growth by the end of the run.
  const total = fileSize(journal) - journalAtStart;
  if (total > 0) samples.forEach((s, i) => (s.done = Math.round((journalBytes[i]! / total) * expected)));
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${step}: exit ${code}\n${stderr}`);
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as { appended?: number; skipped?: number };
  let attribution: RssSample[] | undefined;
  if (opt.attribute) {
    attribution = parseSamples(await readFile(samplesPath, 'utf8'));
    log(`\n  where ${step}'s RSS was (rss-sampler):\n${table(moments(attribution, expected))}`);
    if (step === 'import') log(`  by tenths of the messages:\n${tenthsTable(attribution, expected)}`);
  }
  if (step === 'import' && report.appended !== expected) throw new Error(`${step}: appended ${report.appended}, expected ${expected}`);
  return {
    step,
    seconds,
    cpuSeconds: last.cpuTicks / 100,
    peakRssMb: Math.max(last.hwmKb, ...samples.map((s) => s.hwmMb * 1024)) / 1024,
    appended: report.appended,
    skipped: report.skipped,
    samples,
    ...(attribution ? { attribution } : {}),
  };
}

async function main(): Promise<void> {
  const messages = whole('messages', opt.messages!, 10);
  const folders = whole('folders', opt.folders!, 1);
  const size = whole('size', opt.size!, 600);
  const intervalMs = whole('interval-ms', opt['interval-ms']!, 100);
  const target = opt.target;
  if (target !== 'dovecot' && target !== 'embedded') throw new Error(`--target wants dovecot or embedded, got "${target}"`);
  if (target === 'dovecot') {
    const skip = dovecotSkipReason();
    if (skip) {
      log(`bench:memory needs a private Dovecot (or --target embedded): ${skip}`);
      process.exitCode = 2;
      return;
    }
  }
  const cli = mailmigrateCli();
  if (!cli) throw new Error('bench:memory needs the built CLI: npm run build');

  const need = bytesNeeded(messages, size);
  let mailTmp = opt.tmp;
  if (!mailTmp) mailTmp = isTmpfs('/dev/shm') && !(await roomFor('/dev/shm', need)) ? '/dev/shm' : tmpdir();
  const noRoom = await roomFor(mailTmp, need);
  if (noRoom) throw new Error(`not enough room: ${noRoom}. Run smaller (--messages) or elsewhere (--tmp DIR).`);
  // The journal stays on the disk (its fsyncs are the client's cost): its dir is made before TMPDIR points at the
  // mail's tmpfs for the Dovecot helper (which takes os.tmpdir()).
  const stateDir = await mkdtemp(join(tmpdir(), 'mailmigrate-memory-state-'));
  process.env['TMPDIR'] = mailTmp;
  const work = await mkdtemp(join(mailTmp, 'mailmigrate-memory-'));
  const started = new Date();
  const loadAtStart = loadavg();
  let stopServer: (() => Promise<void>) | undefined;
  try {
    const src = join(work, 'Maildir');
    const per = Math.floor(messages / folders);
    const g0 = performance.now();
    log(`writing ${messages} messages of ${size} bytes in ${folders} folder(s) under ${mailTmp} …`);
    for (let f = 0; f < folders; f++) {
      await writeMaildir(f === 0 ? src : join(src, `.Folder${f}`), f === folders - 1 ? messages - per * f : per, { seed: 300 + f, size });
    }
    const generateSeconds = (performance.now() - g0) / 1000;
    log(`  written in ${generateSeconds.toFixed(1)} s`);

    let account: Account;
    let serverName: string;
    if (target === 'dovecot') {
      const d = await startDovecot({ maxUserIpConnections: 64 });
      account = { port: d.port, user: d.user, password: d.password };
      serverName = `Dovecot ${d.version} (mail on ${isTmpfs(mailTmp) ? 'tmpfs' : mailTmp})`;
      stopServer = () => d.stop();
    } else {
      const e = await startEmbedded(cli, join(work, 'server'));
      account = e;
      serverName = `mailmigrate serve --maildir (on ${isTmpfs(mailTmp) ? 'tmpfs' : mailTmp})`;
      stopServer = e.stop;
    }
    const journal = join(stateDir, 'journal.jsonl');
    const args = ['import', src, '--host', '127.0.0.1', '--port', String(account.port), '--user', account.user, '--plain', '--journal', journal];
    log(`importing into ${serverName} …`);
    const first = await runImport('import', cli, args, account, join(work, 'r1.json'), intervalMs, messages, journal);
    // Verified by the server's own count once the import is over (STATUS of every folder).
    const counter = await connectImap(account);
    const onServer = await serverCount(counter).finally(() => counter.logout().catch(() => counter.close()));
    if (onServer !== messages) throw new Error(`the server holds ${onServer} messages after the import, expected ${messages}`);
    log(`clean re-run …`);
    const rerun = await runImport('clean re-run', cli, args, account, join(work, 'r2.json'), intervalMs, messages, journal);
    rerun.samples.forEach((x) => (x.done = -1));
    // The floor: the same command for a single message (its own folder and journal, so nothing above is touched).
    const one = join(work, 'One');
    await writeMaildir(one, 1, { seed: 299, size });
    const floorJournal = join(stateDir, 'floor.jsonl');
    const floorArgs = ['import', one, '--host', '127.0.0.1', '--port', String(account.port), '--user', account.user, '--plain', '--journal', floorJournal, '--folder', 'Floor'];
    const floor = await runImport('floor', cli, floorArgs, account, join(work, 'r3.json'), 20, 1, floorJournal);
    const journalBytes = fileSize(journal);
    const g = growth(first.samples, messages);

    const mb = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(0));
    const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
    const rows: Array<[string, string]> = [
      ['messages (folders × size)', `${messages} (${folders} × ${size} B)`],
      ['server', serverName],
      ['import: wall s / client CPU s', `${first.seconds.toFixed(1)} / ${first.cpuSeconds.toFixed(1)}`],
      ['import: msg/s', (messages / first.seconds).toFixed(0)],
      ['import: peak RSS MB (VmHWM)', mb(first.peakRssMb)],
      ['RSS at 10 % of messages, MB', mb(g.at10Mb)],
      ['RSS at the end / max after 10 %, MB', `${mb(g.endMb)} / ${mb(g.maxAfter10Mb)}`],
      ['growth 10 % → 100 % (end / max)', `${pct(g.growthToEnd)} / ${pct(g.growthToMax)}`],
      ['journal bytes / message', (journalBytes / messages).toFixed(0)],
      ['clean re-run: wall s / client CPU s', `${rerun.seconds.toFixed(2)} / ${rerun.cpuSeconds.toFixed(2)}`],
      ['clean re-run: peak RSS MB, appended', `${mb(rerun.peakRssMb)}, ${rerun.appended ?? '–'}`],
      ['floor: peak RSS MB of a 1-message import', mb(floor.peakRssMb)],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\nbench:memory — ${started.toISOString()}\n\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`);
    process.stdout.write(
      `\n  targets (issue 14, at 1M): peak RSS ≤ 120 MB: ${first.peakRssMb <= 120 ? 'met' : 'MISS'}; growth ≤ 10 %: ${g.growthToMax === undefined ? '?' : g.growthToMax <= 0.1 ? 'met' : 'MISS'}; clean re-run ≤ 30 s: ${rerun.seconds <= 30 ? 'met' : 'MISS'}${messages < 1_000_000 ? ` (this run: ${messages} messages)` : ''}\n`,
    );
    const out = opt.out ?? join(REPO_ROOT, 'bench', 'results', `memory-${started.toISOString().slice(0, 10)}-${messages}.json`);
    await mkdir(join(out, '..'), { recursive: true });
    const strip = (s: Step): Step => ({ ...s, samples: thin(s.samples, 600), ...(s.attribution ? { attribution: thin(s.attribution, 200) } : {}) });
    await writeFile(
      out,
      JSON.stringify(
        {
          date: started.toISOString(),
          command: `node dist/bench/memory.js ${process.argv.slice(2).join(' ')}`.trim(),
          machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), node: process.version, loadAverageAtStart: loadAtStart },
          mailmigrate: spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim(),
          options: { messages, folders, size, target, tmp: mailTmp, tmpfs: isTmpfs(mailTmp), intervalMs, nodeFlags, env: childEnv, attribute: opt.attribute },
          server: serverName,
          generateSeconds,
          import: strip(first),
          growth: g,
          journalBytesPerMessage: journalBytes / messages,
          cleanRerun: strip(rerun),
          floor: strip(floor),
          onServer,
          loadAverageAtEnd: loadavg(),
        },
        null,
        2,
      ) + '\n',
    );
    log(`\nresults: ${out}`);
  } finally {
    if (stopServer) await stopServer().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  log(`bench:memory failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
