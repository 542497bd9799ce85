import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ThrottleGate } from '../../src/transport/throttle-gate.js';

test('the throttle gate holds for the longest backoff asked, tells its owner once each way, and wakes waiters', async () => {
  const changes: boolean[] = [];
  const gate = new ThrottleGate((q) => changes.push(q));
  assert.equal(gate.quiet, false);
  await gate.whenOpen();
  gate.hold(80);
  gate.hold(10); // shorter: does not cut the quiet short
  assert.equal(gate.quiet, true);
  const t0 = Date.now();
  await gate.whenOpen();
  assert.ok(Date.now() - t0 >= 60, `opened after ${Date.now() - t0} ms of an 80 ms quiet`);
  assert.deepEqual(changes, [true, false]);
});

test('opening the gate early (SIGINT, close) releases waiters at once', async () => {
  const gate = new ThrottleGate(() => undefined);
  gate.hold(600_000);
  const w = gate.whenOpen();
  gate.open();
  await w;
  assert.equal(gate.quiet, false);
});
