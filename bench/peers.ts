// npm run bench:peers — mailmigrate side by side with the IMAP clients people use today, on a private server
// (issues 6, 14, 16). Installs nothing: it names missing Debian packages and skips those rows.
//
//   node dist/bench/peers.js [--server dovecot|cyrus|courier] [--messages 5000] [--seed 1] [--corpus DIR]
//                            [--repeats 3] [--clients a,b,…] [--servers stock,noquickack] [--fsync never|optimized]
//                            [--best C,D,B] [--no-sweep] [--no-probe] [--pin] [--rtt MS] [--compare DIR]
//                            [--out FILE] [--tmp DIR] [--folders N]
//
// --server   the test harness's private instance to import into (test/helpers: Dovecot; Cyrus with Debian's
//            configuration; Courier-IMAP). --servers picks Dovecot variants (stock; TCP_QUICKACK disabled).
// --pin      client on CPU 0 (taskset -c 0), every server process on CPU 1 (taskset -a -p; later children inherit
//            it), so neither steals CPU from the other (issue 14's pinned msg/s target).
// --rtt MS   every client through bench/peers/delay-relay.ts twice per repeat: at 0 ms and at MS round trip (MS/2
//            each way; this kernel has no netem). Prints each client's msg/s at MS ÷ its own at 0 ms, and the
//            defaults ÷ mbsync at both (issue 16).
// --folders N  the generated corpus dealt round-robin into INBOX and N−1 Maildir++ folders (.F01 …): an account's
//            tree, where a server that takes one connection a folder (Courier) can be filled several folders at once.
//            Clients that import INBOX only (imaplib, imapflow) are skipped; Perl goes folder after folder, mbsync
//            pushes the tree (Patterns *), and every folder must hold exactly its messages.
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
// server and writes bench/results/peers-<date>-<time>-<server>.json with every run, the machine and the versions.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { dealIntoFolders, writeMaildir } from '../src/bench/corpus.js';
import { buildQuickAckShim } from '../test/helpers/dovecot.js';
import { serverSkipReason } from './peers/bench-server.js';
import { mailmigrateCli, REPO_ROOT, rusageAvailable } from './peers/clients.js';
import { type RunCounters } from './peers/client-run.js';
import { isTmpfs, machine } from './peers/machine.js';
import { parseBest, parsePeersCommandLine, PEERS_USAGE } from './peers/options.js';
import { parseServerKind, planRuns } from './peers/run-plan.js';
import { runServerPass } from './peers/server-pass.js';
import { corpusIds } from './peers/verification.js';

// The files under bench/peers/: options.ts (the command line), run-plan.ts (servers × clients × repeats, what is
// skipped, the sweep and the probe), server-pass.ts (one server variant), client-run.ts (one run of one client),
// verification.ts (does the server hold exactly the corpus), section-printer.ts (stdout), report.ts (medians,
// ratios, targets, tables), machine.ts (versions, tmpfs). This file ties them together and writes the results file.
const commandLine = parsePeersCommandLine();
if ('error' in commandLine || commandLine.help) {
  process.stderr.write('error' in commandLine ? `bench:peers: ${commandLine.error}\n${PEERS_USAGE}\n` : `${PEERS_USAGE}\n`);
  process.exit('error' in commandLine ? 1 : 0);
}
const opt = commandLine.values;

const log = (s: string): void => void process.stderr.write(s + '\n');

async function main(): Promise<void> {
  const kind = parseServerKind(opt.server);
  const skip = serverSkipReason(kind);
  if (skip) {
    log(`bench:peers needs a private ${kind}: ${skip}`);
    log(kind === 'dovecot'
      ? '  apt-get install -y dovecot-imapd dovecot-core isync libmail-imapclient-perl python3'
      : '  .ci/install-servers (unpacks Cyrus and Courier into .cache/servers); peers: apt-get install -y isync libmail-imapclient-perl python3');
    process.exitCode = 2;
    return;
  }
  const plan = planRuns(opt, kind);
  const { repeats, fsync, variants, rtt, wanted, missing, haveCc, needCc, packages } = plan;
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
  const servers: Array<Record<string, unknown>> = [];
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
      process.env['NODE_EXTRA_CA_CERTS'] && process.env['KEEP_EXTRA_CA'] !== '1'
        ? 'NODE_EXTRA_CA_CERTS is set here and removed from every client\'s environment (KEEP_EXTRA_CA=1 keeps it): Node parses it at every start, ~50 ms CPU (docs/measurements.md).'
        : `NODE_EXTRA_CA_CERTS: ${process.env['NODE_EXTRA_CA_CERTS'] ? 'kept (KEEP_EXTRA_CA=1)' : 'not set'}.`,
      `Load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs: the machine was shared, numbers are noisy.`,
    ],
    servers,
  };
  try {
    let corpusDir = opt.corpus;
    if (!corpusDir) {
      corpusDir = join(work, 'corpus');
      log(`writing corpus: ${opt.messages} messages, seed ${opt.seed} …`);
      await writeMaildir(corpusDir, Number(opt.messages), { seed: Number(opt.seed) });
      const folders = Number(opt.folders ?? '1');
      if (folders > 1) await dealIntoFolders(corpusDir, folders);
    }
    const corpus = await corpusIds(corpusDir);
    if (corpus.ids.size !== corpus.count) throw new Error(`corpus has ${corpus.count} messages but ${corpus.ids.size} distinct Message-IDs; verification needs them unique`);
    report['corpus'] = { dir: opt.corpus ?? '(generated)', seed: opt.corpus ? undefined : Number(opt.seed), messages: corpus.count, bytes: corpus.bytes, folders: corpus.folders.size };
    log(`corpus: ${corpus.count} messages, ${(corpus.bytes / 1e6).toFixed(1)} MB`);
    // 10 msg/s floor (the stalled imaplib runs at ~23), more through a delay.
    const timeoutMs = 120_000 + corpus.count * (100 + 2 * (rtt ?? 0));

    let best = opt.best ? parseBest(opt.best) : undefined;
    const counters: RunCounters = { scratch: 0, run: 0 };
    for (const variant of variants) {
      const preload = variant === 'noquickack' ? (haveCc ? await buildQuickAckShim() : undefined) : undefined;
      if (variant === 'noquickack' && !preload) {
        servers.push({ name: variant, skipped: 'no C compiler for the shim' });
        continue;
      }
      best = await runServerPass({ opt, plan, variant, preload, corpusDir, corpus, work, stateDir, timeoutMs, counters, sections: servers, report, best });
    }
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
    report['finished'] = new Date().toISOString();
    report['loadAverageAtEnd'] = loadavg().map((x) => Math.round(x * 100) / 100);
    // One file per run: the date alone let a second run of the day (another --server) overwrite the first.
    const stamp = started.toISOString().slice(0, 19).replace(/[:]/g, '').replace('T', '-');
    const out = opt.out ?? join(REPO_ROOT, 'bench', 'results', `peers-${stamp}-${kind}${rtt ? `-rtt${rtt}` : ''}.json`);
    await mkdir(join(out, '..'), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    log(`\nresults: ${out}`);
  }
}

main().catch((err: unknown) => {
  log(`bench:peers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
