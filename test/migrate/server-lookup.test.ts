import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findOnServer, fingerprintOf, type ServerControl } from '../../src/migrate/server-lookup.js';

function fake(messages: Array<{ uid: number; messageId?: string; body: Buffer }>): ServerControl & { fetched: number[] } {
  const fetched: number[] = [];
  return {
    fetched,
    delimiter: async () => '/',
    namespacePrefix: async () => '',
    listFolders: async () => [],
    ensureFolder: async () => false,
    permanentFlags: async () => ({ flags: [], anyKeyword: true }),
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
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', ours.length, fingerprintOf(ours)), undefined);
  assert.deepEqual(control.fetched, [7]);
});

test('identical bytes are found by Message-ID, and without one by size and fingerprint', async () => {
  const a = Buffer.from('Message-ID: <a@x>\r\n\r\nhello\r\n');
  const b = Buffer.from('Subject: no id\r\n\r\nbody one\r\n');
  const c = Buffer.from('Subject: no id\r\n\r\nbody two\r\n');
  const control = fake([{ uid: 1, messageId: '<a@x>', body: a }, { uid: 2, body: b }, { uid: 3, body: c }]);
  assert.equal(await findOnServer(control, 'INBOX', '<a@x>', a.length, fingerprintOf(a)), 1);
  assert.equal(await findOnServer(control, 'INBOX', undefined, c.length, fingerprintOf(c)), 3);
  assert.equal(await findOnServer(control, 'INBOX', undefined, 5, fingerprintOf(c)), undefined, 'no candidate of that size');
});
