import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silence } from '../../src/transport/reply-timer.js';

const base = { now: 100_000, lastAnswerAt: 0, lastStartAt: 0, lastFlushAt: 0, buffered: 0, previousBuffered: 0, bufferedChangedAt: 0 };

test('a connection with nothing read, sent or flushed for a while is silent for that long', () => {
  assert.equal(silence({ ...base, lastAnswerAt: 40_000 }).silentFor, 60_000);
});

test('an upload still leaving Node\'s buffer is progress, not silence', () => {
  // 2 MB left at the previous check, 1 MB now: the large literal is still going out.
  const s = silence({ ...base, lastAnswerAt: 10_000, buffered: 1_000_000, previousBuffered: 2_000_000, bufferedChangedAt: 50_000 });
  assert.equal(s.silentFor, 0);
  assert.equal(s.bufferedChangedAt, 100_000);
  assert.equal(s.previousBuffered, 1_000_000);
});

test('bytes stuck in Node\'s buffer with no change since the last check are silence (a server that stopped reading)', () => {
  const s = silence({ ...base, lastAnswerAt: 10_000, buffered: 1_000_000, previousBuffered: 1_000_000, bufferedChangedAt: 30_000 });
  assert.equal(s.silentFor, 70_000);
});

test('a write handed to the kernel or a reply read resets the silence', () => {
  assert.equal(silence({ ...base, lastFlushAt: 99_000 }).silentFor, 1_000);
  assert.equal(silence({ ...base, lastAnswerAt: 99_500 }).silentFor, 500);
});
