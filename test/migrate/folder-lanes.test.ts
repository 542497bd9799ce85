// Folder lanes (folder-lanes.ts): how many, who claims a target folder, and each lane's share of the pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FolderLanes, laneCount } from '../../src/migrate/folder-lanes.js';

test('lanes only where connections cannot share a folder, never more than the folders, and as given', () => {
  const base = { shareable: true, folders: 10, given: undefined, connections: 3 };
  assert.equal(laneCount({ ...base, connectionsPerFolder: undefined }), 1, 'Dovecot, Cyrus: one walk keeps every connection busy');
  assert.equal(laneCount({ ...base, connectionsPerFolder: 2 }), 1);
  assert.equal(laneCount({ ...base, connectionsPerFolder: 1 }), 3, 'one connection a folder: a lane per connection');
  assert.equal(laneCount({ ...base, connectionsPerFolder: 1, folders: 2 }), 2, 'no more lanes than folders');
  assert.equal(laneCount({ ...base, connectionsPerFolder: 1, folders: 1 }), 1);
  assert.equal(laneCount({ ...base, connectionsPerFolder: 1, shareable: false }), 1, 'a source that cannot share its walk');
  assert.equal(laneCount({ ...base, connectionsPerFolder: undefined, given: 4 }), 4, '--folders-at-once wins');
  assert.equal(laneCount({ ...base, connectionsPerFolder: 1, given: 1 }), 1, '--folders-at-once 1: one walk');
  assert.equal(laneCount({ ...base, connectionsPerFolder: undefined, given: 40 }), 10);
});

test('a target folder belongs to the lane that claimed it first, whatever source folders map to it', () => {
  // Two source folders map to one target (a merge): both go to the lane that claimed the target.
  const target = (f: readonly string[]): string => (f[0] === 'Sent Items' || f[0] === 'Sent' ? 'to:Sent' : `to:${f.join('/')}`);
  const lanes = new FolderLanes(2, target, () => 2);
  const a = lanes.share(0);
  const b = lanes.share(1);
  assert.equal(a.strays, true);
  assert.equal(b.strays, false);
  assert.equal(a.claim([]), true);
  assert.equal(b.claim([]), false, 'INBOX is lane 0\'s');
  assert.equal(b.claim(['Sent']), true);
  assert.equal(a.claim(['Sent Items']), false, 'the same target: lane 1\'s');
  assert.equal(b.claim(['Sent Items']), true);
  assert.equal(b.claim(['Sent']), true, 'asked again: the same answer');
  assert.equal(a.claim(['Work']), true);
  assert.equal(b.claim(['Work']), false);
});

test('each lane holds at most its share of the pool, and a finished lane\'s share goes to the others', async () => {
  let capacity = 4;
  const lanes = new FolderLanes(2, (f) => f.join('/'), () => capacity);
  const a = lanes.gate(0);
  const b = lanes.gate(1);
  assert.equal(a.take(), undefined);
  assert.equal(a.take(), undefined, 'capacity 4, 2 lanes: 2 each');
  let third = false;
  const waiting = a.take()!.then(() => (third = true));
  assert.ok(waiting instanceof Promise);
  assert.equal(b.take(), undefined, 'the other lane is not held up by the first one\'s waiter');
  assert.equal(b.take(), undefined);
  await Promise.resolve();
  assert.equal(third, false);
  a.leave();
  await waiting;
  assert.equal(third, true, 'a slot given back goes to the lane\'s waiter');
  // Lane 1 ends: lane 0 may hold all 4.
  lanes.finished();
  assert.equal(a.take(), undefined);
  assert.equal(a.take(), undefined);
  assert.ok(a.take() instanceof Promise, '4 held');
  // Capacity falls (adaptation lowered the depth): nobody new goes until below the share, and at least one always may.
  capacity = 1;
  const lanes2 = new FolderLanes(3, (f) => f.join('/'), () => capacity);
  assert.equal(lanes2.gate(0).take(), undefined, 'one batch per lane at least');
  assert.equal(lanes2.gate(1).take(), undefined);
  assert.ok(lanes2.gate(1).take() instanceof Promise);
});
