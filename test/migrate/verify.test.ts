import assert from 'node:assert/strict';
import { mapFolder } from '../../src/migrate/folder-map.js';
import { test } from 'node:test';
import { ControlAdapter, type ControlPlaneLike } from '../../src/migrate/control-adapter.js';
import { compareFolder, normalizeMessageId } from '../../src/migrate/verify.js';

const src = (id: string | undefined, size: number, origin = `f-${id}-${size}`) => ({ origin, messageId: id, size });

test('Message-IDs compare without angle brackets and white space', () => {
  assert.equal(normalizeMessageId('<a@b>'), 'a@b');
  assert.equal(normalizeMessageId('  <a@b> (comment)'), 'a@b');
  assert.equal(normalizeMessageId('a@b'), 'a@b');
  assert.equal(normalizeMessageId('  '), undefined);
  assert.equal(normalizeMessageId(undefined), undefined);
});

test('a folder matches when every source message has a server twin with the same Message-ID and size', () => {
  const c = compareFolder('INBOX', [src('<a@x>', 10), src(undefined, 20)], [{ uid: 2, size: 20 }, { uid: 1, messageId: 'a@x', size: 10 }]);
  assert.equal(c.matched, 2);
  assert.deepEqual([c.missing, c.extra, c.sizeMismatch], [[], [], []]);
});

test('missing, extra and size differences are told apart', () => {
  const c = compareFolder(
    'Work',
    [src('<a@x>', 10), src('<b@x>', 11), src('<c@x>', 12)],
    [{ uid: 1, messageId: '<a@x>', size: 10 }, { uid: 2, messageId: '<b@x>', size: 99 }, { uid: 3, messageId: '<z@x>', size: 5 }],
  );
  assert.equal(c.matched, 1);
  assert.deepEqual(c.missing.map((m) => m.messageId), ['<c@x>']);
  assert.deepEqual(c.extra.map((e) => e.uid), [3]);
  assert.deepEqual(c.sizeMismatch.map((d) => [d.source.messageId, d.server.uid]), [['<b@x>', 2]]);
});

test('a duplicate on the server is reported as extra even though its Message-ID is in the source', () => {
  const c = compareFolder('INBOX', [src('<a@x>', 10)], [{ uid: 1, messageId: '<a@x>', size: 10 }, { uid: 2, messageId: '<a@x>', size: 10 }]);
  assert.equal(c.matched, 1);
  assert.deepEqual(c.extra.map((e) => e.uid), [2]);
  assert.deepEqual(c.sizeMismatch, []);
});

function fakePlane(existing: string[], ns = ''): ControlPlaneLike & { created: Array<[string[], string | undefined]> } {
  const created: Array<[string[], string | undefined]> = [];
  return {
    created,
    capabilities: new Set(['MULTIAPPEND']),
    delimiter: async () => '.',
    namespacePrefix: () => ns,
    listFolders: async () => existing.map((path) => ({ path })),
    ensureFolder: async (parts, use) => {
      created.push([parts, use]);
      return ns + parts.join('.');
    },
    permanentFlags: async () => ({ flags: [], anyKeyword: false }),
    findByMessageId: async () => [],
    listMessages: async () => [],
    fetchBody: async () => Buffer.alloc(0),
  };
}

test('the adapter splits the joined path at the delimiter, creates once and reports whether it created', async () => {
  const plane = fakePlane(['INBOX', 'Old']);
  const a = new ControlAdapter(plane);
  assert.equal(await a.ensureFolder('Old'), false);
  assert.equal(await a.ensureFolder('Work.Projects', '\\Archive'), true);
  assert.equal(await a.ensureFolder('Work.Projects'), false);
  assert.equal(await a.ensureFolder('inbox'), false);
  assert.deepEqual(plane.created, [[['Work', 'Projects'], '\\Archive']]);
});

test('under a personal namespace prefix, folders are mapped below it and the control plane gets the names under it', async () => {
  const plane = fakePlane(['INBOX', 'INBOX.Old'], 'INBOX.');
  const adapter = new ControlAdapter(plane);
  const server = { delimiter: '.', specialUse: new Map<string, string>(), namespacePrefix: await adapter.namespacePrefix() };
  const sent = mapFolder(['Projects', 'A'], server);
  assert.equal(sent.path, 'INBOX.Projects.A');
  assert.equal(mapFolder([], server).path, 'INBOX');
  assert.equal(await adapter.ensureFolder(sent.path), true);
  assert.deepEqual(plane.created, [[['Projects', 'A'], undefined]]);
  assert.equal(await adapter.ensureFolder(mapFolder(['Old'], server).path), false, 'an existing folder is not created again');
});
