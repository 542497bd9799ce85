import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { ConfirmedIndex, FlagLists } from '../../src/journal/confirmed-index.js';
import { digestId } from '../../src/journal/id-digest.js';

const d = (id: string): Uint32Array => digestId(id);

test('the compact table answers exactly what was set, for ten thousand ids, across its growth', () => {
  const t = new ConfirmedIndex(new FlagLists());
  const flags = [[], ['\\Seen'], ['\\Seen', '$Label1']];
  for (let i = 0; i < 10_000; i++) t.set(d(`maildir:INBOX/${i}.M${i}P1.host`), { uid: i + 1, rawSize: i * 7, flags: flags[i % 3]! });
  assert.equal(t.size, 10_000);
  for (let i = 0; i < 10_000; i++) {
    assert.deepEqual(t.get(d(`maildir:INBOX/${i}.M${i}P1.host`)), { uid: i + 1, rawSize: i * 7, flags: flags[i % 3] }, `id ${i}`);
  }
  assert.equal(t.get(d('maildir:INBOX/never.host')), undefined);
  // 26 bytes a slot, at least 30 % of the slots free: well under the ~300 bytes a Map of strings cost.
  assert.ok(t.bytes / t.size < 80, `${t.bytes / t.size} bytes per entry`);
});

test('setting an id again replaces its value without counting it twice; unknown uid and size stay unknown', () => {
  const t = new ConfirmedIndex(new FlagLists());
  assert.equal(t.set(d('a'), { uid: undefined, rawSize: undefined, flags: [] }), true);
  assert.deepEqual(t.get(d('a')), { uid: undefined, rawSize: undefined, flags: [] });
  assert.equal(t.set(d('a'), { uid: 4294967295, rawSize: 0, flags: ['\\Answered'] }), false);
  assert.deepEqual(t.get(d('a')), { uid: 4294967295, rawSize: 0, flags: ['\\Answered'] });
  assert.equal(t.size, 1);
  assert.equal(t.setFlags(d('a'), ['\\Seen']), true);
  assert.deepEqual(t.get(d('a'))?.flags, ['\\Seen']);
  assert.equal(t.setFlags(d('b'), ['\\Seen']), false, 'flags alone never create an entry');
});

test('a raw size of 4 GiB or more is kept exactly (in the overflow), never rounded into the unknown marker', () => {
  const t = new ConfirmedIndex(new FlagLists());
  t.set(d('huge'), { uid: 9, rawSize: 0xffffffff, flags: ['\\Seen'] });
  t.set(d('huger'), { uid: 10, rawSize: 2 ** 40, flags: [] });
  assert.deepEqual(t.get(d('huge')), { uid: 9, rawSize: 0xffffffff, flags: ['\\Seen'] });
  assert.deepEqual(t.get(d('huger')), { uid: 10, rawSize: 2 ** 40, flags: [] });
  t.set(d('huge'), { uid: 9, rawSize: 12, flags: [] });
  assert.deepEqual(t.get(d('huge')), { uid: 9, rawSize: 12, flags: [] }, 'back in the slot when it fits again');
});

test('deleting keeps every other id findable (backward shift over colliding probe runs), and deleted ids are gone', () => {
  const t = new ConfirmedIndex(new FlagLists());
  const ids = Array.from({ length: 3000 }, (_, i) => `id-${i}`);
  ids.forEach((id, i) => t.set(d(id), { uid: i + 1, rawSize: i, flags: [] }));
  for (let i = 0; i < ids.length; i += 3) assert.equal(t.delete(d(ids[i]!)), true);
  assert.equal(t.delete(d('id-0')), false, 'a second delete finds nothing');
  ids.forEach((id, i) => assert.equal(t.get(d(id))?.uid, i % 3 === 0 ? undefined : i + 1, id));
  assert.equal(t.size, 2000);
  ids.forEach((id, i) => t.set(d(id), { uid: i + 1, rawSize: i, flags: [] }));
  assert.equal(t.size, 3000);
});

test('digests of different ids differ and the same id always gives the same digest', () => {
  assert.deepEqual([...digestId('maildir:INBOX/1.a')], [...digestId('maildir:INBOX/1.a')]);
  assert.notDeepEqual([...digestId('maildir:INBOX/1.a')], [...digestId('maildir:INBOX/1.b')]);
  assert.notDeepEqual([...digestId('日本語')], [...digestId('日本誤')]);
});

test('a digest is the first 16 bytes of the SHA-256 of the id in UTF-8, read as little-endian words', () => {
  // The words are read from a latin1 string of the digest (id-digest.ts): bytes ≥ 0x80 must come out whole, and
  // a non-ASCII id must be hashed as UTF-8, or the same id would digest differently after a change of reader.
  for (const id of ['maildir:INBOX/1.a', '日本語/ü.eml', '', 'x'.repeat(5000)]) {
    const b = createHash('sha256').update(id, 'utf8').digest();
    const want = [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)];
    assert.deepEqual([...digestId(id)], want, id.slice(0, 20));
  }
});

test('the same id digested twice in a row, into different arrays, gives the same words each time and never shares the array', () => {
  const a = digestId('maildir:INBOX/7.x');
  const b = digestId('maildir:INBOX/7.x');
  assert.deepEqual([...b], [...a]);
  b[0] = 0;
  assert.notEqual(digestId('maildir:INBOX/7.x')[0], 0); // the kept words are a copy, not the caller's array
  assert.notDeepEqual([...digestId('maildir:INBOX/7.y')], [...a]);
  assert.deepEqual([...digestId('maildir:INBOX/7.x')], [...a]);
});
