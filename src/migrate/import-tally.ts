import { derivePhases, type TimingRecord } from '../transport/timing.js';
import type { FolderReport } from './folder-runs.js';
import type { Failure, ImportProgress, ImportResult, SkippedBy } from './import-types.js';

// What an import counts while it runs, and the result assembled from it at the end. Every list here is bounded:
// a tree of clutter, a chatty server or a run of any length cannot grow memory through the report.

/** Timing records kept for the report's latency figures. A reservoir of 2000 estimates a percentile p within
 *  ±2·sqrt(p(1−p)/2000) (±0.45 points at p99); 20 000 records held ~10 MB that filled up over a million-message
 *  import (one record per MULTIAPPEND), growth the memory target does not allow (issue 14). */
const RECORD_SAMPLE = 2_000;
/** Skipped paths listed one by one in the report; beyond this only counted. */
const MAX_SKIPPED_PATHS = 10_000;
const MAX_ALERTS = 100;
const MAX_ALERT_CHARS = 500;

export class ImportTally {
  readonly progress: ImportProgress = { appended: 0, skipped: 0, failed: 0, bytes: 0, seen: 0 };
  readonly skippedBy: SkippedBy = { journal: 0, checked: 0, deleted: 0, excluded: 0, foldersOnly: 0 };
  readonly failures: Failure[] = [];
  readonly flagsDropped: Record<string, number> = {};
  readonly foldersCreated: string[] = [];
  readonly repairs = new Set<string>();
  readonly sourceNotes = new Set<string>();
  flagsUpdated = 0;
  unknownResolved = 0;
  private readonly excluded = new Map<string, { rule: string; messages: number }>();
  private readonly skippedPaths = { byReason: {} as Record<string, number>, paths: [] as Array<{ path: string; reason: string; detail: string }>, pathsLeftOut: 0 };
  /** [ALERT] texts the server sent (RFC 3501 §7.1: must be shown to the user), each once. */
  private readonly alerts = new Set<string>();
  private readonly records: TimingRecord[] = [];
  private recordsSeen = 0;
  /** The longest the server took to answer one command this run (continuation and reply waits), in ms. */
  slowestAnswerMs = 0;

  constructor(private readonly onProgress?: (p: ImportProgress) => void) {}

  /** Tells the observer where the run is. */
  report(): void {
    this.onProgress?.(this.progress);
  }

  /** A message not read, counted under its reason. */
  skip(why: keyof SkippedBy): void {
    this.progress.seen++;
    this.progress.skipped++;
    this.skippedBy[why]++;
    this.report();
  }

  /** A message on the server now (appended, or found after its reply was lost). The caller reports. */
  appended(bytes: number): void {
    this.progress.appended++;
    this.progress.bytes += bytes;
  }

  fail(source: string, err: { code: string; message: string }): void {
    this.progress.failed++;
    this.failures.push({ source, code: err.code, reason: err.message });
  }

  noteExcluded(folder: string, rule: string): void {
    const e = this.excluded.get(folder) ?? { rule, messages: 0 };
    e.messages++;
    this.excluded.set(folder, e);
  }

  noteAlert(text: string): void {
    if (this.alerts.size < MAX_ALERTS) this.alerts.add(text.slice(0, MAX_ALERT_CHARS));
  }

  noteSkippedPath(item: { path: string; reason: string; detail: string }): void {
    const s = this.skippedPaths;
    s.byReason[item.reason] = (s.byReason[item.reason] ?? 0) + 1;
    if (s.paths.length < MAX_SKIPPED_PATHS) s.paths.push({ path: item.path, reason: item.reason, detail: item.detail });
    else s.pathsLeftOut++;
  }

  noteRecord(r: TimingRecord): void {
    const p = derivePhases(r);
    const answer = p.continuationWaitMs + (p.recvWaitMs ?? 0);
    if (answer > this.slowestAnswerMs) this.slowestAnswerMs = answer;
    // Reservoir sample (Vitter's algorithm R): bounded memory, unbiased over a run of any length.
    this.recordsSeen++;
    if (this.records.length < RECORD_SAMPLE) this.records.push(r);
    else {
      const j = Math.floor(Math.random() * this.recordsSeen);
      if (j < RECORD_SAMPLE) this.records[j] = r;
    }
  }

  result(end: {
    elapsedMs: number;
    folders: FolderReport[];
    aborted: boolean;
    dryRun: boolean;
    connections: { opened: number; cap: number | undefined };
    foldersAtOnce: number;
  }): ImportResult {
    return {
      ...this.progress,
      total: this.progress.seen,
      elapsedMs: end.elapsedMs,
      failures: this.failures,
      skippedBy: { ...this.skippedBy },
      excluded: [...this.excluded].map(([source, e]) => ({ source, ...e })),
      skippedPaths: this.skippedPaths,
      sourceNotes: [...this.sourceNotes],
      alerts: [...this.alerts],
      flagsUpdated: this.flagsUpdated,
      folders: end.folders,
      flagsDropped: this.flagsDropped,
      foldersCreated: this.foldersCreated,
      repairs: [...this.repairs],
      unknownResolved: this.unknownResolved,
      aborted: end.aborted,
      dryRun: end.dryRun,
      records: this.records,
      connections: end.connections,
      foldersAtOnce: end.foldersAtOnce,
    };
  }
}
