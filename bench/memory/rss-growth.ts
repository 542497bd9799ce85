// The numbers of `npm run bench:memory` (issue 14: "peak RSS ≤ 120 MB and flat, ≤ 10 % growth between 10 % and 100 %
// of the messages"), kept apart from the script so they can be tested without a server.

export interface Sample {
  /** seconds since the import started */
  readonly t: number;
  readonly rssMb: number;
  readonly hwmMb: number;
  readonly cpuSeconds: number;
  /** messages done at that moment (from the journal's growth, filled in after the run); -1 when not known */
  done: number;
}

export interface Growth {
  /** RSS at the first sample with ≥ 10 % of the messages on the server */
  readonly at10Mb?: number;
  /** RSS at the last sample */
  readonly endMb?: number;
  /** the highest RSS from the 10 % sample on */
  readonly maxAfter10Mb?: number;
  /** (end − at10) / at10 */
  readonly growthToEnd?: number;
  /** (max − at10) / at10: the one the target is judged on (a peak that fell back still counts) */
  readonly growthToMax?: number;
}

/** How much RSS grew from 10 % of the messages on; empty when no sample reached 10 % (a run shorter than a sample). */
export function growth(samples: readonly Sample[], messages: number): Growth {
  const i = samples.findIndex((s) => s.done >= messages * 0.1);
  if (i < 0) return {};
  const at10 = samples[i]!.rssMb;
  const after = samples.slice(i);
  const end = after[after.length - 1]!.rssMb;
  const max = Math.max(...after.map((s) => s.rssMb));
  return { at10Mb: at10, endMb: end, maxAfter10Mb: max, growthToEnd: (end - at10) / at10, growthToMax: (max - at10) / at10 };
}

const PAGE = 4096;

/**
 * Bytes the run needs where the mail lives: the source and the server's copy, each file at least one page (tmpfs and
 * ext4 allocate whole pages/blocks) plus ~512 B of inode and directory entry, and 10 % for indexes and journals.
 */
export function bytesNeeded(messages: number, size: number): number {
  const perFile = Math.ceil(size / PAGE) * PAGE + 512;
  return Math.ceil(messages * perFile * 2 * 1.1);
}

/** At most `n` items, evenly spread, first and last kept (for the JSON's sample series). */
export function thin<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.floor((i * (xs.length - 1)) / (n - 1))]!);
  return out;
}
