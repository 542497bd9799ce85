// npm run bench:peers — mailmigrate side by side with the IMAP clients people use today, on a private server
// (issues 6, 14, 16). Installs nothing: it names missing Debian packages and skips those rows.
//
//   node dist/bench/peers.js [--server dovecot|cyrus|courier] [--messages 5000] [--seed 1] [--corpus DIR]
//                            [--repeats 3] [--clients a,b,…] [--servers stock,noquickack] [--fsync never|optimized]
//                            [--best C,D,B] [--no-sweep] [--no-probe] [--pin] [--rtt MS] [--compare DIR]
//                            [--out FILE] [--tmp DIR]
//
// --server   the test harness's private instance to import into (test/helpers: Dovecot; Cyrus with Debian's
//            configuration; Courier-IMAP). --servers picks Dovecot variants (stock; TCP_QUICKACK disabled).
// --pin      client on CPU 0 (taskset -c 0), every server process on CPU 1 (taskset -a -p; later children inherit
//            it), so neither steals CPU from the other (issue 14's pinned msg/s target).
// --rtt MS   every client through bench/peers/delay-relay.ts twice per repeat: at 0 ms and at MS round trip (MS/2
//            each way; this kernel has no netem). Prints each client's msg/s at MS ÷ its own at 0 ms, and the
//            defaults ÷ mbsync at both (issue 16).
// --compare DIR  an extra row: the defaults of another built checkout (DIR/bin/mailmigrate.js), so a before/after
//            of the client is measured side by side in one run.
// CPU per message, for every row: the client's user+sys from wait4(2) (bench/peers/rusage.py: the process, its
// threads, its waited-for children), the server's over every process of its instance (bench/peers/cpu-meter.ts: a
// cgroup made for it, else its /proc process tree), their sum, and each as a ratio to mbsync's.
//
// Where the mail lives: the corpus and the private Dovecot (its Maildir) go under --tmp, by default /dev/shm when it
// is a tmpfs. Why: emptying the account between runs deletes 5000 files, and on this machine's ext4 (no journal)
// creating files in the next minutes is slowed by the inode allocator skipping recently deleted inodes — perf on
// Dovecot's imap process: recently_deleted()/find_get_block_common 29 % of its CPU, runs getting slower one after
// another (1877 → 354 msg/s over six runs of the same client). That penalizes fast clients most, since they
// create their files sooner after the expunge. Client-side state that is fsync'd (mailmigrate's journal, mbsync's
// sync state) stays on the disk's temp dir: that cost belongs to the client.
// For each server (stock Dovecot; the same with its TCP_QUICKACK calls disabled by bench/quickack-shim.c) and each
// repeat, every client imports the same Maildir corpus into an emptied INBOX; afterwards the server must hold
// exactly the corpus (count and Message-ID set) or the run does not count. Repeats are interleaved (repeat 1 of
// every client, then repeat 2, …) so slow drift on a shared machine spreads over all clients. Prints a table per
// server and writes bench/results/peers-<date>.json with every run, the machine and the versions.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeMaildir } from '../src/bench/corpus.js';
import { ControlPlane, parseMessageIdHeader } from '../src/mailbox/control-plane.js';
import { buildQuickAckShim } from '../test/helpers/dovecot.js';
import { type BenchServer, pinTree, SERVER_KINDS, type ServerKind, serverSkipReason, startBenchServer } from './peers/bench-server.js';
import {
  CLIENTS,
  type ClientDef,
  type Command,
  mailmigrateCli,
  mailmigrateCommand,
  type MailmigrateSettings,
  REPO_ROOT,
  type RunContext,
  runChild,
  rusageAvailable,
  settingsName,
} from './peers/clients.js';
import { CpuMeter } from './peers/cpu-meter.js';
import { DelayRelay } from './peers/delay-relay.js';
import { checkAdaptTargets, checkTargets, renderCpuTable, renderTable, type RowSummary, rttRatios, type RunResult, summarizeRow, withRatios } from './peers/report.js';

