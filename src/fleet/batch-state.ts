import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import type { AccountError, AccountOutcome } from './account-runner.js';

// The aggregate of a batch (issue 15): `<state-dir>/batch.json` on one machine, and the same shape from
// `batch status` in queue mode, so one reader (a script, the HTML page, a person) handles both.
//
// It is rewritten after every change of an account (start, end) by write-then-rename, so a reader — or the
// batch itself after a crash — sees either the previous complete file or the new one, never half of one.

export type AccountStatus = 'pending' | 'running' | 'complete' | 'failed';

export interface AccountEntry {
  readonly id: string;
  /** Line of the accounts CSV. */
  readonly line: number;
  readonly user: string;
  /** host:port as the budget keys it. */
  readonly host: string;
  readonly source: string;
  status: AccountStatus;
  /** Import runs of this account in this batch (a retried job counts each try). */
  attempts: number;
  /** True when an earlier run of the batch had completed this account (this run re-checked it against the server). */
  wasComplete?: boolean;
  connections?: number;
  exitCode?: number | null;
  total: number;
  appended: number;
  skipped: number;
  failed: number;
  bytes: number;
  elapsedMs: number;
  startedAt?: string;
  finishedAt?: string;
  error?: AccountError;
  /** Where its log, report and journal are (on the machine that ran it). */
  dir?: string;
  /** Worker that ran it (queue mode). */
  worker?: string;
}

export interface BatchSummary {
  readonly version: 1;
  readonly mode: 'local' | 'queue';
  readonly source: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  readonly accounts: { total: number; complete: number; failed: number; pending: number; running: number };
  readonly messages: { total: number; appended: number; skipped: number; failed: number };
  readonly bytes: number;
  readonly elapsedMs: number;
  /** Messages appended per second of batch wall time. */
  readonly msgsPerSec: number;
  readonly maxConnectionsPerHost: number | null;
  /** Highest number of connections held at once per host, as granted by the budget (local mode). */
  readonly peakConnections: Readonly<Record<string, number>>;
  readonly list: readonly AccountEntry[];
}

export function newEntry(a: { id: string; line: number; user: string; host: string; source: string }): AccountEntry {
  return { id: a.id, line: a.line, user: a.user, host: a.host, source: a.source, status: 'pending', attempts: 0, total: 0, appended: 0, skipped: 0, failed: 0, bytes: 0, elapsedMs: 0 };
}

/** Copies an attempt's outcome into the entry. */
export function applyOutcome(e: AccountEntry, o: AccountOutcome): void {
  e.status = o.status;
  e.exitCode = o.exitCode;
  e.total = o.total;
  e.appended = o.appended;
  e.skipped = o.skipped;
  e.failed = o.failed;
  e.bytes = o.bytes;
  e.elapsedMs = o.elapsedMs;
  e.startedAt = o.startedAt;
  e.finishedAt = o.finishedAt;
  e.connections = o.connections;
  if (o.error) e.error = o.error;
  else delete e.error;
}

export interface SummaryMeta {
  readonly mode: 'local' | 'queue';
  readonly source: string;
  readonly startedAt: Date;
  readonly now: Date;
  readonly finished: boolean;
  readonly maxConnectionsPerHost: number | null;
  readonly peakConnections?: ReadonlyMap<string, number>;
}

/** The aggregate of the entries. Pure. */
export function summarize(list: readonly AccountEntry[], m: SummaryMeta): BatchSummary {
  const count = (s: AccountStatus): number => list.filter((e) => e.status === s).length;
  const sum = (f: (e: AccountEntry) => number): number => list.reduce((n, e) => n + f(e), 0);
  const elapsedMs = Math.max(0, m.now.getTime() - m.startedAt.getTime());
  const appended = sum((e) => e.appended);
  return {
    version: 1,
    mode: m.mode,
    source: m.source,
    startedAt: m.startedAt.toISOString(),
    updatedAt: m.now.toISOString(),
    finishedAt: m.finished ? m.now.toISOString() : null,
    accounts: { total: list.length, complete: count('complete'), failed: count('failed'), pending: count('pending'), running: count('running') },
    messages: { total: sum((e) => e.total), appended, skipped: sum((e) => e.skipped), failed: sum((e) => e.failed) },
    bytes: sum((e) => e.bytes),
    elapsedMs,
    msgsPerSec: elapsedMs > 0 ? Math.round((appended * 1000 * 10) / elapsedMs) / 10 : 0,
    maxConnectionsPerHost: m.maxConnectionsPerHost,
    peakConnections: Object.fromEntries(m.peakConnections ?? []),
    list: list.map((e) => ({ ...e })),
  };
}

/** Failures first (the part a person must act on), then running, pending, complete; CSV order within each. */
export function byAttention(list: readonly AccountEntry[]): AccountEntry[] {
  const rank: Record<AccountStatus, number> = { failed: 0, running: 1, pending: 2, complete: 3 };
  return [...list].sort((a, b) => rank[a.status] - rank[b.status] || a.line - b.line);
}

/** Writes JSON atomically (temp file in the same directory, fsync, rename), mode 0600: it names accounts. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The previous run's batch.json, or undefined when there is none (or it is unreadable: then we start afresh). */
export function readSummary(path: string): BatchSummary | undefined {
  try {
    if (statSync(path).size > 256 * 1024 * 1024) return undefined;
    const j = JSON.parse(readFileSync(path, 'utf8')) as BatchSummary;
    return j && j.version === 1 && Array.isArray(j.list) ? j : undefined;
  } catch {
    return undefined;
  }
}
