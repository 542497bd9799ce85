import { writeFileNoFollow } from '../../core/safe-file.js';
import { type Command, Option } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { type BenchTarget, BenchCorpus, runProfile } from '../../bench/runner.js';
import { resolveProfiles } from '../../bench/profiles.js';
import { describeMachine, ratioToFirst, type BenchReport, type BenchRun } from '../../bench/report.js';
import { renderHtml } from '../../bench/report-html.js';
import { startServer, type ImapServer } from '../../server/server.js';
import { fmtMs, fmtRate, groupDigits, renderTable } from '../render/table.js';
import { addConnectionOptions, type ConnectionCliOptions, describeTarget, processIo, resolveTarget, transportOptions } from '../connection-options.js';

// `mailmigrate bench`: the main job a newcomer runs first. With no --host it starts the embedded server
// in-process and generates a seeded corpus, then runs each profile and prints one table: the seed report's
// gap (imaplib vs Mail::IMAPClient), its explanation (recv-wait clustered at the delayed-ACK timeout, with the
// kernel's DelayedACKs counter as second witness), and the fix.

interface BenchOptions extends ConnectionCliOptions {
  profiles?: string;
  sweep?: boolean;
  messages: string;
  size?: string;
  duration: string;
  seed: string;
  json?: string;
  html?: string;
  serverNodelay: boolean;
  keep?: boolean;
  quiet?: boolean;
}

const int = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
};

export function registerBench(program: Command): Command {
  const cmd = program
    .command('bench')
    .description('Measure APPEND throughput per transport profile (embedded server unless --host); explain stalls')
    .option('--profiles <list>', 'comma-separated profiles (imaplib, imaplib-nodelay, mail-imapclient, default, dD-bB-cC sweep names)')
    .option('--sweep', 'add a sweep over pipeline depth, MULTIAPPEND batch and connections')
    .option('--messages <n>', 'messages per profile', '10000')
    .option('--size <bytes>', 'fixed message size instead of the realistic mix (median ~4 KB, 20–200 KB tail, a few MB)')
    .option('--duration <seconds>', 'stop a profile after this long and report its rate (slow profiles)', '10')
    .option('--seed <n>', 'corpus seed', '1')
    .option('--json <file>', 'write the report as JSON')
    .option('--html <file>', 'write a self-contained HTML page (histograms, throughput chart)')
    .option('--no-server-nodelay', 'embedded server: leave Nagle on for its own replies (docs/measurements.md: it can delay replies)')
    .option('--keep', 'keep the bench mailboxes instead of deleting them')
    .addOption(new Option('--quiet', 'only the table').hideHelp())
    .action(async (opts: BenchOptions) => {
      process.exitCode = await benchAction(opts);
    });
  // --host … runs the same profiles against a real server (your own test account), with import's options.
  addConnectionOptions(cmd);
  return cmd;
}

