import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { diagnose, parseDovecotTiming } from '../../bench/diagnosis.js';
import { LatencyStats } from '../../bench/stats.js';
import { DEFAULT_SETTINGS } from '../../bench/profiles.js';
import { diffCounters, readKernelCounters } from '../../core/kernel-counters.js';
import { ConfigError, toMailmigrateError } from '../../core/errors.js';
import type { LiteralMode, WriteMode } from '../../core/types.js';
import { accountJournalPath, Journal } from '../../journal/journal.js';
import { ControlPlane } from '../../mailbox/control-plane.js';
import { ControlAdapter } from '../../migrate/control-adapter.js';
import { canonicalAccount } from '../../migrate/account.js';
import { transportIndexer } from '../../migrate/bulk-index.js';
import { SYNC_FLAGS_MODES, type SyncFlagsMode } from '../../migrate/flag-sync.js';
import type { FolderRules } from '../../migrate/folder-rules.js';
import { Importer, type ImportResult } from '../../migrate/importer.js';
import { startServer, type ImapServer } from '../../server/server.js';
import { openSource, ReadPool, type Source } from '../../sources/index.js';
import { optionalIntegerOption } from '../integer-option.js';
import { addSourceOptions, folderRulesOf, type SourceCliOptions, sourceOptionsOf } from '../source-options.js';
import { derivePhases, recordToJson, type TimingRecord } from '../../transport/timing.js';
import {
  addConnectionOptions,
  type ConnectionCliOptions,
  controlPlaneOptions,
  describeTarget,
  processIo,
  resolveTarget,
  type ResolvedTarget,
  transportOptions,
} from '../connection-options.js';
import { EXIT_CANNOT_RUN, EXIT_INTERRUPTED, importExitCode } from '../exit-code.js';
import { NdjsonWriter, writeJsonFile } from '../render/json.js';
import { refuseOddPath } from '../../core/safe-file.js';
import { printable } from '../../core/printable.js';
import { createProgress, type ProgressRenderer } from '../render/progress.js';
import { type ImportReport, type LatencySummary, reasonWithoutSource, renderImportSummary } from '../render/summary.js';

// `mailmigrate import <source...>`: the command users run (issue 4). This file wires options, the embedded server
// fallback, the journal, progress, SIGINT and the report around src/migrate/importer.ts, which does the work.
//
// Defaults are the fastest safe settings measured here, kept in one place (DEFAULT_SETTINGS, src/bench/profiles.ts,
// where the measurements are cited): TCP_NODELAY on, coalesced writes, literal 'auto' (LITERAL+ when offered, up to
// its size cap), MULTIAPPEND batches of 50 when offered, pipeline depth 2, 2 connections (the pool settles below any
// cap the server enforces; Dovecot's per-user+IP cap is 10).

export interface ImportCliOptions extends ConnectionCliOptions, SourceCliOptions {
  connections?: string;
  pipeline?: string;
  batch?: string;
  nodelay: boolean;
  literal: LiteralMode;
  write: WriteMode;
  journal?: string;
  report?: string;
  trace?: string;
  dryRun?: boolean;
  recheck?: boolean;
  syncFlags: SyncFlagsMode;
  includeDeleted?: boolean;
  foldersOnly?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progressInterval?: string;
  readThreads?: string;
}

export const DEFAULTS = {
  connections: DEFAULT_SETTINGS.connections,
  pipeline: DEFAULT_SETTINGS.pipelineDepth,
  batch: DEFAULT_SETTINGS.batch,
} as const;

/** `--folder "Imported/2024"` → ["Imported", "2024"]: '/' separates levels whatever the server's delimiter. */
export function parseFolderPrefix(v: string | undefined): string[] {
  if (v === undefined) return [];
  const parts = v.split('/').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new ConfigError('--folder', `"${v}" has an empty level`);
  return parts;
}

