// Content identity that survives server rewriting, and never merges two messages (issue 16), at three levels:
// the fingerprint comparison (content-match.ts), reconcile's folder index (folder-index.ts), and verify (verify.ts)
// over a real Maildir on disk and a fake server control (no sockets).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareContent, comparePrints, contentPrint } from '../../src/migrate/content-match.js';
import { FolderIndex } from '../../src/migrate/folder-index.js';
import type { ServerControl } from '../../src/migrate/server-lookup.js';
import { BODY_BATCH_BYTES, BODY_BATCH_MESSAGES, verify, type BodyReader } from '../../src/migrate/verify.js';
import { openSource } from '../../src/sources/index.js';

const msg = (head: string, body: string): Buffer => Buffer.from(`${head}\r\n${body}`, 'latin1');
const ORIGINAL = msg('Message-ID: <a@x>\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nFrom: a@x\r\n', 'hello\r\n');
// What Cyrus stores: every 8-bit header byte replaced with 'X' — same length, so the same RFC822.SIZE.
const CYRUS = msg('Message-ID: <a@x>\r\nSubject: GrXXXXe\r\nFrom: a@x\r\n', 'hello\r\n');

test('a message the server stored unchanged is identical, one whose 8-bit header bytes it replaced is rewritten', () => {
  assert.equal(CYRUS.length, ORIGINAL.length);
  assert.equal(compareContent(ORIGINAL, Buffer.from(ORIGINAL)), 'identical');
  assert.equal(compareContent(ORIGINAL, CYRUS), 'rewritten');
  assert.equal(comparePrints(contentPrint(ORIGINAL), contentPrint(CYRUS)), 'rewritten');
});

