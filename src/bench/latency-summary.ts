// The three figures the scale experiments report for every latency (connections, churn): the median, the tail and
// the worst, from the same HDR histogram the transport benchmark uses (src/analysis/stats.ts).
import type { LatencyStats } from '../analysis/stats.js';

export interface Summary3 {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summary3(s: LatencyStats): Summary3 {
  const x = s.summary();
  return { p50: x.p50, p99: x.p99, max: x.max };
}
