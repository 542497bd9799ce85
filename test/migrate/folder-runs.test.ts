import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Journal } from '../../src/journal/journal.js';
import type { FolderStatus } from '../../src/migrate/folder-check.js';
import { FolderRuns } from '../../src/migrate/folder-runs.js';
import type { ServerControl } from '../../src/migrate/server-lookup.js';

// A folder holding mail that no run of this journal vouches for (a fresh journal) must be unchanged from its first
// look until the quiet window after the run began (AFTER_CRASH_WINDOW_MS, 3 s) before it is read: a killed client's
// server may still be storing into it. The second look is one burst for every folder the walk will reach, not one
// STATUS a folder as each is reached (folder-runs.ts #lookAfterWindow).

function control(statuses: Map<string, FolderStatus>, log: string[]): ServerControl {
  return {
    delimiter: async () => '/',
    namespacePrefix: async () => '',
    listFolders: async () => [...statuses.keys()].map((path) => ({ path })),
    ensureFolder: async () => false,
    permanentFlags: async () => ({ flags: [], anyKeyword: true }),
    folderStatus: async (path) => {
      log.push(`STATUS ${path}`);
      return statuses.get(path);
    },
    currentStatuses: async (paths) => {
      log.push(`burst ${paths.join(',')}`);
      return new Map(paths.map((p) => [p, statuses.get(p)]));
    },
    indexFolder: async () => ({ exists: 0, uidValidity: 1 }),
    storeFlags: async () => undefined,
    findByMessageId: async () => [],
    listMessages: async () => [],
    fetchBody: async () => Buffer.alloc(0),
  };
}

/** A journal that has never seen these folders: no checkpoint, nothing unconfirmed. */
const freshJournal = { checkpoint: () => undefined, unconfirmed: () => [] } as unknown as Journal;

test('after the quiet window one STATUS burst serves every folder the walk reaches; the next folders are opened ahead of the walk', async () => {
  const statuses = new Map<string, FolderStatus>([
    ['A', { messages: 3, uidNext: 4, uidValidity: 1 }],
    ['B', { messages: 5, uidNext: 6, uidValidity: 1 }],
    ['C', { messages: 1, uidNext: 2, uidValidity: 1 }],
  ]);
  const log: string[] = [];
  const runs = new FolderRuns(control(statuses, log), freshJournal, false);
  runs.expect(['A', 'B', 'C']);
  const started = Date.now();
  const a = await runs.get('A');
  assert.ok(Date.now() - started >= 2900, 'the first folder waited for the quiet window');
  const b = await runs.get('B');
  const c = await runs.get('C');
  // First looks one by one here (the import takes them ahead in one burst too), the walk's next folder opened ahead of
  // it as soon as A is asked for; the second look is one burst for all three, whichever folder asks first.
  assert.deepEqual(log.filter((l) => l.startsWith('STATUS')).sort(), ['STATUS A', 'STATUS B', 'STATUS C']);
  const bursts = log.filter((l) => l.startsWith('burst'));
  assert.equal(bursts.length, 1, log.join(' / '));
  assert.deepEqual(bursts[0]!.slice('burst '.length).split(',').sort(), ['A', 'B', 'C']);
  assert.ok(log.indexOf('STATUS B') < log.indexOf(bursts[0]!), `B was opened ahead, before the window ended: ${log.join(' / ')}`);
  for (const r of [a, b, c]) assert.equal(r.verdict.trusted, false);
  assert.deepEqual(b.status, statuses.get('B'));
});

test('without bursts, or for a folder nobody expected, the second look is a STATUS of its own', async () => {
  const statuses = new Map<string, FolderStatus>([['A', { messages: 3, uidNext: 4, uidValidity: 1 }]]);
  const log: string[] = [];
  const plain = control(statuses, log);
  delete (plain as { currentStatuses?: unknown }).currentStatuses;
  const runs = new FolderRuns(plain, freshJournal, false);
  runs.expect(['A']);
  await runs.get('A');
  assert.deepEqual(log, ['STATUS A', 'STATUS A']);
});