test('a header the server added, folded differently, or bare LF line endings still make the same message', () => {
  const server = Buffer.from('Received: by imap\r\nMessage-ID: <a@x>\r\nSubject:   GrXXXXe\r\nFrom:\r\n a@x\r\n\r\nhello\r\n\r\n', 'latin1');
  assert.equal(compareContent(ORIGINAL, server), 'rewritten');
  const lf = Buffer.from(ORIGINAL.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  assert.equal(compareContent(ORIGINAL, lf), 'rewritten');
});

test('the same Message-ID and size with one other body byte, an ASCII header changed, or a source header missing is a different message', () => {
  const body = msg('Message-ID: <a@x>\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nFrom: a@x\r\n', 'hellO\r\n');
  assert.equal(body.length, ORIGINAL.length);
  assert.equal(compareContent(ORIGINAL, body), 'different');
  const header = msg('Message-ID: <a@x>\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nFrom: b@x\r\n', 'hello\r\n');
  assert.equal(header.length, ORIGINAL.length);
  assert.equal(compareContent(ORIGINAL, header), 'different');
  assert.equal(compareContent(ORIGINAL, msg('Message-ID: <a@x>\r\nFrom: a@x\r\n', 'hello\r\n')), 'different');
  // A source header present twice must be there twice: one copy of the field does not cover both.
  const twice = msg('Message-ID: <a@x>\r\nReceived: r\r\nReceived: r\r\n', 'hello\r\n');
  assert.equal(compareContent(twice, msg('Message-ID: <a@x>\r\nReceived: r\r\nX: y\r\n', 'hello\r\n')), 'different');
});

/** A fake server folder: UIDs from 1, bodies as given; counts the bodies read. */
function serverFolder(bodies: Buffer[]): { index: FolderIndex; fetched: number[]; fetch: (uid: number) => Promise<Buffer> } {
  const index = new FolderIndex();
  bodies.forEach((b, i) => index.add({ uid: i + 1, size: b.length, messageId: /Message-ID: (\S+)/i.exec(b.toString('latin1'))?.[1], flags: [] }));
  const fetched: number[] = [];
  return { index, fetched, fetch: async (uid) => (fetched.push(uid), bodies[uid - 1]!) };
}

test('reconcile: a unique Message-ID with the same size is present without reading its body', async () => {
  const s = serverFolder([ORIGINAL]);
  assert.deepEqual(await s.index.match('<a@x>', ORIGINAL, s.fetch), { uid: 1, how: 'id-and-size', flags: [] });
  assert.deepEqual(s.fetched, []);
});

test('reconcile: a message the server rewrote to another size is found as rewritten, by content', async () => {
  const rewritten = Buffer.concat([Buffer.from('Return-Path: <a@x>\r\n'), CYRUS]);
  const s = serverFolder([rewritten]);
  assert.equal((await s.index.match('<a@x>', ORIGINAL, s.fetch))?.how, 'rewritten');
  assert.deepEqual(s.fetched, [1]);
});

test('reconcile: a second source message with the same Message-ID and size is compared by content, never taken for the first one\'s copy', async () => {
  const first = msg('Message-ID: <d@x>\r\nSubject: draft 1\r\n', 'text A\r\n');
  const second = msg('Message-ID: <d@x>\r\nSubject: draft 2\r\n', 'text B\r\n');
  assert.equal(first.length, second.length);
  // The server holds only the first (the crash came before the second was sent): the second is missing.
  const s = serverFolder([first]);
  assert.equal((await s.index.match('<d@x>', first, s.fetch))?.uid, 1);
  assert.equal(await s.index.match('<d@x>', second, s.fetch), undefined);
  // The server holds the first and a third message with that Message-ID and size (a copy the user edited): once the
  // first is matched, that third one is the only candidate left, and still not the second source message.
  const third = msg('Message-ID: <d@x>\r\nSubject: draft 3\r\n', 'text C\r\n');
  const s3 = serverFolder([first, third]);
  assert.equal((await s3.index.match('<d@x>', first, s3.fetch))?.uid, 1);
  assert.equal(await s3.index.match('<d@x>', second, s3.fetch), undefined);
  assert.deepEqual(s3.fetched.sort(), [1, 2]);
  // A copy this run appended (claimed through APPENDUID) beside another: the other is compared, not assumed.
  const claimed = new FolderIndex(new Set([1]));
  claimed.add({ uid: 1, size: first.length, messageId: '<d@x>', flags: [] });
  claimed.add({ uid: 2, size: third.length, messageId: '<d@x>', flags: [] });
  assert.equal(await claimed.match('<d@x>', second, async () => third), undefined);
  // The server holds both, the second one first: each source message gets its own copy, by content.
  const both = serverFolder([second, first]);
  assert.equal((await both.index.match('<d@x>', first, both.fetch))?.uid, 2);
  assert.equal((await both.index.match('<d@x>', second, both.fetch))?.uid, 1);
});

test('reconcile: two different source messages with one Message-ID and size, only the second on the server — the first gives the copy back and is sent', async () => {
  const first = msg('Message-ID: <d@x>\r\nSubject: draft 1\r\n', 'text A\r\n');
  const second = msg('Message-ID: <d@x>\r\nSubject: draft 2\r\n', 'text B\r\n');
  const sources = new Map([['first', first], ['second', second]]);
  const owns = async (owner: string, server: Buffer): Promise<boolean> => compareContent(sources.get(owner)!, server) !== 'different';
  // Only the second is on the server: the first takes it by Message-ID and size (no body read) ...
  const s = serverFolder([second]);
  assert.equal((await s.index.match('<d@x>', first, s.fetch, 'first', owns))?.how, 'id-and-size');
  // ... and the second, identical to that copy while the first is not, takes it over and names the first to send.
  const m = await s.index.match('<d@x>', second, s.fetch, 'second', owns);
  assert.deepEqual(m, { uid: 1, how: 'identical', flags: [], displaced: 'first' });
  // The other direction: only the first is on the server — it keeps its copy, the second is not there.
  const o = serverFolder([first]);
  assert.equal((await o.index.match('<d@x>', first, o.fetch, 'first', owns))?.uid, 1);
  assert.equal(await o.index.match('<d@x>', second, o.fetch, 'second', owns), undefined);
  // The same message twice in the source, one copy on the server: the first keeps it, the second is sent.
  const twice = serverFolder([first]);
  const ownsTwice = async (_o: string, server: Buffer): Promise<boolean> => compareContent(first, server) !== 'different';
  assert.equal((await twice.index.match('<d@x>', first, twice.fetch, 'a', ownsTwice))?.uid, 1);
  assert.equal(await twice.index.match('<d@x>', Buffer.from(first), twice.fetch, 'b', ownsTwice), undefined);
  // Without an owner (verify's way of asking) the Message-ID-and-size claim stays final.
  const plain = serverFolder([second]);
  assert.equal((await plain.index.match('<d@x>', first, plain.fetch))?.uid, 1);
  assert.equal(await plain.index.match('<d@x>', second, plain.fetch), undefined);
});

// ---- verify, over a Maildir on disk ----

function maildir(messages: Buffer[]): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mm-identity-'));
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub));
  messages.forEach((m, i) => writeFileSync(join(dir, 'cur', `17000000${String(i).padStart(2, '0')}.M${i}P1.host:2,S`), m));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fake server holding `bodies` in INBOX; counts each body read and each batch. */
