import type { MonoMs } from '../core/clock.js';

// One record per command (design.md "Core shapes"; modelled on got's Timings): raw monotonic timestamps are
// written once, as events happen, by the command queue; every duration is derived afterwards by derivePhases(),
// a pure function, so the trace, the progress bar and the benchmarks can never disagree about what a phase means.

export type LiteralUse = 'none' | 'sync' | 'nonsync' | 'mixed';

export interface CommandOutcomeInfo {
  readonly status: 'OK' | 'NO' | 'BAD' | 'ERROR';
  /** Response code name (APPENDUID, TRYCREATE, …) or the typed error's code for status ERROR. */
  readonly code?: string | undefined;
  readonly text?: string | undefined;
}

export interface TimingRecord {
  readonly connectionId: number;
  readonly tag: string;
  readonly verb: string;
  /** Messages carried (APPEND 1, MULTIAPPEND n, others 0). */
  readonly messages: number;
  readonly literalBytes: number;
  readonly literal: LiteralUse;
  /** Commands already in flight on the connection when this one started to go out (0 = not pipelined). */
  depthAtSend: number;
  /** Socket writes this command's bytes took (split mode: 3 for an APPEND; coalesce: 1, or 0 when it rode along). */
  writes: number;
  // Raw timestamps (ms, monotonic). undefined = did not happen.
  readonly queued: MonoMs;
  writeStart?: MonoMs;
  /** The first write (command line up to the first literal) handed to the kernel. */
  headFlushed?: MonoMs;
  /** Each synchronizing literal: [header flushed, '+' received]. */
  readonly syncWaits: Array<[MonoMs, MonoMs]>;
  /** The last byte handed to the kernel. */
  bodyFlushed?: MonoMs;
  tagged?: MonoMs;
  failed?: MonoMs;
  outcome?: CommandOutcomeInfo;
}

export interface Phases {
  /** queued → first byte written: time spent behind the send-gate (depth, backpressure, unconfirmed folder). */
  readonly queueWaitMs: number | undefined;
  /** Writing, excluding continuation waits. */
  readonly writeMs: number | undefined;
  /** Sum of header-flushed → '+' for each synchronizing literal: one round trip each. */
  readonly continuationWaitMs: number;
  /** Last byte flushed → tagged reply: the recv-wait of the seed report (server time + network + ACK stalls). */
  readonly recvWaitMs: number | undefined;
  readonly totalMs: number | undefined;
}

export function newRecord(
  connectionId: number,
  tag: string,
  verb: string,
  messages: number,
  literalBytes: number,
  literal: LiteralUse,
  queued: MonoMs,
): TimingRecord {
  return { connectionId, tag, verb, messages, literalBytes, literal, depthAtSend: 0, writes: 0, queued, syncWaits: [] };
}

const span = (a: MonoMs | undefined, b: MonoMs | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : Math.max(0, b - a);

/** Derives every phase from the raw timestamps. Pure; undefined where an endpoint never happened. */
export function derivePhases(r: TimingRecord): Phases {
  let continuationWaitMs = 0;
  for (const [flushed, cont] of r.syncWaits) continuationWaitMs += Math.max(0, cont - flushed);
  const end = r.tagged ?? r.failed;
  const writing = span(r.writeStart, r.bodyFlushed);
  return {
    queueWaitMs: span(r.queued, r.writeStart),
    writeMs: writing === undefined ? undefined : Math.max(0, writing - continuationWaitMs),
    continuationWaitMs,
    recvWaitMs: span(r.bodyFlushed, r.tagged),
    totalMs: span(r.queued, end),
  };
}

/** Checks the order the timestamps must have; returns the first violation or undefined. For tests and traces. */
export function timestampOrderViolation(r: TimingRecord): string | undefined {
  const seq: Array<[string, MonoMs | undefined]> = [
    ['queued', r.queued],
    ['writeStart', r.writeStart],
    ['headFlushed', r.headFlushed],
    ['bodyFlushed', r.bodyFlushed],
    ['tagged', r.tagged],
  ];
  let prev: [string, MonoMs] | undefined;
  for (const [name, t] of seq) {
    if (t === undefined) continue;
    if (prev && t < prev[1]) return `${name} (${t}) before ${prev[0]} (${prev[1]})`;
    prev = [name, t];
  }
  for (const [flushed, cont] of r.syncWaits) {
    if (cont < flushed) return `continuation (${cont}) before its header flushed (${flushed})`;
    if (r.writeStart !== undefined && flushed < r.writeStart) return 'sync wait before writeStart';
  }
  return undefined;
}

/** The JSON shape written to --trace files (NDJSON): raw timestamps plus derived phases, no message content. */
export function recordToJson(r: TimingRecord): Record<string, unknown> {
  return { ...r, phases: derivePhases(r) };
}
