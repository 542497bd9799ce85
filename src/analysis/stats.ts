import { build, type Histogram } from 'hdr-histogram-js';
import { derivePhases, type Phases, type TimingRecord } from '../transport/timing.js';

// Latency summaries for the bench. Percentiles come from an HDR histogram (hdr-histogram-js, pure-JS build: no
// WebAssembly start-up, no async init) recording integer microseconds, so a 0.07 ms coalesced APPEND on loopback
// (docs/measurements.md) and a 44 ms delayed-ACK stall are both kept to 3 significant digits.
// The log-scale buckets for the HTML histogram are counted beside it in fixed decade-tenths: the library's public
// Histogram interface exposes percentiles but no iteration over its sub-buckets, and fixed edges make the
// histograms of different profiles line up on one axis.

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

function bucketIndex(ms: number): number {
  if (!(ms > 0)) return MIN_EXP;
  const k = Math.floor(Math.log10(ms) * BUCKETS_PER_DECADE + 1e-9);
  // Rounded edges can disagree with floor(log10) by one near an edge; settle it against the printed edges.
  let j = Math.min(MAX_EXP - 1, Math.max(MIN_EXP, k));
  if (j > MIN_EXP && ms < bucketEdge(j)) j -= 1;
  else if (j < MAX_EXP - 1 && ms >= bucketEdge(j + 1)) j += 1;
  return j;
}

export class LatencyStats {
  readonly #hist: Histogram;
  readonly #buckets = new Map<number, number>();
  #sumMs = 0;
  #count = 0;

  constructor() {
    // highestTrackableValue is only a starting size: autoResize (default true) grows it for rare huge values.
    this.#hist = build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  }

  /** Records one latency in milliseconds; negative and non-finite values are ignored (they cannot be durations). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#hist.recordValue(Math.round(ms * US_PER_MS));
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
    const max = this.#hist.maxValue / US_PER_MS;
    // HDR answers a percentile with the top of its sub-bucket, which can lie above the largest value recorded
    // (p99 5003.8 s for a max of 5000 s); clamp so a summary never contradicts itself.
    const at = (p: number): number => Math.min(max, this.#hist.getValueAtPercentile(p) / US_PER_MS);
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
      out.push({ fromMs: k === MIN_EXP ? 0 : bucketEdge(k), toMs: bucketEdge(k + 1), count: this.#buckets.get(k) ?? 0 });
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