function fakeServer(bodies: Buffer[]): { control: ServerControl; readBodies: BodyReader; batches: number[][] } {
  const batches: number[][] = [];
  const entry = (b: Buffer, i: number) => ({ uid: i + 1, size: b.length, messageId: /Message-ID: (\S+)/i.exec(b.toString('latin1'))?.[1], flags: [] as string[] });
  const control: ServerControl = {
    delimiter: async () => '/',
    namespacePrefix: async () => '',
    listFolders: async () => [{ path: 'INBOX' }],
    ensureFolder: async () => false,
    permanentFlags: async () => ({ flags: [], anyKeyword: true }),
    folderStatus: async () => ({ uidValidity: 1, uidNext: bodies.length + 1, messages: bodies.length }),
    indexFolder: async (_p, onEntry) => {
      bodies.forEach((b, i) => onEntry(entry(b, i)));
      return { exists: bodies.length, uidValidity: 1 };
    },
    storeFlags: async () => undefined,
    findByMessageId: async () => [],
    listMessages: async () => bodies.map(entry),
    fetchBody: async (_p, uid) => bodies[uid - 1]!,
  };
  const readBodies: BodyReader = async (_p, uids, onBody) => {
    batches.push([...uids]);
    for (const uid of uids) onBody(uid, bodies[uid - 1]!);
  };
  return { control, readBodies, batches };
}

test('verify reports a message the server rewrote without changing its size as changed by the server, and passes', async (t) => {
  const src = maildir([ORIGINAL]);
  t.after(src.done);
  const { control, readBodies } = fakeServer([CYRUS]);
  const r = await verify(control, [await openSource(src.dir)], { readBodies });
  assert.equal(r.comparison, 'content');
  assert.deepEqual({ ok: r.ok, matched: r.totals.matched, changed: r.totals.changedByServer, missing: r.totals.missing }, { ok: true, matched: 1, changed: 1, missing: 0 });
  // --fast cannot see it, and says how it compared.
  const fast = await verify(control, [await openSource(src.dir)], { comparison: 'id-and-size', readBodies });
  assert.deepEqual({ comparison: fast.comparison, ok: fast.ok, changed: fast.totals.changedByServer }, { comparison: 'id-and-size', ok: true, changed: 0 });
});

test('verify does not take a different message with the same Message-ID and size for the source message: it is missing, the other is extra', async (t) => {
  const ours = msg('Message-ID: <same@x>\r\nSubject: ours\r\n', 'one\r\n');
  const theirs = msg('Message-ID: <same@x>\r\nSubject: them\r\n', 'two\r\n');
  assert.equal(ours.length, theirs.length);
  const src = maildir([ours]);
  t.after(src.done);
  const { control, readBodies } = fakeServer([theirs]);
  const r = await verify(control, [await openSource(src.dir)], { readBodies });
  assert.equal(r.ok, false);
  assert.deepEqual(r.folders[0]!.missing.map((m) => m.messageId), ['<same@x>']);
  assert.deepEqual(r.folders[0]!.extra.map((m) => m.uid), [1]);
});

test('verify matches two source messages sharing a Message-ID and size to their own server copies, whatever the order', async (t) => {
  const a = msg('Message-ID: <dup@x>\r\nSubject: copy A\r\n', 'first\r\n');
  const b = msg('Message-ID: <dup@x>\r\nSubject: copy B\r\n', 'other\r\n');
  const src = maildir([a, b]);
  t.after(src.done);
  for (const order of [[a, b], [b, a]]) {
    const { control, readBodies } = fakeServer(order);
    const r = await verify(control, [await openSource(src.dir)], { readBodies });
    assert.deepEqual({ ok: r.ok, matched: r.totals.matched, identical: r.totals.matched - r.totals.changedByServer, extra: r.totals.extra }, { ok: true, matched: 2, identical: 2, extra: 0 });
  }
  // The server holds only B: A is missing, never matched to B's copy.
  const { control, readBodies } = fakeServer([b]);
  const r = await verify(control, [await openSource(src.dir)], { readBodies });
  assert.equal(r.totals.missing, 1);
  assert.equal(r.totals.matched, 1);
});

test('verify reads server bodies in batches bounded in count and bytes', async (t) => {
  const big = 'x'.repeat(200_000);
  const messages = Array.from({ length: 300 }, (_, i) => msg(`Message-ID: <m${i}@x>\r\n`, i < 60 ? `${big}\r\n` : `small ${i}\r\n`));
  const src = maildir(messages);
  t.after(src.done);
  const { control, readBodies, batches } = fakeServer(messages);
  const r = await verify(control, [await openSource(src.dir)], { readBodies });
  assert.equal(r.ok, true);
  assert.equal(r.bodiesFetched, 300);
  assert.equal(batches.flat().length, 300, 'each body read once');
  for (const b of batches) {
    assert.ok(b.length <= BODY_BATCH_MESSAGES, `batch of ${b.length} messages`);
    const bytes = b.reduce((n, uid) => n + messages[uid - 1]!.length, 0);
    assert.ok(b.length === 1 || bytes <= BODY_BATCH_BYTES, `batch of ${bytes} bytes`);
  }
  assert.ok(batches.length >= 3, `${batches.length} batches`);
});
