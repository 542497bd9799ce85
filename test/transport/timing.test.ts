import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derivePhases, newRecord, timestampOrderViolation } from '../../src/transport/timing.js';

test('phases are derived from raw timestamps: queue wait, write, continuation wait, recv-wait, total', () => {
  const r = newRecord(1, 'A1', 'APPEND', 1, 4096, 'sync', 100);
  r.writeStart = 102;
  r.headFlushed = 102.5;
  r.syncWaits.push([102.5, 110]);
  r.bodyFlushed = 111;
  r.tagged = 155;
  const p = derivePhases(r);
  assert.equal(p.queueWaitMs, 2);
  assert.equal(p.continuationWaitMs, 7.5);
  assert.equal(p.writeMs, 1.5);
  assert.equal(p.recvWaitMs, 44);
  assert.equal(p.totalMs, 55);
  assert.equal(timestampOrderViolation(r), undefined);
});

test('phases that never happened are undefined, and a failed command still has a total', () => {
  const r = newRecord(1, 'A2', 'APPEND', 1, 10, 'nonsync', 5);
  r.writeStart = 6;
  r.failed = 50;
  const p = derivePhases(r);
  assert.equal(p.recvWaitMs, undefined);
  assert.equal(p.writeMs, undefined);
  assert.equal(p.totalMs, 45);
});

test('out-of-order timestamps are reported', () => {
  const r = newRecord(1, 'A3', 'NOOP', 0, 0, 'none', 10);
  r.writeStart = 12;
  r.bodyFlushed = 11;
  assert.match(timestampOrderViolation(r) ?? '', /bodyFlushed/);
});
