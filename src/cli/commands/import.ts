import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { diagnose, parseDovecotTiming } from '../../bench/diagnosis.js';
import { LatencyStats } from '../../bench/stats.js';
import { DEFAULT_SETTINGS } from '../../bench/profiles.js';
import { diffCounters, readKernelCounters } from '../../core/kernel-counters.js';
import { ConfigError } from '../../core/errors.js';
import type { LiteralMode, WriteMode } from '../../core/types.js';
import { defaultJournalPath, Journal } from '../../journal/journal.js';
import { ControlPlane } from '../../mailbox/control-plane.js';
import { ControlAdapter } from '../../migrate/control-adapter.js';
import { mapFolder } from '../../migrate/folder-map.js';
import { Importer, type ImportResult } from '../../migrate/importer.js';
import { startServer, type ImapServer } from '../../server/server.js';
import { openSource, readAhead, ReadPool, type Source } from '../../sources/index.js';
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
import { EXIT_INTERRUPTED, importExitCode } from '../exit-code.js';
import { NdjsonWriter, writeJsonFile } from '../render/json.js';
import { createProgress, type ProgressRenderer } from '../render/progress.js';
import { type ImportReport, type LatencySummary, reasonWithoutSource, renderImportSummary, renderPlan } from '../render/summary.js';

// `mailmigrate import <source...>`: the command users run (issue 4). This file wires options, the embedded server
// fallback, the journal, progress, SIGINT and the report around src/migrate/importer.ts, which does the work.
//
// Defaults are the fastest safe settings measured here, kept in one place (DEFAULT_SETTINGS, src/bench/profiles.ts,
// where the measurements are cited): TCP_NODELAY on, coalesced writes, literal 'auto' (LITERAL+ when offered, up to
// its size cap), MULTIAPPEND batches of 50 when offered, pipeline depth 2, 2 connections (the pool settles below any
// cap the server enforces; Dovecot's per-user+IP cap is 10).

export interface ImportCliOptions extends ConnectionCliOptions {
  folder?: string;
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
  quiet?: boolean;
  progressInterval?: string;
  readThreads?: string;
}

export const DEFAULTS = {
  connections: DEFAULT_SETTINGS.connections,
  pipeline: DEFAULT_SETTINGS.pipelineDepth,
  batch: DEFAULT_SETTINGS.batch,
} as const;

export function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

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
  addConnectionOptions(cmd)
    .option('--folder <prefix>', 'import under this folder ("A/B" for a nested one)')
    .option('--connections <n>', `APPEND connections (default ${DEFAULTS.connections}; never more than the server accepts)`)
    .option('--pipeline <n>', `commands in flight per connection (default ${DEFAULTS.pipeline})`)
    .option('--batch <n>', `messages per MULTIAPPEND (default ${DEFAULTS.batch} when offered; 1 = off)`)
    .option('--nodelay', 'set TCP_NODELAY (default)', true)
    .option('--no-nodelay', 'leave Nagle on (only to reproduce delayed-ACK stalls)')
    .addOption(new Option('--literal <mode>', 'literal announcement').choices(['auto', 'sync', 'plus', 'minus']).default('auto'))
    .addOption(new Option('--write <mode>', 'socket write strategy').choices(['coalesce', 'split']).default('coalesce'))
    .option('--journal <file>', 'resume journal (default: per-user state directory, keyed by source and target)')
    .option('--report <file>', 'write the run report as JSON')
    .option('--trace <file>', 'write one NDJSON timing record per command')
    .option('--dry-run', 'read and plan: show folders and counts, send nothing')
    .option('--quiet', 'no progress output, only the summary')
    .option('--read-threads <n>', 'worker threads that read, normalize and fingerprint message files (default: cores - 1, at most 4; 0 = main thread)')
    .addOption(new Option('--progress-interval <ms>', 'plain progress line period off a TTY').default('5000').hideHelp())
    .action(async (sources: string[], opts: ImportCliOptions) => {
      process.exitCode = await importAction(sources, opts);
    });
  return cmd;
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
}

