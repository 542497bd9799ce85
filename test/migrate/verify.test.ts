import assert from 'node:assert/strict';
import { mapFolder } from '../../src/migrate/folder-map.js';
import { test } from 'node:test';
import { ControlAdapter, type ControlPlaneLike } from '../../src/migrate/control-adapter.js';

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
    status: async () => ({ uidValidity: 1, uidNext: 1, messages: 0 }),
    storeFlags: async () => undefined,
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
