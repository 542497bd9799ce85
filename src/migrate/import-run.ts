import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_SETTINGS } from '../core/settings.js';
import type { LatencyStats } from '../analysis/stats.js';
import { ConfigError } from '../core/errors.js';
import { diffCounters, readKernelCounters } from '../core/kernel-counters.js';
import type { LiteralMode, WriteMode } from '../core/types.js';
import { accountJournalPath, Journal, type JournalOptions } from '../journal/journal.js';
import { openSource, ReadPool, refuseOverlappingSources, type Source, type SourceFolder, type SourceOptions } from '../sources/index.js';
import type { PoolOptions } from '../transport/pool.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { canonicalAccount } from './account.js';
import { transportIndexer } from './bulk-index.js';
import { ControlAdapter } from './control-adapter.js';
import { RunConnections } from './run-connections.js';
import type { SyncFlagsMode } from './flag-sync.js';
import type { FolderRules } from './folder-rules.js';
import { type ImportRunReport, type LatencySummary, reasonWithoutSource } from './import-report.js';
import { folderList, Importer } from './importer.js';
import type { ImportEvent, ImportProgress, ImportResult } from './import-types.js';
import { describeTarget, type ResolvedTarget, transportOptions } from './target.js';
import { boundsFor } from '../core/settings.js';
import type { AdaptationReport } from './adaptation-report.js';

// The import use case (issue 13: options in, report out): everything `mailmigrate import` does between parsing its
// options and printing its summary. It opens the sources, the control plane and the resume journal (one per
// account), starts the embedded server when no target is given, runs the Importer, and assembles the report with
// latency and diagnosis. It prints nothing: what happens is told to an observer; the CLI renders it and maps the
// outcome to an exit code. SIGINT is the caller's: it aborts `signal` (finish what is in flight) or, to leave at
// once, calls closeJournalSync().

export interface ImportRunOptions {
  /** Source paths (Maildir, Maildir++, mbox, .eml trees). */
  readonly sources: readonly string[];
  /** The server; undefined: the embedded server, in memory, discarded at the end (a demo, nothing leaves the machine). */
  readonly target: ResolvedTarget | undefined;
  /** Resume journal path; default one per account in the user's state directory. Refused with the embedded server. */
  readonly journal?: string | undefined;
  readonly connections: number;
  readonly pipeline: number;
  /** MULTIAPPEND size; undefined: DEFAULT_SETTINGS.batch (src/core/settings.ts, measured) when the server offers MULTIAPPEND, else 1. */
  readonly batch?: number | undefined;
  readonly folderPrefix: readonly string[];
  readonly folderRules: FolderRules;
  readonly sourceOptions?: Pick<SourceOptions, 'followSymlinks' | 'format'>;
  /** Worker threads reading message files (0 = the main thread). */
  readonly readThreads: number;
  readonly noDelay: boolean;
  readonly literal: LiteralMode;
  readonly write: WriteMode;
  readonly recheck?: boolean;
  readonly syncFlags: SyncFlagsMode;
  readonly includeDeleted?: boolean;
  readonly dryRun?: boolean;
  readonly foldersOnly?: boolean;
  /** Folders filled at once (--folders-at-once); undefined: decided from the server met (folder-lanes.ts). */
  readonly foldersAtOnce?: number | undefined;
  /** Count the source's messages in the background, for a progress total (observer.total). */
  readonly countTotal?: boolean;
  /** Adapt depth, connections and batch to the server met (default true); false = --no-adapt: advice only. */
  readonly adapt?: boolean;
  /** Aborted: stop reading, let commands in flight finish (their outcome is journalled). */
  readonly signal?: AbortSignal;
  /**
   * Settings the CLI does not expose, for the reliability harness and benchmarks that drive a run harder than a user
   * would: transport tuning (short phase timeouts, fast reconnects) and journal options (group-commit interval, I/O).
   */
  readonly tuning?: { readonly pool?: Partial<PoolOptions>; readonly journal?: JournalOptions };
}

export interface ImportObserver {
  /** The server is known (for the embedded one: started), before anything is read. */
  readonly target?: (t: { readonly embedded: boolean; readonly host: string; readonly port: number; readonly description: string }) => void;
  /** Something the user should know that is not part of the report (a torn journal line repaired). */
  readonly notice?: (text: string) => void;
  readonly total?: (messages: number) => void;
  readonly progress?: (p: ImportProgress) => void;
  /** One timing record per command (for --trace). */
  readonly record?: (r: TimingRecord) => void;
  readonly event?: (e: ImportEvent) => void;
}