function parseSettings(opts: ImportCliOptions): Settings {
  return {
    connections: intOption('--connections', opts.connections, 1, 64) ?? DEFAULTS.connections,
    pipeline: intOption('--pipeline', opts.pipeline, 1, 64) ?? DEFAULTS.pipeline,
    batch: intOption('--batch', opts.batch, 1, 1000),
    prefix: parseFolderPrefix(opts.folder),
    progressIntervalMs: intOption('--progress-interval', opts.progressInterval, 10, 3_600_000) ?? 5000,
    readThreads: intOption('--read-threads', opts.readThreads, 0, 64) ?? ReadPool.defaultThreads(),
  };
}

async function openSources(paths: readonly string[], readPool?: ReadPool): Promise<Source[]> {
  const list: Source[] = [];
  for (const p of paths) list.push(await openSource(p, { readPool }));
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
  // behind a delayed ACK (facts.md), which would make the first run on a fresh machine look slow for no reason.
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
  if (opts.dryRun) return dryRun(paths, opts, settings, target0);

  let target: Target;
  if (target0) target = { resolved: target0, server: undefined };
  else {
    target = await embeddedTarget();
    out(`No --host given: importing into the embedded server at ${target.resolved.host}:${target.resolved.port} (in memory, user "test"; the mail is discarded on exit)`);
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  if (target.server) cleanups.push(() => target.server!.close());
  try {
    return await runImport(paths, opts, settings, target, cleanups);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  }
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
  const sources = await openSources(paths, readPool);
  const plane = await ControlPlane.connect(controlPlaneOptions(t));
  cleanups.push(() => plane.close());
  // A fresh control connection for look-ups after a fault that killed this one (server restart, BYE).
  const control = new ControlAdapter(plane, () => ControlPlane.connect(controlPlaneOptions(t)));
  cleanups.push(() => control.close());

  // Journal: keyed by source roots and target; the embedded server's mail dies with the process, so its journal
  // is a temporary file (a later run must not skip messages that are no longer anywhere).
  const roots = paths.map((p) => resolve(p)).sort();
  let journalPath: string;
  if (target.server) {
    const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-embedded-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    journalPath = join(dir, 'journal.jsonl');
  } else {
    journalPath = opts.journal ?? defaultJournalPath(roots, { host: t.host, port: t.port, user: t.user, folderPrefix: settings.prefix.join('/') });
  }
  const scheme = t.tls === 'implicit' ? 'imaps' : 'imap';
  const journal = await Journal.open(journalPath, {
    source: JSON.stringify(roots),
    target: `${scheme}://${t.user}@${t.host}:${t.port}/${settings.prefix.join('/')}`,
  });
  cleanups.push(() => journal.close());
  if (journal.repaired) err(`Journal: dropped a torn last line (${journal.repaired.droppedBytes} bytes) left by an interrupted run`);

  const batch = settings.batch ?? (plane.capabilities.has('MULTIAPPEND') ? DEFAULTS.batch : 1);
  const latency = new Map<string, LatencyStats>();
  const serverMs: number[] = [];
  const connectMs: number[] = [];
  const trace = opts.trace !== undefined ? new NdjsonWriter(opts.trace) : undefined;
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
      journal.closeSync();
    } finally {
      err(`Interrupted twice: journal closed at ${journal.path}; re-run the same command to resume`);
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
    signal: abort.signal,
    onProgress: (p) => progress?.update(p),
    onRecord,
    onEvent: (e) => {
      if (e.type === 'pool') {
        const pe = e.event as { type: string; connectMs?: number; limit?: number; delayMs?: number; reason?: string };
        if (pe.type === 'connected' && pe.connectMs !== undefined) connectMs.push(pe.connectMs);
        else if (pe.type === 'connection-cap') progress?.log(`Server connection cap reached: continuing with ${pe.limit} connection(s)`);
        else if (pe.type === 'throttled') progress?.log(`Server throttling: waiting ${pe.delayMs} ms`);
      } else if (e.type === 'resume-checked') {
        progress?.log(`Resume: ${e.found} message(s) sent by an interrupted run are on the server, ${e.missing} are not and will be sent`);
      } else if (e.type === 'warning') progress?.log(`warning: ${e.message}`);
    },
  });
  const result = await importer.run(sources);
  abort.abort(); // stops the background count
  progress?.stop();
  const countersAfter = readKernelCounters();
  const counters = countersBefore && countersAfter ? diffCounters(countersBefore, countersAfter) : undefined;

  const report = buildReport({
    result, target, paths: roots, batch, settings, opts, latency, journalPath: target.server ? null : journal.path,
    diagnosis: diagnose({
      records: result.records,
      ...(counters ? { counters } : {}),
      connectMs,
      connections: { opened: result.connections.opened, needed: settings.connections },
      serverMs,
    }).map((d) => ({ code: d.code, message: d.message })),
  });
  out(renderImportSummary(report));
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
    dryRun: false,
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
    resumed: r.resumed,
    unknownResolved: r.unknownResolved,
    connections: { opened: r.connections.opened, cap: r.connections.cap ?? null },
    journal: a.journalPath,
    exitCode: importExitCode({ failed: r.failed, aborted: r.aborted }),
  };
}

