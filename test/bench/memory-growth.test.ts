// bench/memory/rss-growth.ts: how bench:memory judges "flat memory" and how much room it asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesNeeded, growth, type Sample, thin } from '../../bench/memory/rss-growth.js';

const s = (done: number, rssMb: number): Sample => ({ t: 0, rssMb, hwmMb: rssMb, cpuSeconds: 0, done });

test('growth is measured from the first sample with 10 % of the messages on the server, against the end and against the highest RSS after it', () => {
  // Start-up samples (done −1 and 50 of 1000) do not count; at 100 (10 %) RSS is 100 MB, peaks at 130, ends at 110.
  const g = growth([s(-1, 40), s(50, 90), s(100, 100), s(500, 130), s(1000, 110)], 1000);
  assert.equal(g.at10Mb, 100);
  assert.equal(g.endMb, 110);
  assert.equal(g.maxAfter10Mb, 130);
  assert.ok(Math.abs(g.growthToEnd! - 0.1) < 1e-9);
  assert.ok(Math.abs(g.growthToMax! - 0.3) < 1e-9);
});

test('a run where no sample reached 10 % of the messages reports no growth instead of a made-up one', () => {
  assert.deepEqual(growth([s(-1, 40), s(5, 50)], 1000), {});
  assert.deepEqual(growth([], 1000), {});
});

test('the room asked for counts a whole page per file, twice (source and server copy), plus a margin', () => {
  assert.equal(bytesNeeded(1000, 1000), Math.ceil(1000 * (4096 + 512) * 2 * 1.1));
  assert.equal(bytesNeeded(1, 4097), Math.ceil((8192 + 512) * 2 * 1.1));
});

test('thinning keeps the first and last sample and never more than asked', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i);
  const t = thin(xs, 10);
  assert.equal(t.length, 10);
  assert.equal(t[0], 0);
  assert.equal(t[9], 999);
  assert.deepEqual(thin([1, 2, 3], 10), [1, 2, 3]);
});