async function benchAction(opts: BenchOptions): Promise<number> {
  const messages = int('--messages', opts.messages, 1, 10_000_000);
  const durationMs = int('--duration', opts.duration, 1, 86_400) * 1000;
  const seed = int('--seed', opts.seed, 0, 2 ** 31);
  const size = opts.size === undefined ? undefined : int('--size', opts.size, 600, 64 * 1024 * 1024);
  const profiles = resolveProfiles(opts.profiles?.split(',').map((s) => s.trim()).filter(Boolean), opts.sweep === true);
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const info = (s: string): void => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };

  let server: ImapServer | undefined;
  let target: BenchTarget;
  let targetLabel: string;
  const resolved = await resolveTarget(opts, processIo());
  if (resolved) {
    target = transportOptions(resolved) as BenchTarget;
    targetLabel = describeTarget(resolved);
    out(`mailmigrate bench: ${targetLabel} (bench mailboxes are created and deleted)`);
  } else {
    // Our own sockets use TCP_NODELAY by default: with Nagle on, a server's reply can itself wait for an ACK
    // (docs/measurements.md). The client-side stall the imaplib profile reproduces does not depend on it: it is the server
    // *receiving* the split CRLF and delaying its ACK, which the kernel does whatever the server's socket options.
    server = await startServer({ noDelay: opts.serverNodelay });
    target = { host: server.host, port: server.port, tls: 'none', auth: { user: 'test', password: 'test' } };
    targetLabel = 'embedded server';
    out(`mailmigrate bench: embedded IMAP server on ${server.host}:${server.port} (in-process, memory store, TCP_NODELAY ${opts.serverNodelay ? 'on' : 'off'})`);
  }

  info(`generating ${messages} messages (${size ? `${size} bytes each` : 'realistic size mix'}, seed ${seed})…`);
  const corpus = new BenchCorpus(messages, { seed, size });
  info(`corpus: ${messages} messages, ${(corpus.bytes / 1e6).toFixed(1)} MB`);
  const runs: BenchRun[] = [];
  const startedAt = new Date().toISOString();
  const stamp = Date.now().toString(36);
  try {
    for (const p of profiles) {
      info(`running ${p.name}: ${p.description}`);
      const run = await runProfile(target, p, corpus, {
        durationMs,
        mailbox: `mailmigrate-bench-${stamp}-${p.name}`,
        keep: opts.keep === true,
      });
      runs.push(run);
      info(`  ${fmtRate(run.msgsPerSec)} msg/s, recv-wait p50 ${fmtMs(run.latency.APPEND.p50)} ms${run.stoppedEarly ? ` (stopped after ${opts.duration} s)` : ''}`);
    }
  } finally {
    await server?.close();
  }
  const report: BenchReport = {
    machine: describeMachine(),
    startedAt,
    runs,
    target: targetLabel,
    corpus: { messages, bytes: corpus.bytes, seed, ...(size ? { fixedSize: size } : {}) },
  };
  out('');
  out(renderBenchTable(runs));
  const diag = runs.flatMap((r) => r.diagnosis.map((d) => `${r.profile}: [${d.code}] ${d.message}`));
  out('');
  out(diag.length ? diag.join('\n') : 'diagnosis: no known signature in any profile');
  if (opts.json) {
    writeFileNoFollow(opts.json, `${JSON.stringify(report, null, 2)}\n`, { option: '--json' });
    info(`JSON report: ${opts.json}`);
  }
  if (opts.html) {
    writeFileNoFollow(opts.html, renderHtml(report), { option: '--html' });
    info(`HTML report: ${opts.html}`);
  }
  return 0;
}

export function renderBenchTable(runs: readonly BenchRun[]): string {
  return renderTable(
    runs.map((r, i) => ({ r, i })),
    [
      { header: 'profile', value: ({ r }) => r.profile + (r.stoppedEarly ? '*' : '') },
      { header: 'messages', value: ({ r }) => String(r.messages), align: 'right' },
      { header: 'msg/s', value: ({ r }) => fmtRate(r.msgsPerSec), align: 'right' },
      { header: 'MB/s', value: ({ r }) => r.mbPerSec.toFixed(1), align: 'right' },
      { header: 'recv-wait p50', value: ({ r }) => fmtMs(r.latency.APPEND.p50), align: 'right' },
      { header: 'p99', value: ({ r }) => fmtMs(r.latency.APPEND.p99), align: 'right' },
      { header: 'max (ms)', value: ({ r }) => fmtMs(r.latency.APPEND.max), align: 'right' },
      { header: 'ratio', value: ({ i }) => { const x = ratioToFirst(runs, i); return x === undefined ? '-' : `${x >= 10 ? groupDigits(Math.round(x)) : x.toFixed(1)}×`; }, align: 'right' },
      { header: 'settings', value: ({ r }) => settingsLabel(r.settings) },
    ],
  );
}

function settingsLabel(s: Record<string, unknown>): string {
  return `literal=${s.literalMode} write=${s.writeMode} nodelay=${s.noDelay ? 'on' : 'off'} depth=${s.pipelineDepth} batch=${s.batch} conns=${s.connections}`;
}