/** --dry-run: reads every message, maps folders as the import would, and sends nothing (at most a LIST). */
async function dryRun(paths: string[], opts: ImportCliOptions, settings: Settings, target: ResolvedTarget | undefined): Promise<number> {
  let delimiter = '/';
  const specialUse = new Map<string, string>();
  const existing = new Set<string>(['INBOX']);
  if (target) {
    // Login and LIST only: the delimiter and special-use folders decide the plan; nothing is created or appended.
    const plane = await ControlPlane.connect(controlPlaneOptions(target));
    try {
      delimiter = await plane.delimiter();
      for (const f of await plane.listFolders()) {
        existing.add(/^inbox$/i.test(f.path) ? 'INBOX' : f.path);
        if (f.specialUse) specialUse.set(f.specialUse, f.path);
      }
    } finally {
      await plane.close();
    }
    out(`Dry run against ${describeTarget(target)}: nothing will be sent`);
  } else {
    out('No --host given: dry run for the embedded server (hierarchy delimiter "/"); nothing will be sent');
  }
  const sources = await openSources(paths);
  const folders = new Map<string, { path: string; messages: number; bytes: number; create: boolean }>();
  const failures: Array<{ source: string; code: string; reason: string }> = [];
  let total = 0;
  for (const source of sources) {
    for await (const item of readAhead(source.items(), { depth: 32 })) {
      if (item.kind === 'skipped') continue; // not mail: to be reported per reason (issue 12)
      total++;
      if (item.kind === 'rejected') {
        failures.push({ source: item.message?.origin ?? item.error.path, code: item.error.code, reason: item.error.message });
        continue;
      }
      const path = mapFolder(item.message.folder, { delimiter, specialUse }, settings.prefix).path;
      const f = folders.get(path) ?? { path, messages: 0, bytes: 0, create: !existing.has(/^inbox$/i.test(path) ? 'INBOX' : path) };
      f.messages++;
      f.bytes += item.normalized.data.length;
      folders.set(path, f);
    }
  }
  out(renderPlan({ folders: [...folders.values()].sort((x, y) => x.path.localeCompare(y.path)), failures, total }));
  if (opts.report !== undefined) {
    writeJsonFile(opts.report, {
      version: 1, dryRun: true, sources: paths.map((p) => resolve(p)), total,
      folders: [...folders.values()], failures,
      messages: [...folders.values()].reduce((n, f) => n + f.messages, 0),
      bytes: [...folders.values()].reduce((n, f) => n + f.bytes, 0),
    });
  }
  return 0;
}
