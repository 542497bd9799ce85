import { derivePhases, type Phases, type TimingRecord } from '../transport/timing.js';

// Latency summaries for the import's report, `doctor` and the benchmarks. Percentiles come from a log-linear
// histogram of integer microseconds (the layout of an HDR histogram, written here in a few lines): values below
// 2048 µs are counted exactly, larger ones in sub-buckets 1/1024 of their power of two wide (< 0.1 % error, three
// significant digits), so a 0.07 ms coalesced APPEND on loopback (docs/measurements.md) and a 44 ms delayed-ACK stall
// are both kept. It replaced hdr-histogram-js, whose module alone cost 33–70 ms of CPU to load in every `import`
// (its log writer builds number formatters at load time; docs/adaptation.md "Where our client's CPU goes") — 3 % of
// the client CPU of a 1000-message run into Courier — for the one data structure used from it.
// The log-scale buckets for the HTML histogram are counted beside it in fixed decade-tenths, so the histograms of
// different profiles line up on one axis.

export interface Summary {
  /** Values recorded. */
  readonly count: number;
  /** Milliseconds (HDR-rounded to 3 significant digits). 0 when count is 0. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface Bucket {
  /** Inclusive lower edge, ms. */
  readonly fromMs: number;
  /** Exclusive upper edge, ms. */
  readonly toMs: number;
  readonly count: number;
}

export type PhaseName = keyof Phases;

/** Buckets per decade: 10 gives edges 1, 1.26, 1.58, 2.0, 2.51, 3.16, 3.98, 5.01, 6.31, 7.94 (× 10^k ms). */
export const BUCKETS_PER_DECADE = 10;
/** The lowest edge: 1 µs, the recording precision; anything below lands in the first bucket. */
const MIN_EXP = -3 * BUCKETS_PER_DECADE;
/** The highest edge: 10^6 ms ≈ 17 min; anything above lands in the last bucket. */
const MAX_EXP = 6 * BUCKETS_PER_DECADE;

const US_PER_MS = 1000;
const EMPTY: Summary = { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };

/** The edge 10^(k/BUCKETS_PER_DECADE) ms, rounded to 3 significant digits so edges print cleanly. */
export function bucketEdge(k: number): number {
  return Number((10 ** (k / BUCKETS_PER_DECADE)).toPrecision(3));
}

/** Every edge from MIN_EXP to MAX_EXP, computed once: record() runs per command and must not format numbers. */
const EDGES: readonly number[] = Array.from({ length: MAX_EXP - MIN_EXP + 1 }, (_, i) => bucketEdge(MIN_EXP + i));
const edge = (k: number): number => EDGES[k - MIN_EXP]!;

function bucketIndex(ms: number): number {
  if (!(ms > 0)) return MIN_EXP;
  const k = Math.floor(Math.log10(ms) * BUCKETS_PER_DECADE + 1e-9);
  // Rounded edges can disagree with floor(log10) by one near an edge; settle it against the printed edges.
  let j = Math.min(MAX_EXP - 1, Math.max(MIN_EXP, k));
  if (j > MIN_EXP && ms < edge(j)) j -= 1;
  else if (j < MAX_EXP - 1 && ms >= edge(j + 1)) j += 1;
  return j;
}

/** Sub-buckets per power of two above the exact range: 1024 (2^10), so a value is known within 1/1024 of it. */
const SUB_BITS = 10;
/** Values below this (µs) have a slot each. */
const EXACT_BELOW = 2 << SUB_BITS;

/**
 * The slot of a value (integer µs): itself below EXACT_BELOW; above, with e halvings to bring it into
 * [1024, 2048), e·1024 + the halved value. Slots grow with the value, so sorting them sorts the values.
 */
function slotOf(us: number): number {
  if (us < EXACT_BELOW) return us;
  let e = 0;
  let x = us;
  while (x >= EXACT_BELOW) {
    x = Math.floor(x / 2);
    e++;
  }
  return e * (EXACT_BELOW / 2) + x;
}

/** The highest value (µs) that lands in a slot: slot = e·1024 + x with x in [1024, 2048) covers x·2^e … (x+1)·2^e − 1. */
function slotTop(slot: number): number {
  if (slot < EXACT_BELOW) return slot;
  const half = EXACT_BELOW / 2;
  const e = Math.floor(slot / half) - 1;
  return (slot - e * half + 1) * 2 ** e - 1;
}

export class LatencyStats {
  /** Count per slot (sparse: a run's latencies fill a few hundred of them). */
  readonly #slots = new Map<number, number>();
  readonly #buckets = new Map<number, number>();
  #sumMs = 0;
  #count = 0;
  #maxUs = 0;

  /** Records one latency in milliseconds; negative and non-finite values are ignored (they cannot be durations). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const us = Math.round(ms * US_PER_MS);
    const slot = slotOf(us);
    this.#slots.set(slot, (this.#slots.get(slot) ?? 0) + 1);
    if (us > this.#maxUs) this.#maxUs = us;
    const k = bucketIndex(ms);
    this.#buckets.set(k, (this.#buckets.get(k) ?? 0) + 1);
    this.#sumMs += ms;
    this.#count += 1;
  }

  get count(): number {
    return this.#count;
  }

  summary(): Summary {
    if (this.#count === 0) return EMPTY;
    const max = this.#maxUs / US_PER_MS;
    const slots = [...this.#slots.keys()].sort((a, b) => a - b);
    // Nearest rank, answered with the top of the slot holding it (as HDR does), clamped to the largest value
    // recorded so a summary never contradicts itself.
    const at = (p: number): number => {
      const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
      let seen = 0;
      for (const s of slots) {
        seen += this.#slots.get(s)!;
        if (seen >= rank) return Math.min(max, slotTop(s) / US_PER_MS);
      }
      return max;
    };
    return {
      count: this.#count,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max,
      mean: this.#sumMs / this.#count,
    };
  }

  /** Log-scale buckets from the first non-empty one to the last, empty ones in between included (a gap is data). */
  buckets(): Bucket[] {
    if (this.#count === 0) return [];
    const keys = [...this.#buckets.keys()];
    const lo = Math.min(...keys);
    const hi = Math.max(...keys);
    const out: Bucket[] = [];
    for (let k = lo; k <= hi; k++) {
      out.push({ fromMs: k === MIN_EXP ? 0 : edge(k), toMs: edge(k + 1), count: this.#buckets.get(k) ?? 0 });
    }
    return out;
  }
}

/** One LatencyStats per verb for the chosen phase; records without that phase (failed, never sent) are skipped. */
export function statsByVerb(records: Iterable<TimingRecord>, phase: PhaseName = 'recvWaitMs'): Map<string, LatencyStats> {
  const byVerb = new Map<string, LatencyStats>();
  for (const r of records) {
    const v = derivePhases(r)[phase];
    if (v === undefined) continue;
    let s = byVerb.get(r.verb);
    if (!s) byVerb.set(r.verb, (s = new LatencyStats()));
    s.record(v);
  }
  return byVerb;
}

/** Summaries per verb (APPEND, LOGIN, …) of one phase, recv-wait by default (the seed report's number). */
export function summarizeByVerb(records: Iterable<TimingRecord>, phase: PhaseName = 'recvWaitMs'): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  for (const [verb, s] of statsByVerb(records, phase)) out[verb] = s.summary();
  return out;
}

/** p-th percentile (0–100) of plain numbers by nearest rank; for small arrays where an HDR histogram is overkill. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