/** How the run ended: every message on the server; finished with failures (listed); interrupted before the end. */
export type ImportOutcome = 'complete' | 'partial' | 'interrupted';

export function importOutcome(r: { failed: number; interrupted: boolean }): ImportOutcome {
  if (r.interrupted) return 'interrupted';
  return r.failed > 0 ? 'partial' : 'complete';
}

type Cleanup = () => Promise<void> | void;

export class ImportRun {
  #journal: Journal | undefined;

  constructor(
    private readonly options: ImportRunOptions,
    private readonly observer: ImportObserver = {},
  ) {}

  /** Runs the import; throws when it cannot run (bad option, unreachable server, refused login, ambiguous source). */
  async run(): Promise<{ report: ImportRunReport; outcome: ImportOutcome; result: ImportResult }> {
    const o = this.options;
    if (!o.target && o.journal !== undefined) {
      throw new ConfigError('--journal', 'the embedded server keeps mail in memory only, so there is nothing to resume into; give --host');
    }
    const cleanups: Cleanup[] = [];
    try {
      let target: ResolvedTarget;
      let embedded = false;
      if (o.target) target = o.target;
      else {
        target = await embeddedTarget(cleanups);
        embedded = true;
      }
      this.observer.target?.({
        embedded,
        host: target.host,
        port: target.port,
        description: embedded ? `embedded server ${target.host}:${target.port}` : describeTarget(target),
      });
      const { report, result } = await this.runOn(target, embedded, cleanups);
      return { report, outcome: importOutcome(report), result };
    } finally {
      for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
    }
  }

  /** Closes the journal at once (a second Ctrl-C): 'sent' records are already durable, so a re-run re-checks those
   *  messages instead of duplicating them. Returns the journal's path, if one was open. */
  closeJournalSync(): string | undefined {
    const j = this.#journal;
    if (!j) return undefined;
    j.closeSync();
    return j.path;
  }

