import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Prepared } from '../../src/migrate/import-types.js';
import { SendWindow } from '../../src/migrate/send-window.js';

// Only the fields SendWindow reads (append.data) are real; the window hands the objects back untouched.
const msg = (id: string, bytes: number): Prepared => ({ id, append: { data: Buffer.alloc(bytes) } }) as unknown as Prepared;

test('the window is full at its message count, and take() empties it, in the order the messages came', () => {
  const w = new SendWindow(3, 1_000_000);
  const m = [msg('a', 10), msg('b', 10), msg('c', 10)];
  assert.equal(w.add(m[0]!), false);
  assert.equal(w.add(m[1]!), false);
  assert.equal(w.add(m[2]!), true);
  assert.equal(w.length, 3);
  assert.deepEqual(w.take(), m);
  assert.equal(w.length, 0);
  assert.deepEqual(w.take(), []);
});

test('the window is full at its byte bound, counted from zero again after take()', () => {
  const w = new SendWindow(100, 100);
  assert.equal(w.add(msg('a', 60)), false);
  assert.equal(w.add(msg('b', 40)), true, '60 + 40 bytes reach the bound of 100');
  w.take();
  assert.equal(w.add(msg('c', 60)), false, 'the bytes taken no longer count');
  assert.equal(w.add(msg('d', 39)), false);
  assert.equal(w.add(msg('e', 1)), true);
});

test('a message larger than the byte bound is taken alone, and the window says it is full', () => {
  const w = new SendWindow(100, 100);
  assert.equal(w.add(msg('huge', 5000)), true);
  assert.deepEqual(w.take().map((p) => p.id), ['huge']);
});

test('an empty message (0 bytes) counts toward the message bound only', () => {
  const w = new SendWindow(2, 1);
  assert.equal(w.add(msg('empty', 0)), false);
  assert.equal(w.add(msg('empty2', 0)), true);
});
