// A realistic BenchReport for the HTML tests and the screenshot test: three profiles shaped like docs/measurements.md
// (an imaplib-like split-write profile stalled at 44 ms, coalesced, pipelined with MULTIAPPEND), histograms and
// diagnoses produced by the real LatencyStats and diagnose().
import { LatencyStats } from '../../src/analysis/stats.js';
import { diagnose } from '../../src/analysis/diagnosis.js';
import { rates, type BenchReport, type BenchRun } from '../../src/bench/report.js';
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';
import { seededRandom as rng } from '../../src/core/prng.js';


function records(n: number, wait: (i: number) => number): TimingRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const r = newRecord(1, `A${i}`, 'APPEND', 1, 4096, 'nonsync', i * 10);
    r.writeStart = i * 10;
    r.bodyFlushed = i * 10 + 0.02;
    r.tagged = r.bodyFlushed + wait(i);
    return r;
  });
}

function run(profile: string, description: string, settings: Record<string, unknown>, recs: TimingRecord[], elapsedMs: number, extra: Parameters<typeof diagnose>[0] = {}): BenchRun {
  const stats = new LatencyStats();
  for (const r of recs) stats.record(r.tagged! - r.bodyFlushed!);
  const bytes = recs.length * 21_560;
  return {
    profile,
    description,
    settings,
    messages: recs.length,
    bytes,
    elapsedMs,
    ...rates(recs.length, bytes, elapsedMs),
    latency: { APPEND: stats.summary() },
    histogram: stats.buckets(),
    diagnosis: diagnose({ records: recs, ...extra }),
  };
}

export function sampleReport(): BenchReport {
  const r = rng(42);
  const stalled = records(2000, (i) => (i === 0 ? 0.09 : r() < 0.995 ? 40.6 + r() * 10.4 : 0.1 + r()));
  const coalesced = records(2000, () => 0.05 * Math.exp(r() * 1.6));
  const pipelined = records(2000, () => 0.3 * Math.exp(r() * 2.2) + (r() < 0.01 ? 5 : 0));
  return {
    machine: { platform: 'linux', arch: 'x64', kernel: '6.18.0', cpus: 2, cpuModel: 'Example CPU @ 2.0GHz', memoryMB: 7936, node: 'v20.20.0' },
    startedAt: '2025-01-15T10:00:00.000Z',
    target: 'embedded server 127.0.0.1:40123',
    corpus: { messages: 2000, bytes: 2000 * 21_560, seed: 1 },
    runs: [
      run('imaplib-like <split>', 'One connection, one command at a time, line/literal/CRLF as three writes, Nagle on.', { connections: 1, depth: 1, writeMode: 'split', noDelay: false, literal: 'sync' }, stalled, 2000 * 44.9, { counters: { DelayedACKs: 1990 } }),
      run('coalesced', 'One connection, one command at a time, one write per command.', { connections: 1, depth: 1, writeMode: 'coalesce', noDelay: true, literal: 'plus' }, coalesced, 2000 * 0.9),
      run('pipelined + MULTIAPPEND', 'Four connections, depth 8, MULTIAPPEND of 50.', { connections: 4, depth: 8, batch: 50, writeMode: 'coalesce', noDelay: true }, pipelined, 2000 * 0.35),
    ],
  };
}
