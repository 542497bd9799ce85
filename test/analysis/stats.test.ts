import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyStats, summarizeByVerb, percentile, bucketEdge } from '../../src/analysis/stats.js';
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';

function rec(verb: string, flushed: number, tagged: number | undefined): TimingRecord {
  const r = newRecord(1, 'A1', verb, verb === 'APPEND' ? 1 : 0, 0, 'none', flushed - 1);
  r.writeStart = flushed - 0.5;
  r.bodyFlushed = flushed;
  if (tagged !== undefined) r.tagged = tagged;
  return r;
}

test('an empty LatencyStats summarizes to count 0 and has no buckets', () => {
  const s = new LatencyStats();
  assert.deepEqual(s.summary(), { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
  assert.deepEqual(s.buckets(), []);
});

test('percentiles keep microsecond precision for sub-millisecond latencies', () => {
  const s = new LatencyStats();
  for (let i = 1; i <= 1000; i++) s.record(i / 1000); // 0.001 … 1.000 ms
  const sum = s.summary();
  assert.equal(sum.count, 1000);
  assert.ok(Math.abs(sum.p50 - 0.5) <= 0.001, `p50 ${sum.p50}`);
  assert.ok(Math.abs(sum.p90 - 0.9) <= 0.001, `p90 ${sum.p90}`);
  assert.ok(Math.abs(sum.p99 - 0.99) <= 0.001, `p99 ${sum.p99}`);
  assert.ok(Math.abs(sum.max - 1) <= 0.001, `max ${sum.max}`);
  assert.ok(Math.abs(sum.mean - 0.5005) < 1e-9, `mean ${sum.mean}`);
});

test('percentiles of large latencies are within HDR three-digit precision', () => {
  const s = new LatencyStats();
  for (let i = 0; i < 99; i++) s.record(44);
  s.record(5000);
  const sum = s.summary();
  assert.ok(Math.abs(sum.p50 - 44) / 44 < 0.001);
  assert.ok(Math.abs(sum.max - 5000) / 5000 < 0.001);
});

test('no percentile exceeds the max, even where HDR sub-buckets are wide', () => {
  const s = new LatencyStats();
  s.record(0.05);
  s.record(120_000);
  s.record(5_000_000);
  const sum = s.summary();
  assert.equal(sum.max, 5_000_000);
  assert.ok(sum.p90 <= sum.max && sum.p99 <= sum.max && sum.p50 <= sum.p90);
});

test('negative and non-finite values are ignored', () => {
  const s = new LatencyStats();
  s.record(-1);
  s.record(Number.NaN);
  s.record(Infinity);
  s.record(2);
  assert.equal(s.summary().count, 1);
});

test('buckets are log-scale, contiguous, cover every value once and hold each value in its range', () => {
  const s = new LatencyStats();
  const values = [0.07, 0.08, 0.5, 1, 1.26, 44, 44.5, 46, 1000, 0];
  for (const v of values) s.record(v);
  const b = s.buckets();
  assert.equal(b.reduce((n, x) => n + x.count, 0), values.length);
  for (let i = 1; i < b.length; i++) assert.equal(b[i]!.fromMs, b[i - 1]!.toMs, 'contiguous');
  for (const x of b.slice(1)) {
    const ratio = x.toMs / x.fromMs;
    assert.ok(ratio > 1.2 && ratio < 1.32, `log-scale ratio ${ratio}`);
  }
  for (const v of values) {
    const hit = b.filter((x) => v >= x.fromMs && v < x.toMs);
    assert.equal(hit.length, 1, `value ${v} in exactly one bucket`);
    assert.ok(hit[0]!.count >= 1);
  }
});

test('a value exactly on a bucket edge goes into the bucket that starts there', () => {
  const s = new LatencyStats();
  s.record(bucketEdge(16)); // 39.8 ms
  const b = s.buckets();
  assert.equal(b.length, 1);
  assert.equal(b[0]!.fromMs, bucketEdge(16));
});

test('summarizeByVerb groups recv-waits by verb and skips commands that never got a reply', () => {
  const records = [rec('APPEND', 10, 54), rec('APPEND', 100, 144), rec('APPEND', 200, undefined), rec('LOGIN', 0, 1)];
  const by = summarizeByVerb(records);
  assert.deepEqual(Object.keys(by).sort(), ['APPEND', 'LOGIN']);
  assert.equal(by['APPEND']!.count, 2);
  assert.ok(Math.abs(by['APPEND']!.p50 - 44) < 0.05);
  assert.equal(by['LOGIN']!.count, 1);
});

test('summarizeByVerb can summarize another phase such as the total', () => {
  const by = summarizeByVerb([rec('APPEND', 10, 20)], 'totalMs');
  assert.ok(Math.abs(by['APPEND']!.p50 - 11) < 0.05);
});

test('percentile picks by nearest rank and returns undefined for no values', () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(percentile([3, 1, 2], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 100), 4);
  assert.equal(percentile([1, 2, 3, 4], 0), 1);
});

test('percentiles stay within a thousandth of the values recorded, from microseconds to hours', () => {
  // Below 2048 µs every value has a slot of its own; above, a slot is 1/1024 of its power of two wide.
  for (const v of [0.001, 0.5, 2.047, 2.048, 2.049, 3.3, 44, 1000, 60_000, 3_600_000, 86_400_000]) {
    const s = new LatencyStats();
    s.record(v);
    s.record(v * 2);
    const sum = s.summary();
    assert.ok(sum.p50 >= v - 0.0005 && sum.p50 <= v * 1.001 + 0.0005, `p50 of ${v}, ${v * 2}: ${sum.p50}`);
    assert.equal(sum.max, Math.round(v * 2 * 1000) / 1000);
  }
});

test('percentiles follow nearest rank over values spread across many powers of two', () => {
  const s = new LatencyStats();
  const values: number[] = [];
  // 0.01 ms … ~100 s, geometric, recorded out of order.
  for (let i = 0; i < 700; i++) values.push(0.01 * 1.0133 ** ((i * 389) % 700));
  for (const v of values) s.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  const sum = s.summary();
  for (const [p, got] of [[50, sum.p50], [90, sum.p90], [99, sum.p99]] as const) {
    const want = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
    assert.ok(Math.abs(got - want) <= want * 0.001 + 0.0005, `p${p}: ${got} against ${want}`);
  }
  assert.ok(sum.p50 < sum.p90 && sum.p90 < sum.p99 && sum.p99 <= sum.max);
});
