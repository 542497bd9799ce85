// The table of where the RSS is, from the samples of rss-sampler.ts (issue 14, fourth pass):
//
//   node dist/bench/memory/rss-attribution.js SAMPLES.jsonl [MESSAGES]
//
// One column per moment — the first sample, 10 % of the messages done (from the journal's growth), the sample with
// the highest RSS, the last — and one row per part: file-backed pages, V8's heap by space (physical bytes), what
// V8 mallocs for itself, ArrayBuffer backing stores (Buffers: malloc'd outside V8's heap), and the anonymous
// mappings by kind (smaps-regions.ts). Kept apart from the sampler so the arithmetic is tested without a process.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SmapsRegions } from './smaps-regions.js';

export interface RssSample {
  t: number;
  cpuS: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  v8Physical: number;
  v8Malloced: number;
  spaces: Record<string, { size: number; used: number; physical: number }>;
  rssAnonKb: number;
  rssFileKb: number;
  hwmKb: number;
  smaps: SmapsRegions;
  journalBytes?: number;
  /** collections so far (absent in samples written before it was counted) */
  gc?: { minor: number; minorMs: number; major: number; majorMs: number };
}

export interface Moment {
  readonly label: string;
  readonly sample: RssSample;
  /** messages done at that moment, when the journal was sampled and the total is known */
  readonly done?: number;
}

export function parseSamples(text: string): RssSample[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RssSample);
}

/** The moments the table shows: start, 10 % done (when known), the RSS peak, the end. */
export function moments(samples: readonly RssSample[], messages?: number): Moment[] {
  if (samples.length === 0) return [];
  const last = samples[samples.length - 1]!;
  const start = samples[0]!.journalBytes ?? 0;
  const total = (last.journalBytes ?? 0) - start;
  const done = (s: RssSample): number | undefined =>
    messages !== undefined && total > 0 && s.journalBytes !== undefined ? Math.round(((s.journalBytes - start) / total) * messages) : undefined;
  const out: Moment[] = [{ label: 'first', sample: samples[0]!, done: done(samples[0]!) }];
  if (messages !== undefined && total > 0) {
    const at10 = samples.find((s) => (done(s) ?? 0) >= messages * 0.1);
    if (at10) out.push({ label: '10 %', sample: at10, done: done(at10) });
  }
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  out.push({ label: 'peak', sample: peak, done: done(peak) });
  out.push({ label: 'end', sample: last, done: done(last) });
  return out;
}

const MB = 1024 * 1024;
const SPACES = ['new_space', 'old_space', 'code_space', 'large_object_space', 'new_large_object_space'] as const;

/** Rows of MB (label, one value per moment). */
export function rows(ms: readonly Moment[]): Array<[string, number[]]> {
  const col = (f: (s: RssSample) => number): number[] => ms.map((m) => f(m.sample));
  const space = (s: RssSample, name: string): number => (s.spaces[name]?.physical ?? 0) / MB;
  const otherSpaces = (s: RssSample): number =>
    Object.entries(s.spaces)
      .filter(([n]) => !(SPACES as readonly string[]).includes(n))
      .reduce((a, [, v]) => a + v.physical, 0) / MB;
  return [
    ['RSS (memoryUsage().rss)', col((s) => s.rss / MB)],
    ['  file-backed (RssFile)', col((s) => s.rssFileKb / 1024)],
    ['  anonymous (RssAnon)', col((s) => s.rssAnonKb / 1024)],
    ['V8 heap, physical', col((s) => s.v8Physical / MB)],
    ...SPACES.map((n): [string, number[]] => [`  ${n}`, col((s) => space(s, n))]),
    ['  other spaces (read-only, map, …)', col(otherSpaces)],
    ['  heapUsed (live + not yet collected)', col((s) => s.heapUsed / MB)],
    ['V8 malloced (its own tables)', col((s) => s.v8Malloced / MB)],
    ['ArrayBuffers (Buffers, malloc)', col((s) => s.arrayBuffers / MB)],
    ['smaps: [heap] (main malloc arena)', col((s) => s.smaps.brkHeapKb / 1024)],
    ['smaps: thread malloc arenas', col((s) => s.smaps.arenasKb / 1024)],
    ['smaps: thread stacks + [stack]', col((s) => (s.smaps.threadStacksKb + s.smaps.mainStackKb) / 1024)],
    ['smaps: other anonymous (V8 pages, mmap blocks)', col((s) => s.smaps.otherAnonKb / 1024)],
    ['  of which not V8 heap (other − V8 physical)', col((s) => s.smaps.otherAnonKb / 1024 - s.v8Physical / MB)],
  ];
}