const { values: opt } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    seed: { type: 'string', default: '1' },
    corpus: { type: 'string' },
    repeats: { type: 'string', default: '3' },
    clients: { type: 'string' },
    server: { type: 'string', default: 'dovecot' },
    servers: { type: 'string', default: 'stock,noquickack' },
    rtt: { type: 'string' },
    pin: { type: 'boolean', default: false },
    compare: { type: 'string' },
    fsync: { type: 'string', default: 'never' },
    best: { type: 'string' },
    'no-sweep': { type: 'boolean', default: false },
    'no-probe': { type: 'boolean', default: false },
    out: { type: 'string' },
    tmp: { type: 'string' },
  },
});

/**
 * Settings tried for "mailmigrate, best settings", each fixed (--no-adapt), one run each: around the defaults (c2 d2
 * b50), the ones adaptation may reach (one connection at depth 1: Courier without LITERAL+; 8 connections: a long
 * path), so "adaptive within 10 % of the best fixed setting" (issue 16) is measured against every setting it can choose.
 */
const SWEEP: readonly MailmigrateSettings[] = [
  { connections: 2, pipeline: 2, batch: 50 },
  { connections: 1, pipeline: 1, batch: 50 },
  { connections: 2, pipeline: 1, batch: 100 },
  { connections: 2, pipeline: 2, batch: 200 },
  { connections: 3, pipeline: 1, batch: 50 },
  { connections: 4, pipeline: 2, batch: 50 },
  { connections: 8, pipeline: 2, batch: 50 },
  { connections: 8, pipeline: 4, batch: 50 },
];

/** Where mailmigrate's time goes: transport-runner with its timing summary (see the README section). */
const PROBE: ReadonlyArray<{ name: string; settings: MailmigrateSettings }> = [
  { name: 'sequential APPEND', settings: { connections: 1, pipeline: 1, batch: 1 } },
  { name: 'pipelined APPEND, depth 32, one mailbox', settings: { connections: 1, pipeline: 32, batch: 1 } },
  { name: 'MULTIAPPEND 50, 1 connection', settings: { connections: 1, pipeline: 1, batch: 50 } },
  { name: 'defaults', settings: { connections: 2, pipeline: 2, batch: 50 } },
];

const log = (s: string): void => void process.stderr.write(s + '\n');

/** Is `dir` on a tmpfs? (/proc/mounts: the longest mount point that is a prefix of dir.) */
function isTmpfs(dir: string): boolean {
  try {
    let best = '';
    let type = '';
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mnt, fstype] = line.split(' ');
      if (mnt && fstype && (dir === mnt || dir.startsWith(mnt.endsWith('/') ? mnt : mnt + '/')) && mnt.length > best.length) {
        best = mnt;
        type = fstype;
      }
    }
    return type === 'tmpfs';
  } catch {
    return false;
  }
}

function parseBest(text: string): MailmigrateSettings {
  const [c, d, b] = text.split(',').map(Number);
  if (![c, d, b].every((x) => Number.isInteger(x) && x! > 0)) throw new Error(`--best wants C,D,B (connections, pipeline depth, batch), got "${text}"`);
  return { connections: c!, pipeline: d!, batch: b! };
}

function version(cmd: string, args: string[], pick: (s: string) => string = (s) => s.trim().split('\n')[0] ?? ''): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? pick(r.stdout + r.stderr) : undefined;
}

function machine(): Record<string, unknown> {
  const gitRev = version('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    versions: {
      mailmigrate: gitRev,
      dovecot: version('dovecot', ['--version']),
      mbsync: version('mbsync', ['--version']),
      python: version('python3', ['--version']),
      mailImapClient: version('perl', ['-MMail::IMAPClient', '-e', 'print $Mail::IMAPClient::VERSION']),
      imapflow: version(process.execPath, ['-e', "console.log(require('imapflow/package.json').version)"]),
    },
  };
}

