import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symlink, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EmlTreeSource, openSource } from '../../src/sources/index.js';
import { bySubject, copyFixture, drain, FIXTURES, tempDir, text } from './source-helpers.js';

test('an .eml tree: root files are INBOX, directories are folders, other files are ignored', async () => {
  const source = await openSource(join(FIXTURES, 'eml'));
  assert.equal(source.format, 'eml');
  const d = await drain(source);
  assert.deepEqual(d.errors, []);
  assert.deepEqual(source.stats, { yielded: 4, rejected: 0, skipped: 1, skippedBy: { 'not-mail': 1 } });
  assert.deepEqual(d.skipped.map((s) => [s.path.split('/').pop(), s.reason, s.detail]), [['notes.txt', 'not-mail', 'no mail header block (not a message, not an mbox)']]);
  // The id: the path below the root, then the real root's hash and the mtime (tree-source.ts emlId).
  assert.ok(d.messages.every((m) => /^eml:.+@[0-9a-f]{12}\.\d+$/.test(m.message.id)), d.messages.map((m) => m.message.id).join(' '));
  assert.deepEqual(d.messages.map((m) => [m.message.id.replace(/@[0-9a-f]{12}\.\d+$/, ''), m.message.folder.join('/')]), [
    ['eml:Receipts/2024/received-only.eml', 'Receipts/2024'],
    ['eml:Receipts/no-date.EML', 'Receipts'],
    ['eml:Receipts/nul-byte.eml', 'Receipts'],
    ['eml:hello.eml', ''],
  ]);
  assert.ok(d.messages.every((m) => m.message.flags.length === 0));
});

test('.eml INTERNALDATE comes from Date:, then Received:, then the mtime', async (t) => {
  const root = await copyFixture(t, 'eml');
  const when = new Date('2019-09-09T09:09:09Z');
  await utimes(join(root, 'Receipts', 'no-date.EML'), when, when);
  const d = await drain(new EmlTreeSource(root));
  const hello = bySubject(d, 'root eml');
  assert.deepEqual([hello.message.internalDate?.toISOString(), hello.message.internalDateSource], ['2024-03-01T11:00:00.000Z', 'date-header']);
  const rec = bySubject(d, 'received only').message;
  assert.deepEqual([rec.internalDate?.toISOString(), rec.internalDateSource], ['2024-03-02T08:00:00.000Z', 'received-header']);
  const none = bySubject(d, 'no date at all').message;
  assert.deepEqual([none.internalDate?.toISOString(), none.internalDateSource], ['2019-09-09T09:09:09.000Z', 'mtime']);
  assert.equal(text(hello), 'From: a@example.org\r\nSubject: root eml\r\nDate: Fri, 1 Mar 2024 12:00:00 +0100 (CET)\r\nMessage-ID: <e1@example.org>\r\n\r\nhello\r\n');
  assert.equal(hello.normalized.messageId, '<e1@example.org>');
});

test('a NUL byte is kept and flagged for the transport', async () => {
  const d = await drain(await openSource(join(FIXTURES, 'eml')));
  const nul = bySubject(d, 'has a NUL');
  assert.equal(nul.normalized.hasNul, true);
  assert.equal(nul.normalized.data.toString('latin1'), 'From: a@example.org\r\nSubject: has a NUL\r\nDate: Sun, 3 Mar 2024 09:00:00 +0000\r\n\r\nbefore\0after\r\n');
  assert.equal(bySubject(d, 'root eml').normalized.hasNul, false);
});

test('a single .eml file is a source of one message in INBOX', async () => {
  const source = await openSource(join(FIXTURES, 'eml', 'hello.eml'));
  const d = await drain(source);
  assert.equal(d.messages.length, 1);
  assert.deepEqual(d.messages[0]!.message.folder, []);
});

test('.eml ids: the same for the same tree however it is named, different for another export of the same layout or a file re-exported in place', async (t) => {
  const ids = async (root: string): Promise<string[]> => (await drain(await openSource(root))).messages.map((m) => m.message.id).sort();
  const a = await copyFixture(t, 'eml');
  const b = await copyFixture(t, 'eml');
  const first = await ids(a);
  assert.deepEqual(await ids(a), first, 'a re-walk: the same ids (the journal can vouch for them)');
  assert.deepEqual(await ids(relative(process.cwd(), a)), first, 'the root spelled as a relative path');
  const link = join(await tempDir(t), 'link');
  await symlink(a, link);
  assert.deepEqual(await ids(link), first, 'the root reached through a symlink');
  // Another export with the same layout (the copy has the same names, sizes and, here, the same mtimes): no id shared,
  // or the journal of the account would vouch for one export's message as the other's.
  const same = new Date('2024-01-01T00:00:00Z');
  for (const root of [a, b]) await utimes(join(root, 'hello.eml'), same, same);
  const [ia, ib] = [await ids(a), await ids(b)];
  assert.equal(ia.filter((id) => ib.includes(id)).length, 0, 'two exports share no id');
  // Re-exported in place: the file's mtime moves, so does its id.
  const before = (await ids(a)).find((id) => id.startsWith('eml:hello.eml@'));
  await utimes(join(a, 'hello.eml'), new Date('2024-06-01T00:00:00Z'), new Date('2024-06-01T00:00:00Z'));
  const after = (await ids(a)).find((id) => id.startsWith('eml:hello.eml@'));
  assert.notEqual(after, before);
});
