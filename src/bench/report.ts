import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { Diagnosis } from '../analysis/diagnosis.js';
import type { AdaptationReport } from '../migrate/adaptation-report.js';
import type { Bucket, Summary } from '../analysis/stats.js';

// The bench's result shape, shared by the runner (which fills it), the table renderer, --json (written as is)
// and --html (report-html.ts). Units are in the names or stated here: ms are milliseconds, MB is 10^6 bytes
// (as in docs/measurements.md's "107.8 MB"), rates are per second of wall time.

export interface MachineInfo {
  readonly platform: string;
  readonly arch: string;
  /** Kernel release (os.release()). */
  readonly kernel: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryMB: number;
  readonly node: string;
}

export interface BenchRun {
  /** Profile name, e.g. "imaplib-like" or "pipelined". */
  readonly profile: string;
  /** One sentence on what the profile does. */
  readonly description: string;
  /** The transport settings the profile ran with (connections, depth, writeMode, noDelay, …). */
  readonly settings: Record<string, unknown>;
  readonly messages: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
  /** Recv-wait summaries per verb; APPEND always present (count 0 when nothing was appended). */
  readonly latency: { readonly APPEND: Summary } & Readonly<Record<string, Summary>>;
  /** Log-scale buckets of APPEND recv-wait (LatencyStats.buckets()). */
  readonly histogram: readonly Bucket[];
  readonly diagnosis: readonly Diagnosis[];
  /** The run hit its time or error budget before the corpus was done. */
  readonly stoppedEarly?: boolean;
  /** Adaptive profile: what adaptation chose after the first seconds, and why. */
  readonly adaptation?: AdaptationReport;
}

export interface BenchReport {
  readonly machine: MachineInfo;
  /** ISO 8601 wall-clock time the bench started. */
  readonly startedAt: string;
  readonly runs: readonly BenchRun[];
  /** Where the bench appended: "embedded server" or host:port (never credentials). */
  readonly target?: string;
  readonly corpus?: { readonly messages: number; readonly bytes: number; readonly seed?: number; readonly fixedSize?: number };
}

/** Machine facts for a report: no hostname or user name, reports get pasted into issues. */
export function describeMachine(): MachineInfo {
  const cpu = cpus();
  return {
    platform: platform(),
    arch: arch(),
    kernel: release(),
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryMB: Math.round(totalmem() / 1048576),
    node: process.version,
  };
}

/** msg/s and MB/s (10^6 bytes) from counts and elapsed milliseconds; 0 when no time elapsed. */
export function rates(messages: number, bytes: number, elapsedMs: number): { msgsPerSec: number; mbPerSec: number } {
  if (!(elapsedMs > 0)) return { msgsPerSec: 0, mbPerSec: 0 };
  return { msgsPerSec: (messages * 1000) / elapsedMs, mbPerSec: bytes / 1e6 / (elapsedMs / 1000) };
}

/** Throughput of run i relative to the first run (the table's "ratio" column); undefined when the first is 0. */
export function ratioToFirst(runs: readonly BenchRun[], i: number): number | undefined {
  const base = runs[0]?.msgsPerSec;
  const r = runs[i]?.msgsPerSec;
  return base === undefined || r === undefined || !(base > 0) ? undefined : r / base;
}