  private async runOn(t: ResolvedTarget, embedded: boolean, cleanups: Cleanup[]): Promise<{ report: ImportRunReport; result: ImportResult }> {
    const o = this.options;
    // The connection options of every APPEND connection, one object: the early first connection and the pool must
    // be given the same values (FirstConnection compares them).
    const { maxPipelineDepth } = boundsFor({ pipelineDepth: o.pipeline, batch: 1, connections: o.connections });
    const connection = {
      ...transportOptions(t),
      noDelay: o.noDelay,
      writeMode: o.write,
      literalMode: o.literal,
      pipelineDepth: o.pipeline,
      maxPipelineDepth,
    };
    const readPool = o.readThreads > 0 ? new ReadPool(o.readThreads) : undefined;
    if (readPool) cleanups.push(() => readPool.close());
    const sources: Source[] = [];
    await refuseOverlappingSources(o.sources);
    for (const p of o.sources) sources.push(await openSource(p, { readPool, ...o.sourceOptions }));
    // The first source's folder list is the first thing the importer needs once the server has answered: walked now,
    // while the connections log in (51 folders: ~22 ms of directory reads off the critical path, at any round trip).
    // Its error, if any, is met where it was before: when the importer reads the list.
    const folderLists = new Map<Source, Promise<readonly SourceFolder[]>>();
    if (sources[0]) {
      const listing = folderList(sources[0]);
      listing.catch(() => undefined);
      folderLists.set(sources[0], listing);
    }
    // Start-up (issue 14): the sources are usable (a bad path never reaches the server), so the run's connections go
    // out now, in the order its first APPEND needs them (run-connections.ts). A dry run opens no pool.
    const adapting = o.adapt !== false && o.dryRun !== true;
    // The run sends to INBOX when the first source has a top level and no folder rule or --folder prefix moves it
    // (mapFolder: [] is INBOX): known once the walk above is done, which is usually before the survey has logged in.
    let toInbox = false;
    const firstFolders = sources[0] ? folderLists.get(sources[0]) : undefined;
    if (firstFolders && o.folderRules.empty && o.folderPrefix.length === 0) {
      firstFolders.then(
        (fs) => (toInbox = fs.some((f) => f.folder.length === 0)),
        () => undefined,
      );
    }
    const dial = await RunConnections.open({
      target: t,
      connection,
      earlyDepth: Math.max(o.pipeline, maxPipelineDepth),
      connections: o.connections,
      pipelineDepth: o.pipeline,
      literalMode: o.literal,
      dryRun: o.dryRun === true,
      adapting,
      sourceFolders: sources.length === 1 ? folderLists.get(sources[0]!) : undefined,
      inbox: () => toInbox,
    });
    // The connections besides the pool's are closed together at the end: each close waits for its LOGOUT's answer,
    // one round trip, and one after the other they were three round trips after the last APPEND.
    const closers: Cleanup[] = [];
    cleanups.push(() => Promise.all(closers.map((c) => Promise.resolve().then(c).catch(() => undefined))).then(() => undefined));
    closers.push(() => dial.close());
    // The analysis (latency statistics, the diagnosis and the adaptation policy built on it) is loaded once the server
    // answered, not before the first byte goes out: ~0.1 s CPU of module loading (docs/measurements.md "Start-up").
    const [{ LatencyStats }, { diagnose, parseDovecotTiming }, { AdaptiveController }] = await Promise.all([
      import('../analysis/stats.js'),
      import('../analysis/diagnosis.js'),
      import('./adaptive-run.js'),
    ]);
    // A fresh control connection for look-ups after a fault that killed this one (server restart, BYE).
    const indexer = transportIndexer(transportOptions(t));
    closers.push(() => indexer.close());
    const control = new ControlAdapter(dial.plane, dial.connectPlane, indexer, dial.survey, dial.listing);
    closers.push(() => control.close());

    // A dry run reads the server only: no journal (nothing is recorded), no trust in one either.
    const journal = o.dryRun ? undefined : await this.openJournal(t, embedded, cleanups);
    const caps = await dial.capabilities();
    const earlyChange = await dial.connectionsChange(caps);
    const batch = o.batch ?? (caps.multiappend ? DEFAULT_SETTINGS.batch : 1);
    const bounds = boundsFor({ pipelineDepth: o.pipeline, batch, connections: o.connections });

    const latency = new Map<string, LatencyStats>();
    const serverMs: number[] = [];
    const connectMs: number[] = [];
    const onRecord = (r: TimingRecord): void => {
      this.observer.record?.(r);
      const w = derivePhases(r).recvWaitMs;
      if (w !== undefined) {
        let s = latency.get(r.verb);
        if (!s) latency.set(r.verb, (s = new LatencyStats()));
        s.record(w);
      }
      const dv = r.outcome?.text ? parseDovecotTiming(r.outcome.text) : undefined;
      if (dv !== undefined && serverMs.length < 20_000) serverMs.push(dv);
    };

    const counting = new AbortController();
    o.signal?.addEventListener('abort', () => counting.abort(), { once: true });
    const onTotal = this.observer.total;
    if (o.countTotal && onTotal) {
      countMessages(o.sources, counting.signal).then(
        (n) => n !== undefined && onTotal(n),
        () => undefined,
      );
    }
    const countersBefore = readKernelCounters();
    // Adaptation (issue 16): the given settings are a starting point; the controller reads the first seconds' timing
    // records and changes depth, connections or batch within bounds, or only advises under --no-adapt.
    const adaptive = new AdaptiveController(
      { enabled: adapting, literalMode: o.literal, batch, bounds, before: earlyChange ? [earlyChange] : [] },
      { pipelineDepth: o.pipeline, connections: o.connections, connectionsPerFolder: undefined },
    );
    let result: ImportResult;
    try {
      const importer = new Importer(control, journal, {
        folderLists,
        pool: {
          ...connection,
          // With --no-adapt the change is advice only (AdaptiveOptions.before), like the rule it follows from.
          connections: adapting && typeof earlyChange?.to === 'number' ? earlyChange.to : o.connections,
          observer: adaptive,
          ...(dial.first ? { connect: dial.first.connect } : {}),
          ...o.tuning?.pool,
        },
        batch,
        folderPrefix: o.folderPrefix,
        recheck: o.recheck === true,
        syncFlags: o.syncFlags,
        includeDeleted: o.includeDeleted === true,
        dryRun: o.dryRun === true,
        folderRules: o.folderRules,
        foldersOnly: o.foldersOnly === true,
        ...(o.foldersAtOnce !== undefined ? { foldersAtOnce: o.foldersAtOnce } : {}),
        signal: o.signal,
        onProgress: (p) => this.observer.progress?.(p),
        onRecord,
        onEvent: (e) => {
          if (e.type === 'pool') {
            const pe = e.event as { type: string; connectMs?: number };
            if (pe.type === 'connected' && pe.connectMs !== undefined) connectMs.push(pe.connectMs);
          }
          this.observer.event?.(e);
        },
      });
      result = await importer.run(sources);
    } finally {
      counting.abort(); // stops the background count
    }
    const countersAfter = readKernelCounters();
    const counters = countersBefore && countersAfter ? diffCounters(countersBefore, countersAfter) : undefined;
    const diagnosis = diagnose({
      records: result.records,
      ...(counters ? { counters } : {}),
      connectMs,
      connections: { opened: result.connections.opened, needed: o.connections },
      serverMs,
    }).map((d) => ({ code: d.code, message: d.message }));
    const report = buildReport({ result, target: t, embedded, batch, options: o, latency, diagnosis, adaptation: adaptive.report(), journalPath: embedded || !journal ? null : journal.path });
    return { report, result };
  }