export function table(ms: readonly Moment[]): string {
  const head = ms.map((m) => `${m.label}${m.done !== undefined ? ` (${m.done})` : ''} ${m.sample.t.toFixed(0)} s`);
  const r = rows(ms);
  const w = Math.max(...r.map(([l]) => l.length));
  const cw = Math.max(10, ...head.map((h) => h.length));
  const line = (l: string, cells: string[]): string => `  ${l.padEnd(w)}  ${cells.map((c) => c.padStart(cw)).join('  ')}`;
  return [line('MB', head), ...r.map(([l, v]) => line(l, v.map((x) => x.toFixed(1))))].join('\n') + '\n';
}

/** Mean RSS (MB) of the samples once a tenth of the journal's growth is done (start-up excluded). */
export function meanAfterTenth(samples: readonly RssSample[]): number | undefined {
  const start = samples[0]?.journalBytes ?? 0;
  const total = (samples[samples.length - 1]?.journalBytes ?? 0) - start;
  const after = samples.filter((s) => total > 0 && (s.journalBytes ?? 0) - start >= total / 10);
  return after.length ? after.reduce((a, s) => a + s.rss, 0) / after.length / MB : undefined;
}

/**
 * The run cut into tenths of its messages: per tenth, the highest RSS and the highest of each part, and the lowest
 * heapUsed (V8's heap right after a collection: the live set, as near as a 1 s sample gets). What grows from one
 * tenth to the next is where a million-message run's growth lives.
 */
export function tenths(samples: readonly RssSample[], messages: number): Array<[string, number[]]> {
  const start = samples[0]?.journalBytes ?? 0;
  const total = (samples[samples.length - 1]?.journalBytes ?? 0) - start;
  if (total <= 0) return [];
  const bins: RssSample[][] = Array.from({ length: 10 }, () => []);
  for (const s of samples) {
    const f = ((s.journalBytes ?? 0) - start) / total;
    bins[Math.min(9, Math.floor(f * 10))]!.push(s);
  }
  const max = (f: (s: RssSample) => number): number[] => bins.map((b) => (b.length ? Math.max(...b.map(f)) : NaN));
  const min = (f: (s: RssSample) => number): number[] => bins.map((b) => (b.length ? Math.min(...b.map(f)) : NaN));
  const sp = (s: RssSample, n: string): number => (s.spaces[n]?.physical ?? 0) / MB;
  return [
    ['messages done up to', bins.map((_, i) => ((i + 1) * messages) / 10)],
    ['max RSS', max((s) => s.rss / MB)],
    ['max V8 physical', max((s) => s.v8Physical / MB)],
    ['max new_space', max((s) => sp(s, 'new_space'))],
    ['max old_space', max((s) => sp(s, 'old_space'))],
    ['min heapUsed (live)', min((s) => s.heapUsed / MB)],
    ['max heapUsed', max((s) => s.heapUsed / MB)],
    ['max ArrayBuffers', max((s) => s.arrayBuffers / MB)],
    ['max [heap]', max((s) => s.smaps.brkHeapKb / 1024)],
    ['max thread arenas', max((s) => s.smaps.arenasKb / 1024)],
    ['mark-compacts (end of tenth, cumulative)', bins.map((b) => (b.length ? (b[b.length - 1]!.gc?.major ?? NaN) : NaN))],
    ['samples', bins.map((b) => b.length)],
  ];
}

export function tenthsTable(samples: readonly RssSample[], messages: number): string {
  const r = tenths(samples, messages);
  if (r.length === 0) return '';
  const w = Math.max(...r.map(([l]) => l.length));
  return r.map(([l, v]) => `  ${l.padEnd(w)}  ${v.map((x) => (Number.isInteger(x) ? String(x) : x.toFixed(1)).padStart(7)).join(' ')}`).join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/memory/rss-attribution.js SAMPLES.jsonl [MESSAGES]\n');
    process.exit(2);
  }
  const samples = parseSamples(readFileSync(file, 'utf8'));
  process.stdout.write(table(moments(samples, n === undefined ? undefined : Number(n))));
  if (n !== undefined) process.stdout.write('\n' + tenthsTable(samples, Number(n)));
}
