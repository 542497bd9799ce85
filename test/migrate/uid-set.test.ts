import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UidSet } from '../../src/migrate/uid-set.js';
import { IdRepeats } from '../../src/migrate/id-repeats.js';

test('UIDs appended in order are held as one run, whatever their number', () => {
  const s = new UidSet();
  for (let u = 1; u <= 250_000; u++) s.add(u);
  assert.equal(s.size, 250_000);
  assert.equal(s.runs, 1);
  assert.ok(s.has(1) && s.has(125_000) && s.has(250_000));
  assert.ok(!s.has(0) && !s.has(250_001));
});

test('UIDs added out of order, with gaps and repeats, answer exactly like a Set', () => {
  const s = new UidSet();
  const ref = new Set<number>();
  let x = 12345;
  for (let i = 0; i < 5000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = 1 + (x % 3000);
    s.add(u);
    ref.add(u);
  }
  assert.equal(s.size, ref.size);
  for (let u = 0; u <= 3001; u++) assert.equal(s.has(u), ref.has(u), `uid ${u}`);
});

test('filling the gap between two runs merges them', () => {
  const s = new UidSet([1, 2, 4, 5]);
  assert.equal(s.runs, 2);
  s.add(3);
  assert.equal(s.runs, 1);
  assert.equal(s.size, 5);
  s.add(3);
  assert.equal(s.size, 5, 'adding a UID already there changes nothing');
});

test('a source id seen again in the same folder is counted: 1, 2, 3 — other ids are not affected', () => {
  const r = new IdRepeats();
  assert.equal(r.count('maildir:INBOX/1.host'), 1);
  assert.equal(r.count('maildir:INBOX/2.host'), 1);
  assert.equal(r.count('maildir:INBOX/1.host'), 2);
  assert.equal(r.count('maildir:INBOX/1.host'), 3);
  assert.equal(r.count('maildir:INBOX/2.host'), 2);
});

test('repeat counting stays exact across the set growing to 100 000 ids', () => {
  const r = new IdRepeats();
  for (let i = 0; i < 100_000; i++) assert.equal(r.count(`maildir:INBOX/${i}.host`), 1);
  for (let i = 0; i < 100_000; i += 997) assert.equal(r.count(`maildir:INBOX/${i}.host`), 2, `id ${i}`);
});
