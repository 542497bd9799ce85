import type { ImportResult } from './import-types.js';
import type { AdaptationReport } from './adaptation-report.js';

// The report of one import run, as `import --report` writes it and the summary renders it: one object, so the JSON
// and the text can never disagree.

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ImportSettings {
  readonly connections: number;
  readonly pipeline: number;
  readonly batch: number;
  readonly noDelay: boolean;
  readonly literal: string;
  readonly write: string;
  readonly tls: string;
  readonly folderPrefix: string | null;
}

/** The report of an import run (import-run.ts): the run's own counts (ImportResult, one definition) plus the target,
 *  settings, latency and diagnosis. */
export interface ImportRunReport
  extends Pick<ImportResult, 'skippedBy' | 'excluded' | 'skippedPaths' | 'sourceNotes' | 'alerts' | 'flagsUpdated' | 'folders' | 'foldersAtOnce'> {
  readonly version: 1;
  readonly target: string;
  readonly embedded: boolean;
  readonly sources: string[];
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  readonly total: number;
  readonly appended: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
  readonly settings: ImportSettings;
  /** recv-wait (last byte flushed → tagged reply) per command verb, ms. */
  readonly latency: Record<string, LatencySummary>;
  readonly diagnosis: Array<{ code: string; message: string }>;
  readonly failures: Array<{ source: string; code: string; reason: string }>;
  readonly flagsDropped: Record<string, number>;
  readonly foldersCreated: string[];
  readonly repairs: string[];
  readonly unknownResolved: number;
  /** What adaptation to the server chose and why (or, under --no-adapt, would have chosen). */
  readonly adaptation?: AdaptationReport;
  readonly connections: { opened: number; cap: number | null };
  readonly journal: string | null;
}

/** What `import` prints and writes (--report): the run's report and the exit code the CLI maps its outcome to. */
export interface ImportReport extends ImportRunReport {
  readonly exitCode: number;
}

/** Source errors already start with their path; the report lists the path apart, so drop the repeat. */
export function reasonWithoutSource(source: string, reason: string): string {
  return reason.startsWith(`${source}: `) ? reason.slice(source.length + 2) : reason;
}
