import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmtMs, fmtRate, groupDigits } from '../../src/cli/render/table.js';

// groupDigits stands in for toLocaleString('en-US') in the summary (its first call loads ICU's number formatting,
// docs/measurements.md "Start-up"): it must write every count exactly as toLocaleString did.

test('groupDigits writes integers exactly as toLocaleString("en-US") does, at every group boundary and sign', () => {
  const values = [0, -0, 1, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10_000, 99_999, 100_000, 999_999, 1_000_000, 1_234_567, 12_345_678, 123_456_789,
    2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -999, -1000, -1_234_567, -Number.MAX_SAFE_INTEGER];
  for (let k = 1; k < 1e15; k = k * 10 + 7) values.push(k, k - 1, -k);
  for (const n of values) assert.equal(groupDigits(n), n.toLocaleString('en-US'), String(n));
});

test('groupDigits hands what is not a safe integer to toLocaleString unchanged (fractions, huge, NaN, infinities)', () => {
  for (const n of [0.5, 1234.5678, -1234.5, 2 ** 60, 1e21, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    assert.equal(groupDigits(n), n.toLocaleString('en-US'), String(n));
  }
});

test('milliseconds and rates keep their formats: 0.07, 4.5, 44, 1,234 and 99.5, 1,235', () => {
  assert.deepEqual([0.07, 4.5, 44, 1234.4, 1_234_567].map(fmtMs), ['0.07', '4.5', '44', '1,234', '1,234,567']);
  assert.deepEqual([99.5, 1234.6].map(fmtRate), ['99.5', '1,235']);
});