/** Message-IDs of the corpus, read from each file's header block. */
async function corpusIds(dir: string): Promise<{ ids: Set<string>; count: number; bytes: number }> {
  const ids = new Set<string>();
  let count = 0;
  let bytes = 0;
  for (const sub of ['cur', 'new']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const fh = await open(join(dir, sub, n), 'r');
      try {
        const st = await fh.stat();
        const head = Buffer.alloc(Math.min(8192, st.size));
        await fh.read(head, 0, head.length, 0);
        const text = head.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const id = parseMessageIdHeader(end >= 0 ? text.slice(0, end) : text);
        if (id) ids.add(id.trim());
        count++;
        bytes += st.size;
      } finally {
        await fh.close();
      }
    }
  }
  return { ids, count, bytes };
}

/** Does INBOX hold exactly the corpus? Count and Message-ID set (an extra, missing or doubled message fails). */
async function verify(d: BenchServer, expected: Set<string>): Promise<{ ok: boolean; note?: string; count: number }> {
  const cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  try {
    const msgs = await cp.listMessages('INBOX');
    const seen = new Set<string>();
    let dup = 0;
    let unknown = 0;
    for (const m of msgs) {
      const id = m.messageId?.trim();
      if (!id || !expected.has(id)) unknown++;
      else if (seen.has(id)) dup++;
      else seen.add(id);
    }
    const missing = expected.size - seen.size;
    const ok = msgs.length === expected.size && dup === 0 && unknown === 0 && missing === 0;
    return { ok, count: msgs.length, ...(ok ? {} : { note: `${msgs.length} on server: ${missing} missing, ${dup} doubled, ${unknown} unknown` }) };
  } finally {
    await cp.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server's CPU once it has finished the session: a server still answers LOGOUT and updates its indexes after
 *  the client exited. Reads until two reads 100 ms apart differ by under 2 ms of CPU (at most 1.5 s). */
async function settledCpu(meter: CpuMeter): Promise<number> {
  let last = meter.read();
  for (let i = 0; i < 15; i++) {
    await sleep(100);
    const now = meter.read();
    if (now - last < 0.002) return now;
    last = now;
  }
  return last;
}

function compareClient(dir: string): ClientDef {
  const root = resolve(dir);
  const bin = mailmigrateCli(root);
  const rev = version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']) ?? '?';
  return {
    name: 'mailmigrate-compare',
    label: `mailmigrate import (defaults, ${basename(root)} @${rev})`,
    packages: [],
    missing: () => (bin ? undefined : `no built mailmigrate with an import command in ${root} (run npm run build there)`),
    command: async (c) => mailmigrateCommand(c, undefined, false, bin),
  };
}

async function main(): Promise<void> {
  const kind = opt.server as ServerKind;
  if (!SERVER_KINDS.includes(kind)) throw new Error(`--server wants one of ${SERVER_KINDS.join(', ')}, got "${opt.server}"`);
  const skip = serverSkipReason(kind);
  if (skip) {
    log(`bench:peers needs a private ${kind}: ${skip}`);
    log(kind === 'dovecot'
      ? '  apt-get install -y dovecot-imapd dovecot-core isync libmail-imapclient-perl python3'
      : '  .ci/install-servers (unpacks Cyrus and Courier into .cache/servers); peers: apt-get install -y isync libmail-imapclient-perl python3');
    process.exitCode = 2;
    return;
  }
  const repeats = Math.max(1, Number(opt.repeats));
  const fsync = opt.fsync === 'optimized' ? 'optimized' : 'never';
  // Dovecot variants (stock, quick-ACK shim); Cyrus and Courier run as the harness starts them.
  const variants = kind === 'dovecot' ? opt.servers!.split(',').filter(Boolean) : ['stock'];
  const rtt = opt.rtt === undefined ? undefined : Number(opt.rtt);
  if (rtt !== undefined && !(Number.isFinite(rtt) && rtt > 0 && rtt <= 1000)) throw new Error(`--rtt wants milliseconds in (0, 1000], got "${opt.rtt}"`);
  // With --rtt every client runs through the relay twice per repeat: at 0 ms (the relay's own cost) and at --rtt.
  const phases: Array<number | undefined> = rtt === undefined ? [undefined] : [0, rtt];
  if (opt.pin) {
    if (cpus().length < 2) throw new Error('--pin needs 2 CPUs (client on CPU 0, server on CPU 1)');
    if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) throw new Error('--pin needs taskset (Debian package util-linux)');
  }
  const compare = opt.compare ? compareClient(opt.compare) : undefined;
  const known = [...CLIENTS.map((c) => c.name), 'mailmigrate-best', ...(compare ? [compare.name] : [])];
  const wanted = opt.clients ? opt.clients.split(',').filter(Boolean) : [...CLIENTS.map((c) => c.name), 'mailmigrate-best'];
  if (compare && !wanted.includes(compare.name)) wanted.push(compare.name);
  for (const w of wanted) if (!known.includes(w)) throw new Error(`unknown client "${w}"; known: ${known.join(', ')}`);
  const all: ClientDef[] = [...CLIENTS, ...(compare ? [compare] : [])];

  const missing = new Map<string, string>();
  for (const c of all) {
    const m = wanted.includes(c.name) ? c.missing() : undefined;
    if (m) missing.set(c.name, m);
  }
  if (kind !== 'dovecot') missing.set('doveadm-import', 'Dovecot only');
  else if (rtt !== undefined) missing.set('doveadm-import', 'no network path to delay');
  const haveCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
  const needCc = !haveCc && kind === 'dovecot' && variants.includes('noquickack');
  const packages = new Set<string>();
  for (const name of missing.keys()) for (const p of all.find((c) => c.name === name)?.packages ?? []) packages.add(p);
  if (!rusageAvailable()) packages.add('python3');
  if (needCc) packages.add('gcc');
  if (packages.size) {
    log(`missing, skipped: ${[...missing.values(), ...(needCc ? ['cc (Debian package gcc) for the quick-ACK shim'] : []), ...(rusageAvailable() ? [] : ['python3 for client CPU (rusage.py)'])].join('; ')}`);
    log(`  to run every row: apt-get install -y ${[...packages].join(' ')}`);
  }

  const diskTmp = tmpdir();
  const mailTmp = opt.tmp ?? (isTmpfs('/dev/shm') ? '/dev/shm' : diskTmp);
  // The harness helpers and the shim build take os.tmpdir(), which reads TMPDIR on every call.
  process.env['TMPDIR'] = mailTmp;
  const work = await mkdtemp(join(mailTmp, 'mailmigrate-peers-'));
  const stateDir = await mkdtemp(join(diskTmp, 'mailmigrate-peers-state-'));
  // Dovecot's mail processes run as `nobody` when we are root and read doveadm's source from here.
  await chmod(work, 0o755);
  const started = new Date();
  const info = machine();
  const cli = mailmigrateCli();
  const report: Record<string, unknown> = {
    date: started.toISOString(),
    command: `node dist/bench/peers.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: info,
    options: { ...opt, repeats, fsync, server: kind, variants, rttMs: rtt, clients: wanted },
    mailStore: { dir: mailTmp, tmpfs: isTmpfs(mailTmp) },
    mailmigrateDriver: cli ? 'CLI import' : 'bench/peers/transport-runner (Pool; the import command was not built yet)',
    notes: [
      'Wall time from process spawn to exit, login to logout included; msg/s = corpus messages / wall seconds.',
      'A run counts only if the server afterwards holds exactly the corpus (count and Message-ID set).',
      'Client CPU: user+sys from wait4(2) (bench/peers/rusage.py): the process, its threads and waited-for children.',
      'Server CPU: every process of the private instance, from a cgroup made for it (else /proc utime+stime+cutime+cstime of its tree), from just before the client starts until the server is idle after it exits.',
      ...(opt.pin ? ['--pin: client on CPU 0 (taskset -c 0), every server process on CPU 1 (taskset -a -p); the benchmark process itself (verification, the --rtt relay) is not pinned.'] : []),
      ...(rtt !== undefined ? [`--rtt ${rtt}: every client goes through bench/peers/delay-relay.ts, at 0 ms and at ${rtt} ms round trip (${rtt / 2} ms each way), in the same repeats.`] : []),
      `Load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs: the machine was shared, numbers are noisy.`,
    ],
    servers: [] as unknown[],
  };
  try {
    let corpusDir = opt.corpus;
    if (!corpusDir) {
      corpusDir = join(work, 'corpus');
      log(`writing corpus: ${opt.messages} messages, seed ${opt.seed} …`);
      await writeMaildir(corpusDir, Number(opt.messages), { seed: Number(opt.seed) });
    }
    const corpus = await corpusIds(corpusDir);
    if (corpus.ids.size !== corpus.count) throw new Error(`corpus has ${corpus.count} messages but ${corpus.ids.size} distinct Message-IDs; verification needs them unique`);
    report['corpus'] = { dir: opt.corpus ?? '(generated)', seed: opt.corpus ? undefined : Number(opt.seed), messages: corpus.count, bytes: corpus.bytes };
    log(`corpus: ${corpus.count} messages, ${(corpus.bytes / 1e6).toFixed(1)} MB`);
    // 10 msg/s floor (the stalled imaplib runs at ~23), more through a delay.
    const timeoutMs = 120_000 + corpus.count * (100 + 2 * (rtt ?? 0));

    let best = opt.best ? parseBest(opt.best) : undefined;
    let scratchN = 0;
    let runN = 0;
    for (const variant of variants) {
      const preload = variant === 'noquickack' ? (haveCc ? await buildQuickAckShim() : undefined) : undefined;
      if (variant === 'noquickack' && !preload) {
        (report['servers'] as unknown[]).push({ name: variant, skipped: 'no C compiler for the shim' });
        continue;
      }
      const d = await startBenchServer(kind, { fsync, ...(preload ? { preload } : {}) });
      const meter = CpuMeter.attach(d.rootPid, `mailmigrate-bench-${process.pid}-${runN}`);
      const pinned = opt.pin ? pinTree(d.rootPid, 1) : 0;
      const serverLabel = `${d.title}${kind === 'dovecot' ? `, ${variant === 'stock' ? 'stock' : 'TCP_QUICKACK disabled (LD_PRELOAD shim)'}, mail_fsync=${fsync}` : ''}`;
      log(`\n== ${serverLabel} — server CPU by ${meter.kind}${meter.fallbackReason ? ` (${meter.fallbackReason})` : ''}${opt.pin ? `; pinned: client CPU 0, server CPU 1 (${pinned} processes)` : ''} ==`);
      const relays = new Map<number, DelayRelay>();
      try {
        for (const ph of phases) if (ph !== undefined) relays.set(ph, await DelayRelay.start({ targetPort: d.port, oneWayMs: ph / 2 }));
        const ctxFor = (ph: number | undefined): RunContext => ({
          host: d.host,
          port: ph === undefined ? d.port : relays.get(ph)!.port,
          user: d.user,
          password: d.password,
          maildir: corpusDir!,
          dovecotConfig: d.dovecotConfig,
          workDir: work,
          stateDir,
          timeoutMs,
          scratch: async () => {
            // A hard-linked copy: mbsync renames near files to record UIDs, doveadm writes a uidlist beside them.
            const dir = join(work, `scratch-${++scratchN}`);
            await mkdir(dir, { mode: 0o755 });
            const copy = join(dir, 'maildir');
            execFileSync('cp', ['-al', corpusDir!, copy]);
            if (process.getuid?.() === 0) {
              const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
              for (const sub of ['', 'cur', 'new', 'tmp']) await chown(join(copy, sub), nobody, nobody).catch(() => undefined);
            }
            return copy;
          },
        });
        const once = async (label: string, ph: number | undefined, makeCmd: (ctx: RunContext) => Promise<Command>): Promise<RunResult> => {
          await d.emptyAccount();
          const cmd = await makeCmd(ctxFor(ph));
          const rusageFile = join(work, `rusage-${++runN}.json`);
          const cpu0 = meter.read();
          const r = await runChild(cmd, d.password, timeoutMs, { cpu: opt.pin ? 0 : undefined, rusageFile });
          const serverCpu = (await settledCpu(meter)) - cpu0;
          await rm(rusageFile, { force: true });
          await rm(join(work, 'scratch-' + scratchN), { recursive: true, force: true }).catch(() => undefined);
          const v = await verify(d, corpus.ids).catch((e: unknown) => ({ ok: false, note: `verify failed: ${String(e)}`, count: 0 }));
          const j: Record<string, unknown> = { ...r.json };
          if (cmd.report) {
            // mailmigrate's own report: its elapsed time (source scan to last reply) and counts.
            const rep = JSON.parse(await readFile(cmd.report, 'utf8').catch(() => '{}')) as Record<string, unknown>;
            if (typeof rep['elapsedMs'] === 'number') j['seconds'] = rep['elapsedMs'] / 1000;
            if (rep['failed']) j['error'] = `${String(rep['failed'])} failed: ${JSON.stringify(rep['failures']).slice(0, 300)}`;
            await rm(cmd.report, { force: true });
          }
          const err = r.code !== 0 ? `exit ${r.code}: ${String(j['error'] ?? r.stderr.trim().split('\n').slice(-3).join(' | ')).slice(0, 400)}` : undefined;
          const res: RunResult = {
            wallSeconds: r.wallSeconds,
            clientSeconds: typeof j['seconds'] === 'number' ? (j['seconds'] as number) : undefined,
            appended: v.count,
            verified: v.ok && r.code === 0,
            clientCpuSeconds: r.cpuSeconds,
            serverCpuSeconds: serverCpu,
            ...(v.note ? { verifyNote: v.note } : {}),
            ...(j['timing'] ? { timing: j['timing'] } : {}),
            ...(err ? { error: err } : {}),
          };
          const us = (x: number | undefined): string => (x === undefined ? '–' : ((x * 1e6) / corpus.count).toFixed(0));
          const where = ph === undefined ? '' : ` @${ph} ms`;
          log(
            `  ${(label + where).padEnd(40)} ${(corpus.count / r.wallSeconds).toFixed(0).padStart(6)} msg/s  ${r.wallSeconds.toFixed(2)} s  ` +
              `CPU µs/msg client ${us(r.cpuSeconds)} server ${us(serverCpu)}  ${res.verified ? 'verified' : `NOT verified: ${v.note ?? ''} ${err ?? ''}`}`,
          );
          return res;
        };

        const base: Record<string, unknown> = { name: variant, server: kind, title: d.title, version: d.version, fsync: kind === 'dovecot' ? fsync : undefined, quickAckDisabled: Boolean(preload), cpuMeter: meter.kind, cpuMeterFallback: meter.fallbackReason, pinned: Boolean(opt.pin) };
        if (wanted.includes('mailmigrate-best') && !best && !opt['no-sweep']) {
          log('  sweep for mailmigrate best settings (1 run each):');
          const sweep: Array<{ settings: string; msgPerSec: number | undefined }> = [];
          let top = 0;
          for (const st of SWEEP) {
            const r = await once(`mailmigrate ${settingsName(st)}`, phases[phases.length - 1], async (c) => mailmigrateCommand(c, st, false, undefined, true));
            const rate = r.verified ? corpus.count / r.wallSeconds : undefined;
            sweep.push({ settings: settingsName(st), msgPerSec: rate && Math.round(rate) });
            if (rate && rate > top) {
              top = rate;
              best = st;
            }
          }
          base['sweep'] = sweep;
          report['bestSettings'] = best && settingsName(best);
        }
        const defs: Array<ClientDef & { settings?: string }> = all.filter((c) => wanted.includes(c.name));
        if (wanted.includes('mailmigrate-best') && best) {
          const st = best;
          defs.push({ name: 'mailmigrate-best', label: 'mailmigrate import (best fixed, --no-adapt)', settings: settingsName(st), packages: [], missing: () => undefined, command: async (c) => mailmigrateCommand(c, st, false, undefined, true) });
        }
        const runs = new Map<string, RunResult[]>(phases.flatMap((ph) => defs.map((c) => [`${c.name}@${ph}`, []] as [string, RunResult[]])));
        for (let rep = 1; rep <= repeats; rep++) {
          log(`  repeat ${rep}/${repeats}:`);
          for (const ph of phases) {
            for (const c of defs) {
              if (missing.has(c.name)) continue;
              runs.get(`${c.name}@${ph}`)!.push(await once(c.name, ph, c.command));
            }
          }
        }
        const sections: Array<{ rttMs: number | undefined; rows: RowSummary[] }> = [];
        for (const ph of phases) {
          const rows: RowSummary[] = withRatios(
            defs.map((c) =>
              missing.has(c.name)
                ? { client: c.name, label: c.label, runs: [], skipped: missing.get(c.name) }
                : summarizeRow(c.name, c.label, runs.get(`${c.name}@${ph}`)!, corpus.count, corpus.bytes, c.settings),
            ),
          );
          sections.push({ rttMs: ph, rows });
          const sectionReport: Record<string, unknown> = { ...base, rttMs: ph, rows };
          if (kind === 'dovecot' && variant === 'stock' && ph === undefined) sectionReport['targets'] = checkTargets(rows);
          sectionReport['adaptTargets'] = checkAdaptTargets(rows);
          const title =
            `${serverLabel}${ph === undefined ? '' : `, through the delay relay at ${ph} ms round trip`}` +
            `${opt.pin ? ', client and server pinned to separate CPUs' : ''}, ${corpus.count} messages (${(corpus.bytes / 1e6).toFixed(1)} MB), median of ${repeats}`;
          sectionReport['title'] = title;
          sectionReport['table'] = renderTable(rows);
          sectionReport['cpuTable'] = renderCpuTable(rows);
          process.stdout.write(`\n${title}\n\n${renderTable(rows)}\n\nCPU per message (server: ${meter.kind})\n\n${renderCpuTable(rows)}\n`);
          for (const t of sectionReport['adaptTargets'] as ReturnType<typeof checkAdaptTargets>) {
            process.stdout.write(`  ${t.met === undefined ? '?' : t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured === undefined ? 'not measured' : `${t.measured}×`}\n`);
          }
          if (sectionReport['targets']) {
            for (const t of sectionReport['targets'] as ReturnType<typeof checkTargets>) {
              process.stdout.write(`  ${t.met === undefined ? '?' : t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured === undefined ? 'not measured' : `${t.measured}×`}\n`);
            }
          }
          (report['servers'] as unknown[]).push(sectionReport);
        }
        if (rtt !== undefined) {
          const rttReport = rttRatios(sections, rtt);
          (report['servers'] as Array<Record<string, unknown>>).at(-1)!['rttRatios'] = rttReport;
          process.stdout.write(`\nRound trip ${rtt} ms against 0 ms through the same relay, same run:\n${rttReport.lines.map((l) => `  ${l}`).join('\n')}\n`);
        }
        if (kind === 'dovecot' && variant === 'stock' && rtt === undefined && !opt['no-probe']) {
          log('  where mailmigrate spends its time (transport-runner, timing records, 1 run each):');
          const probe: unknown[] = [];
          for (const p of PROBE) {
            const r = await once(`${p.name} (${settingsName(p.settings)})`, undefined, async (c) => mailmigrateCommand(c, p.settings, true));
            probe.push({ name: p.name, settings: settingsName(p.settings), msgPerSec: Math.round(corpus.count / r.wallSeconds), verified: r.verified, timing: r.timing });
          }
          (report['servers'] as Array<Record<string, unknown>>).at(-1)!['probe'] = probe;
        }
        if (relays.size) {
          const stats = Object.fromEntries([...relays].map(([ph, r]) => [`${ph} ms`, r.stats]));
          for (const sec of (report['servers'] as Array<Record<string, unknown>>).slice(-phases.length)) sec['relay'] = stats;
        }
      } finally {
        for (const r of relays.values()) await r.close();
        await d.stop();
        meter.close();
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    report['finished'] = new Date().toISOString();
    report['loadAverageAtEnd'] = loadavg().map((x) => Math.round(x * 100) / 100);
    const out = opt.out ?? join(REPO_ROOT, 'bench', 'results', `peers-${started.toISOString().slice(0, 10)}.json`);
    await mkdir(join(out, '..'), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    log(`\nresults: ${out}`);
  }
}

main().catch((err: unknown) => {
  log(`bench:peers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