  /** The resume journal: one per account (canonical server + user), checked against the server before it is believed.
   *  The embedded server's mail dies with the process, so its journal is a temporary file. */
  private async openJournal(t: ResolvedTarget, embedded: boolean, cleanups: Cleanup[]): Promise<Journal> {
    const account = await canonicalAccount({ host: t.host, port: t.port, user: t.user });
    let journalPath: string;
    if (embedded) {
      const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-embedded-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      journalPath = join(dir, 'journal.jsonl');
    } else {
      journalPath = this.options.journal ?? accountJournalPath(account);
    }
    const journal = await Journal.open(journalPath, { account }, this.options.tuning?.journal);
    this.#journal = journal;
    cleanups.push(() => journal.close());
    if (journal.repaired) this.observer.notice?.(`Journal: dropped a torn last line (${journal.repaired.droppedBytes} bytes) left by an interrupted run`);
    return journal;
  }
}

async function embeddedTarget(cleanups: Cleanup[]): Promise<ResolvedTarget> {
  // Loaded only when used: an import into a real server never pays for the embedded server's code at start-up.
  const { startServer } = await import('../server/server.js');
  // The embedded server sets TCP_NODELAY on its own replies: a Node server with Nagle on can stall its replies
  // behind a delayed ACK (docs/measurements.md), which would make the first run on a fresh machine look slow for no reason.
  const server = await startServer({ store: 'memory', users: { test: 'test' }, noDelay: true });
  cleanups.push(() => server.close());
  return {
    host: server.host, port: server.port, tls: 'none', ca: undefined, rejectUnauthorized: true,
    user: 'test', password: 'test', loopback: true,
  };
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

function buildReport(a: {
  result: ImportResult;
  target: ResolvedTarget;
  embedded: boolean;
  batch: number;
  options: ImportRunOptions;
  latency: Map<string, LatencyStats>;
  diagnosis: Array<{ code: string; message: string }>;
  adaptation: AdaptationReport;
  journalPath: string | null;
}): ImportRunReport {
  const r = a.result;
  const o = a.options;
  const secs = r.elapsedMs / 1000;
  const latency: Record<string, LatencySummary> = {};
  for (const [verb, s] of a.latency) {
    const x = s.summary();
    latency[verb] = { count: x.count, p50: x.p50, p90: x.p90, p99: x.p99, max: x.max };
  }
  return {
    version: 1,
    target: a.embedded ? `embedded server ${a.target.host}:${a.target.port}` : describeTarget(a.target),
    embedded: a.embedded,
    sources: o.sources.map((p) => resolve(p)).sort(),
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
      connections: o.connections,
      pipeline: o.pipeline,
      batch: a.batch,
      noDelay: o.noDelay,
      literal: o.literal,
      write: o.write,
      tls: a.target.tls,
      folderPrefix: o.folderPrefix.length ? o.folderPrefix.join('/') : null,
    },
    latency,
    diagnosis: a.diagnosis,
    adaptation: a.adaptation,
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
    foldersAtOnce: r.foldersAtOnce,
    journal: a.journalPath,
  };
}
