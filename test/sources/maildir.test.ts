import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename, utimes, writeFile, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MaildirSource, maildirFlags, openSource, parseDovecotKeywords, parseMaildirName } from '../../src/sources/index.js';
import { bySubject, copyFixture, drain, tempDir, text } from './source-helpers.js';

test('Maildir names: the info after ":2," or "!2," holds the flags and ,S= ,W= leave the identity', () => {
  const n = parseMaildirName('1700000000.M1P1.host,S=120,W=125:2,FS');
  assert.equal(n.base, '1700000000.M1P1.host');
  assert.equal(n.info, 'FS');
  assert.equal(n.time?.toISOString(), '2023-11-14T22:13:20.000Z');
  assert.equal(parseMaildirName('1700000003.M4P4.host!2,DT').info, 'DT');
  assert.equal(parseMaildirName('1700000002.M3P3.host').info, '');
  assert.equal(parseMaildirName('nodigits.host:2,S').time, undefined);
});

test('flag letters map to IMAP flags and lower-case letters to dovecot-keywords', () => {
  const kw = parseDovecotKeywords('0 $Label1\n1 Work\nbroken line\n');
  // T (trashed) is not a flag: it sets SourceMessage.deleted, and the importer decides about \\Deleted (issue 11).
  assert.deepEqual(maildirFlags('DFPRSTabz', kw), ['\\Draft', '\\Flagged', '$Forwarded', '\\Answered', '\\Seen', '$Label1', 'Work']);
});

test('a Maildir++ tree gives folders, flags, keywords and exact CRLF bytes', async (t) => {
  const root = await copyFixture(t, 'maildir');
  const source = await openSource(root);
  assert.equal(source.format, 'maildir++');
  const d = await drain(source);
  assert.deepEqual(d.errors, []);
  assert.deepEqual(source.stats, { yielded: 8, rejected: 0, skipped: 6, skippedBy: { 'not-mail': 6 } });
  // Every other path is in a bucket with its reason: state files, the Maildir++ folder marker, tmp/, hidden files.
  assert.deepEqual(d.skipped.map((s) => [s.path.slice(root.length + 1), s.detail]).sort(), [
    ['.Work/maildirfolder', 'Maildir++ folder marker'],
    ['.Work/new/.gitkeep', 'hidden file'],
    ['.Work/tmp/.gitkeep', 'Maildir tmp/: a delivery in progress, not a message yet'],
    ['dovecot-keywords', 'Dovecot keyword names'],
    ['dovecot-uidlist', 'Dovecot UID list'],
    ['tmp/1700000009.M9P9.host', 'Maildir tmp/: a delivery in progress, not a message yet'],
  ]);
  assert.deepEqual(
    d.messages.map((m) => m.message.folder.join('/')).sort(),
    ['', '', '', '', 'Café', 'Café', 'Work', 'Work/Projects'],
  );
  const crlf = bySubject(d, 'crlf seen flagged');
  assert.deepEqual(crlf.message.flags, ['\\Flagged', '\\Seen']);
  assert.equal(crlf.message.id, 'maildir:INBOX/1700000000.M1P1.host');
  assert.equal(crlf.normalized.messageId, '<m1@example.org>');
  assert.equal(crlf.normalized.date?.toISOString(), '2023-11-14T22:13:20.000Z');
  assert.equal(text(crlf), 'From: a@example.org\r\nTo: b@example.org\r\nSubject: crlf seen flagged\r\nMessage-ID: <m1@example.org>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nAlready CRLF.\r\n');
  const kw = bySubject(d, 'bare LF, keywords');
  assert.deepEqual(kw.message.flags, ['$Forwarded', '\\Answered', '$Label1', 'Work']);
  assert.equal(text(kw), 'From: a@example.org\r\nSubject: bare LF, keywords\r\nMessage-ID: <m2@example.org>\r\n\r\nline one\r\nline two\r\n');
  assert.deepEqual(bySubject(d, 'bang delimiter, draft deleted').message.flags, ['\\Draft']);
  assert.equal(bySubject(d, 'bang delimiter, draft deleted').message.deleted, true);
  assert.ok(d.messages.filter((m) => !/draft deleted/.test(text(m))).every((m) => !m.message.deleted));
  const fresh = bySubject(d, 'new, no info');
  assert.deepEqual(fresh.message.flags, []);
  assert.equal(text(fresh), 'From: a@example.org\r\nSubject: new, no info\r\n\r\nmixed\r\nendings\r\n');
  assert.deepEqual(bySubject(d, 'keyword a with no dovecot-keywords here').message.flags, []);
  assert.deepEqual(bySubject(d, 'in Work/Projects').message.folder, ['Work', 'Projects']);
  assert.ok(!d.messages.some((m) => text(m).includes('must be skipped')), 'tmp/ is skipped');
});