export function registerImport(program: Command): Command {
  const cmd = program
    .command('import')
    .description('Import Maildir / mbox / .eml trees into an IMAP server (the embedded one without --host); resumable')
    .argument('<source...>', 'Maildir, Maildir++, mbox file, directory of mbox files, or .eml tree');
  addSourceOptions(addConnectionOptions(cmd))
    .option('--folders-only', 'create the folder tree on the server, send no messages')
    .option('--connections <n>', `APPEND connections (default ${DEFAULTS.connections}; never more than the server accepts)`)
    .option('--pipeline <n>', `commands in flight per connection (default ${DEFAULTS.pipeline})`)
    .option('--batch <n>', `messages per MULTIAPPEND (default ${DEFAULTS.batch} when offered; 1 = off)`)
    .option('--nodelay', 'set TCP_NODELAY (default)', true)
    .option('--no-nodelay', 'leave Nagle on (only to reproduce delayed-ACK stalls)')
    .addOption(new Option('--literal <mode>', 'literal announcement').choices(['auto', 'sync', 'plus', 'minus']).default('auto'))
    .addOption(new Option('--write <mode>', 'socket write strategy').choices(['coalesce', 'split']).default('coalesce'))
    .option('--journal <file>', 'resume journal (default: per-user state directory, one per account); an accelerator checked against the server')
    .option('--recheck', 'reconcile every folder with the server whatever the journal says, appending only what is missing (the fix for a failed verify)')
    .addOption(
      new Option('--sync-flags <mode>', 'flags of messages already on the server: changed = follow what changed in the source since the last run; mirror = make them equal to the source; off')
        .choices([...SYNC_FLAGS_MODES])
        .default('changed'),
    )
    .option('--include-deleted', 'also import messages marked deleted in the source (Maildir T, mbox Status: D, Thunderbird expunged), with \\Deleted')
    .option('--report <file>', 'write the run report as JSON')
    .option('--trace <file>', 'write one NDJSON timing record per command')
    .option('--dry-run', 'check the server read-only and print, per folder, what would be appended, skipped or updated; send nothing')
    .option('--quiet', 'no progress output, only the summary')
    .option('--verbose', 'also print the transport settings, recv-wait per command and every diagnosis')
    .option('--read-threads <n>', 'worker threads that read, normalize and fingerprint message files (default: cores - 1, at most 4; 0 = main thread)')
    .addOption(new Option('--progress-interval <ms>', 'plain progress line period off a TTY').default('5000').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  # One user over TLS; the password from a file (never on the command line)
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --password-file ~/.alice-pw
  # What would happen, per folder, without sending anything
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --password-file ~/.alice-pw --dry-run
  # Leave out Trash and Junk, rename a folder, merge another into INBOX
  mailmigrate import ~/Maildir --host mail.example.org --user alice --exclude Trash --exclude 'Junk*' \\
    --map 'Sent Items=Sent' --map Inbox2=INBOX
  # A single mbox file into a folder of its own
  mailmigrate import ~/mail/sent-mail --to Sent --host mail.example.org --user alice
  # After a verify that found something missing: reconcile every folder, append only what is missing
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --recheck
  # A demo into the embedded server (no --host): nothing leaves this machine
  mailmigrate import ./fixtures/maildir`,
    )
    .action(async (sources: string[], opts: ImportCliOptions) => {
      try {
        process.exitCode = await importAction(sources, opts);
      } catch (e) {
        // A run that fails before it starts (bad option, unreachable server, refused login, an ambiguous source)
        // still leaves its --report, so a script or a fleet sees why (issue 12).
        if (opts.report !== undefined) writeFailureReport(opts.report, sources, e);
        throw e;
      }
    });
  return cmd;
}

function writeFailureReport(path: string, sources: readonly string[], e: unknown): void {
  const err = toMailmigrateError(e);
  try {
    writeJsonFile(path, { version: 1, sources: sources.map((p) => resolve(p)), exitCode: EXIT_CANNOT_RUN, error: { code: err.code, message: err.message } });
  } catch {
    // The report path itself is the problem (a symlink, a missing directory): the error on stderr says enough.
  }
}


const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

interface Settings {
  connections: number;
  pipeline: number;
  batch: number | undefined;
  prefix: string[];
  progressIntervalMs: number;
  readThreads: number;
  rules: FolderRules;
}

function parseSettings(opts: ImportCliOptions): Settings {
  return {
    connections: optionalIntegerOption('--connections', opts.connections, 1, 64) ?? DEFAULTS.connections,
    pipeline: optionalIntegerOption('--pipeline', opts.pipeline, 1, 64) ?? DEFAULTS.pipeline,
    batch: optionalIntegerOption('--batch', opts.batch, 1, 1000),
    prefix: parseFolderPrefix(opts.folder),
    progressIntervalMs: optionalIntegerOption('--progress-interval', opts.progressInterval, 10, 3_600_000) ?? 5000,
    readThreads: optionalIntegerOption('--read-threads', opts.readThreads, 0, 64) ?? ReadPool.defaultThreads(),
    rules: folderRulesOf(opts),
  };
}

async function openSources(paths: readonly string[], opts: SourceCliOptions, readPool?: ReadPool): Promise<Source[]> {
  const list: Source[] = [];
  for (const p of paths) list.push(await openSource(p, { readPool, ...sourceOptionsOf(opts) }));
  return list;
}

/** Counts source messages in the background (fresh Source objects: a walk resets its source's stats). */
async function countMessages(paths: readonly string[], signal: AbortSignal): Promise<number | undefined> {
  let n = 0;
  for (const p of paths) {
    const s = await openSource(p);
    for await (const item of s.items()) {
      if (signal.aborted) return undefined;
      if (item.kind === 'message') n++;
    }
  }
  return n;
}

interface Target {
  readonly resolved: ResolvedTarget;
  readonly server: ImapServer | undefined;
}

async function embeddedTarget(): Promise<Target> {
  // The embedded server sets TCP_NODELAY on its own replies: a Node server with Nagle on can stall its replies
  // behind a delayed ACK (docs/measurements.md), which would make the first run on a fresh machine look slow for no reason.
  const server = await startServer({ store: 'memory', users: { test: 'test' }, noDelay: true });
  const resolved: ResolvedTarget = {
    host: server.host, port: server.port, tls: 'none', ca: undefined, rejectUnauthorized: true,
    user: 'test', password: 'test', loopback: true,
  };
  return { resolved, server };
}

export async function importAction(paths: string[], opts: ImportCliOptions): Promise<number> {
  const settings = parseSettings(opts);
  const target0 = await resolveTarget(opts, processIo());
  if (!target0 && opts.journal !== undefined) {
    throw new ConfigError('--journal', 'the embedded server keeps mail in memory only, so there is nothing to resume into; give --host');
  }
  let target: Target;
  if (target0) target = { resolved: target0, server: undefined };
  else {
    target = await embeddedTarget();
    out(
      opts.dryRun
        ? `No --host given: dry run against an empty embedded server at ${target.resolved.host}:${target.resolved.port}`
        : `No --host given: importing into the embedded server at ${target.resolved.host}:${target.resolved.port} (in memory, user "test"; the mail is discarded on exit)`,
    );
  }
  if (opts.dryRun && target0) out(`Dry run against ${describeTarget(target0)}: the server is read, nothing is sent`);
  const cleanups: Array<() => Promise<void> | void> = [];
  if (target.server) cleanups.push(() => target.server!.close());
  try {
    return await runImport(paths, opts, settings, target, cleanups);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  }
}

/** The resume journal: one per account (canonical server + user), checked against the server before it is believed.
 *  The embedded server's mail dies with the process, so its journal is a temporary file. */
async function openJournal(opts: ImportCliOptions, target: Target, cleanups: Array<() => Promise<void> | void>): Promise<Journal> {
  const t = target.resolved;
  const account = await canonicalAccount({ host: t.host, port: t.port, user: t.user });
  let journalPath: string;
  if (target.server) {
    const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-embedded-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    journalPath = join(dir, 'journal.jsonl');
  } else {
    journalPath = opts.journal ?? accountJournalPath(account);
  }
  const journal = await Journal.open(journalPath, { account });
  cleanups.push(() => journal.close());
  if (journal.repaired) err(`Journal: dropped a torn last line (${journal.repaired.droppedBytes} bytes) left by an interrupted run`);
  return journal;
}

async function runImport(
  paths: string[],
  opts: ImportCliOptions,
  settings: Settings,
  target: Target,
  cleanups: Array<() => Promise<void> | void>,
): Promise<number> {
  const t = target.resolved;
  const readPool = settings.readThreads > 0 ? new ReadPool(settings.readThreads) : undefined;
  if (readPool) cleanups.push(() => readPool.close());
  const sources = await openSources(paths, opts, readPool);
  const plane = await ControlPlane.connect(controlPlaneOptions(t));
  cleanups.push(() => plane.close());
  // A fresh control connection for look-ups after a fault that killed this one (server restart, BYE).
  const control = new ControlAdapter(plane, () => ControlPlane.connect(controlPlaneOptions(t)), transportIndexer(transportOptions(t)));
  cleanups.push(() => control.close());

  const roots = paths.map((p) => resolve(p)).sort();
  // A dry run reads the server only: no journal (nothing is recorded), no trust in one either.
  const journal = opts.dryRun ? undefined : await openJournal(opts, target, cleanups);

  const batch = settings.batch ?? (plane.capabilities.has('MULTIAPPEND') ? DEFAULTS.batch : 1);
  const latency = new Map<string, LatencyStats>();
  const serverMs: number[] = [];
  const connectMs: number[] = [];
  if (opts.report !== undefined) refuseOddPath(opts.report, '--report'); // written at the end: refuse a link now
  const trace = opts.trace !== undefined && !opts.dryRun ? new NdjsonWriter(opts.trace) : undefined;
  if (trace) cleanups.push(() => trace.close());
  const onRecord = (r: TimingRecord): void => {
    trace?.write(recordToJson(r));
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined) {
      let s = latency.get(r.verb);
      if (!s) latency.set(r.verb, (s = new LatencyStats()));
      s.record(w);
    }
    const dv = r.outcome?.text ? parseDovecotTiming(r.outcome.text) : undefined;
    if (dv !== undefined && serverMs.length < 20_000) serverMs.push(dv);
  };

  const abort = new AbortController();
  const progress: ProgressRenderer | undefined = opts.quiet ? undefined : createProgress({ intervalMs: settings.progressIntervalMs });
  if (progress) cleanups.push(() => progress.stop());
  if (progress) {
    countMessages(paths, abort.signal).then(
      (n) => n !== undefined && progress.setTotal(n),
      () => undefined,
    );
  }

  // SIGINT: the first stops reading and lets commands in flight finish (their outcome is journalled); the second
  // closes the journal synchronously and leaves at once — 'sent' records are already durable, so a re-run
  // re-checks those messages instead of duplicating them.
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      abort.abort();
      (progress?.log ?? err)('Interrupted: finishing the commands in flight and flushing the journal (Ctrl-C again to quit at once)');
      return;
    }
    try {
      trace?.close();
      journal?.closeSync();
    } finally {
      err(journal ? `Interrupted twice: journal closed at ${journal.path}; re-run the same command to resume` : 'Interrupted twice');
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on('SIGINT', onSigint);
  cleanups.push(() => void process.off('SIGINT', onSigint));

  const countersBefore = readKernelCounters();
  const importer = new Importer(control, journal, {
    pool: {
      ...transportOptions(t),
      noDelay: opts.nodelay,
      writeMode: opts.write,
      literalMode: opts.literal,
      pipelineDepth: settings.pipeline,
      connections: settings.connections,
    },
    batch,
    folderPrefix: settings.prefix,
    recheck: opts.recheck === true,
    syncFlags: opts.syncFlags,
    includeDeleted: opts.includeDeleted === true,
    dryRun: opts.dryRun === true,
    folderRules: settings.rules,
    foldersOnly: opts.foldersOnly === true,
    signal: abort.signal,
    onProgress: (p) => progress?.update(p),
    onRecord,
    onEvent: (e) => {
      if (e.type === 'pool') {
        const pe = e.event as { type: string; connectMs?: number; limit?: number; delayMs?: number; reason?: string };
        if (pe.type === 'connected' && pe.connectMs !== undefined) connectMs.push(pe.connectMs);
        else if (pe.type === 'connection-cap') progress?.log(`Server connection cap reached: continuing with ${pe.limit} connection(s)`);
        else if (pe.type === 'throttled') progress?.log(`Server throttling: waiting ${pe.delayMs} ms`);
        else if (pe.type === 'alert') (progress?.log ?? err)(`Server alert: ${printable(String((pe as { text?: string }).text ?? ''))}`);
        else if (pe.type === 'observer-failed') (progress?.log ?? err)(`warning: a timing observer failed (${printable(String(pe.reason ?? ''))}); the import goes on`);
      } else if (e.type === 'resume-checked') {
        progress?.log(`Lost replies: ${e.found} message(s) whose APPEND went unanswered are on the server, ${e.missing} are not and were sent again`);
      } else if (e.type === 'warning') progress?.log(`warning: ${e.message}`);
    },
  });
  const result = await importer.run(sources);
  abort.abort(); // stops the background count
  progress?.stop();
  const countersAfter = readKernelCounters();
  const counters = countersBefore && countersAfter ? diffCounters(countersBefore, countersAfter) : undefined;

  const report = buildReport({
    result, target, paths: roots, batch, settings, opts, latency, journalPath: target.server || !journal ? null : journal.path,
    diagnosis: diagnose({
      records: result.records,
      ...(counters ? { counters } : {}),
      connectMs,
      connections: { opened: result.connections.opened, needed: settings.connections },
      serverMs,
    }).map((d) => ({ code: d.code, message: d.message })),
  });
  out(renderImportSummary(report, { verbose: opts.verbose === true }));
  if (opts.report !== undefined) writeJsonFile(opts.report, report);
  return report.exitCode;
}

function buildReport(a: {
  result: ImportResult;
  target: Target;
  paths: string[];
  batch: number;
  settings: Settings;
  opts: ImportCliOptions;
  latency: Map<string, LatencyStats>;
  journalPath: string | null;
  diagnosis: Array<{ code: string; message: string }>;
}): ImportReport {
  const r = a.result;
  const secs = r.elapsedMs / 1000;
  const latency: Record<string, LatencySummary> = {};
  for (const [verb, s] of a.latency) {
    const x = s.summary();
    latency[verb] = { count: x.count, p50: x.p50, p90: x.p90, p99: x.p99, max: x.max };
  }
  return {
    version: 1,
    target: a.target.server ? `embedded server ${a.target.resolved.host}:${a.target.resolved.port}` : describeTarget(a.target.resolved),
    embedded: a.target.server !== undefined,
    sources: a.paths,
    dryRun: r.dryRun,
    interrupted: r.aborted,
    total: r.total,
    appended: r.appended,
    skipped: r.skipped,
    failed: r.failed,
    bytes: r.bytes,
    elapsedMs: Math.round(r.elapsedMs),
    msgsPerSec: secs > 0 ? r.appended / secs : 0,
    mbPerSec: secs > 0 ? r.bytes / 1e6 / secs : 0,
    settings: {
      connections: a.settings.connections,
      pipeline: a.settings.pipeline,
      batch: a.batch,
      noDelay: a.opts.nodelay,
      literal: a.opts.literal,
      write: a.opts.write,
      tls: a.target.resolved.tls,
      folderPrefix: a.settings.prefix.length ? a.settings.prefix.join('/') : null,
    },
    latency,
    diagnosis: a.diagnosis,
    failures: r.failures.map((f) => ({ source: f.source, code: f.code, reason: reasonWithoutSource(f.source, f.reason) })),
    flagsDropped: r.flagsDropped,
    foldersCreated: r.foldersCreated,
    repairs: r.repairs,
    skippedBy: r.skippedBy,
    excluded: r.excluded,
    skippedPaths: r.skippedPaths,
    sourceNotes: r.sourceNotes,
    alerts: r.alerts,
    flagsUpdated: r.flagsUpdated,
    folders: r.folders,
    unknownResolved: r.unknownResolved,
    connections: { opened: r.connections.opened, cap: r.connections.cap ?? null },
    journal: a.journalPath,
    exitCode: importExitCode({ failed: r.failed, aborted: r.aborted }),
  };
}
