import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findOnServer, type ServerControl } from '../../src/migrate/server-lookup.js';
import { settleWindowMs } from '../../src/migrate/folder-settle.js';

function fake(messages: Array<{ uid: number; messageId?: string; body: Buffer }>): ServerControl & { fetched: number[] } {
  const fetched: number[] = [];
  return {
    fetched,
    delimiter: async () => '/',
    namespacePrefix: async () => '',
    listFolders: async () => [],
    ensureFolder: async () => false,
    permanentFlags: async () => ({ flags: [], anyKeyword: true }),
    folderStatus: async () => ({ uidValidity: 1, uidNext: messages.length + 1, messages: messages.length }),
    indexFolder: async () => ({ exists: messages.length, uidValidity: 1 }),
    storeFlags: async () => undefined,
    findByMessageId: async (_p, id) => messages.filter((m) => m.messageId === id).map((m) => ({ uid: m.uid, size: m.body.length })),
    listMessages: async () => messages.map((m) => ({ uid: m.uid, size: m.body.length, messageId: m.messageId })),
    fetchBody: async (_p, uid) => {
      fetched.push(uid);
      return messages.find((m) => m.uid === uid)!.body;
    },
  };
}

test('a message with the same Message-ID and size but other bytes does not count as present', async () => {
  const ours = Buffer.from('Message-ID: <a@x>\r\n\r\nhello\r\n');
  const theirs = Buffer.from('Message-ID: <a@x>\r\n\r\nHELLO\r\n');
  const control = fake([{ uid: 7, messageId: '<a@x>', body: theirs }]);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', ours), undefined);
  assert.deepEqual(control.fetched, [7]);
});

test('identical bytes are found by Message-ID, and without one by size and content', async () => {
  const a = Buffer.from('Message-ID: <a@x>\r\n\r\nhello\r\n');
  const b = Buffer.from('Subject: no id\r\n\r\nbody one\r\n');
  const c = Buffer.from('Subject: no id\r\n\r\nbody two\r\n');
  const control = fake([{ uid: 1, messageId: '<a@x>', body: a }, { uid: 2, body: b }, { uid: 3, body: c }]);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', a), 1);
  assert.equal(await findOnServer(control, 'INBOX', undefined, c), 3);
  assert.equal(await findOnServer(control, 'INBOX', undefined, Buffer.from('x')), undefined, 'no candidate of that size');
});

test('a server copy already accounted for (appended or matched by this run) is not taken for a second copy', async () => {
  const a = Buffer.from('Message-ID: <a@x>\r\n\r\nhello\r\n');
  const control = fake([{ uid: 1, messageId: '<a@x>', body: a }]);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', a, (uid) => uid === 1), undefined);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', a, () => false), 1);
});

test('a copy the server rewrote (a header added, 8-bit header bytes replaced) is found; identical bytes win over it', async () => {
  const ours = Buffer.from('Message-ID: <a@x>\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\n\r\nhello\r\n', 'latin1');
  const rewritten = Buffer.from('Received: by server\r\nMessage-ID: <a@x>\r\nSubject: GrXXXXe\r\n\r\nhello\r\n', 'latin1');
  const control = fake([{ uid: 4, messageId: '<a@x>', body: rewritten }]);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', ours), 4);
  const both = fake([{ uid: 4, messageId: '<a@x>', body: rewritten }, { uid: 5, messageId: '<a@x>', body: ours }]);
  assert.equal(await findOnServer(both, 'INBOX', '<a@x>', ours), 5);
});

test('unknown outcomes wait for a folder to stay unchanged longer than the slowest answer the server gave (1–10 s)', () => {
  assert.equal(settleWindowMs(0), 1000, 'a fast server: 1 s');
  assert.equal(settleWindowMs(3100), 4650, "Courier's 3.1 s folder-lock wait: 1.5 × that");
  assert.equal(settleWindowMs(120_000), 10_000, 'capped');
});