test('INTERNALDATE is the mtime, or the file-name time when the mtime is unknown', async (t) => {
  const root = await copyFixture(t, 'maildir');
  const when = new Date('2020-05-06T07:08:09Z');
  await utimes(join(root, 'cur', '1700000000.M1P1.host,S=120,W=125:2,FS'), when, when);
  await utimes(join(root, 'cur', '1700000001.M2P2.host:2,PRab'), new Date(0), new Date(0));
  const d = await drain(await openSource(root));
  const a = bySubject(d, 'crlf seen flagged').message;
  assert.equal(a.internalDate?.toISOString(), '2020-05-06T07:08:09.000Z');
  assert.equal(a.internalDateSource, 'mtime');
  const b = bySubject(d, 'bare LF, keywords').message;
  assert.equal(b.internalDate?.toISOString(), '2023-11-14T22:13:21.000Z');
  assert.equal(b.internalDateSource, 'filename');
});

test('identity survives a flag change and a move from new/ to cur/', async (t) => {
  const root = await copyFixture(t, 'maildir');
  const before = (await drain(await openSource(root))).messages.map((m) => m.message.id).sort();
  await rename(join(root, 'cur', '1700000000.M1P1.host,S=120,W=125:2,FS'), join(root, 'cur', '1700000000.M1P1.host,S=120:2,RS'));
  await rename(join(root, 'new', '1700000002.M3P3.host'), join(root, 'cur', '1700000002.M3P3.host:2,S'));
  const after = (await drain(await openSource(root))).messages.map((m) => m.message.id).sort();
  assert.deepEqual(after, before);
  assert.equal(new Set(after).size, after.length, 'ids are unique');
});

test('a nested Maildir tree decodes modified UTF-7 directories and keeps other names as written', async (t) => {
  const root = await copyFixture(t, 'maildir-nested');
  const source = await openSource(root);
  assert.equal(source.format, 'maildir');
  const d = await drain(source);
  assert.deepEqual(d.errors, []);
  assert.deepEqual(d.messages.map((m) => m.message.folder.join('/')).sort(), ['', 'Archive', 'Archive/2023', 'Entwürfe', 'Tom & Jerry']);
  assert.deepEqual(bySubject(d, 'drafts in mUTF-7 dir').message.flags, ['\\Draft']);
});

test('a root without cur/new but with Maildir sub-folders still reads them', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'Sent', 'cur'), { recursive: true });
  await writeFile(join(dir, 'Sent', 'cur', '1.a.b:2,S'), 'Subject: sent\n\nx\n');
  const source = await openSource(dir);
  assert.equal(source.format, 'maildir');
  const d = await drain(source);
  assert.deepEqual(d.messages.map((m) => m.message.folder), [['Sent']]);
});

test('a file deleted between scan and read rejects read() naming the file', async (t) => {
  const root = await copyFixture(t, 'maildir');
  const source = new MaildirSource(root, 'maildir++');
  let failures = 0;
  let ok = 0;
  for await (const item of source.items()) {
    if (item.kind === 'skipped') continue;
    assert.equal(item.kind, 'message');
    if (item.kind !== 'message') continue;
    if (item.message.origin.endsWith(':2,FS')) {
      await unlink(item.message.origin);
      await assert.rejects(item.message.read(), (e: Error & { code?: string }) => e.code === 'E_SOURCE_UNREADABLE' && e.message.includes(item.message.origin) && /does not exist/.test(e.message));
      failures++;
    } else {
      await item.message.read();
      ok++;
    }
  }
  assert.equal(failures, 1);
  assert.equal(ok, 7);
  assert.ok((await readdir(join(root, 'cur'))).length > 0);
});
