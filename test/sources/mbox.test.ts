import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MboxSource, openSource, parseFromLine } from '../../src/sources/index.js';
import { MboxScanner } from '../../src/sources/mbox-scan.js';
import { unquoteFromLines } from '../../src/sources/mbox.js';
import { bySubject, drain, FIXTURES, tempDir, text } from './source-helpers.js';

test('From_ lines: asctime dates, numeric zones, Thunderbird "From -", and lines that are not From_ lines', () => {
  assert.equal(parseFromLine('From alice@example.org Sat Jan  3 01:05:34 1996')?.date.toISOString(), '1996-01-03T01:05:34.000Z');
  assert.equal(parseFromLine('From - Sun Jan  4 02:00:00 1996')?.sender, '-');
  assert.equal(parseFromLine('From d@x Wed Feb  7 12:00:00 2024 +0100')?.date.toISOString(), '2024-02-07T11:00:00.000Z');
  assert.equal(parseFromLine('From d@x Wed Feb 7 12:00 2024')?.date.toISOString(), '2024-02-07T12:00:00.000Z');
  assert.equal(parseFromLine('From the desk of Alice'), undefined);
  assert.equal(parseFromLine('From somebody without a date'), undefined);
  assert.equal(parseFromLine('From x Mon Feb 30 99:00:00 2024'), undefined);
});

test('unquoting removes exactly one ">" (mboxrd) or only from ">From " (mboxo)', () => {
  const raw = Buffer.from('A: b\n\n>From x\n>>From y\n>>>From z\n> From w\n');
  assert.equal(unquoteFromLines(raw, 'mboxrd').data.toString(), 'A: b\n\nFrom x\n>From y\n>>From z\n> From w\n');
  assert.equal(unquoteFromLines(raw, 'mboxo').data.toString(), 'A: b\n\nFrom x\n>>From y\n>>>From z\n> From w\n');
});

test('the scanner finds the same segments whatever the chunk boundaries', () => {
  const file = Buffer.from(
    'From a@x Mon Apr  1 10:00:00 2024\nA: 1\n\nbody\n\nFrom b@x Mon Apr  1 10:01:00 2024\r\nB: 2\r\n\r\nFrom the desk\r\n\r\n',
  );
  const whole = new MboxScanner(0);
  const expected = [...whole.push(file), ...whole.end()].map((s) => [s.start, s.messageStart, s.headerEnd, s.end, s.digest]);
  assert.equal(expected.length, 2);
  for (let size = 1; size <= 7; size++) {
    const sc = new MboxScanner(0);
    const got = [];
    for (let i = 0; i < file.length; i += size) got.push(...sc.push(file.subarray(i, i + size)));
    got.push(...sc.end());
    assert.deepEqual(got.map((s) => [s.start, s.messageStart, s.headerEnd, s.end, s.digest]), expected, `chunk size ${size}`);
  }
});

test('mboxrd: pseudo-message skipped, From lines unquoted, flags from Status/X-Status/X-Keywords, bookkeeping stripped', async () => {
  const source = await openSource(join(FIXTURES, 'mbox', 'mboxrd.mbox'));
  assert.equal(source.format, 'mbox');
  const d = await drain(source);
  assert.deepEqual(d.errors, []);
  assert.deepEqual(source.stats, { yielded: 2, rejected: 0, skipped: 1, skippedBy: {} }); // the X-IMAPbase pseudo-message is no path
  const a = bySubject(d, 'quoted From lines');
  assert.deepEqual(a.message.folder, []); // one mbox file given directly fills INBOX (issue 12); --to retargets it
  assert.deepEqual(a.message.flags, ['\\Seen', '\\Answered', '\\Flagged', '$Label1', 'Work']);
  assert.equal(a.message.internalDate?.toISOString(), '2023-11-16T09:30:00.000Z');
  assert.equal(a.message.internalDateSource, 'from-line');
  assert.equal(
    text(a),
    'From: alice@example.org\r\nSubject: quoted From lines\r\nMessage-ID: <rd1@example.org>\r\nDate: Thu, 16 Nov 2023 10:30:00 +0100\r\n\r\n' +
      'Hello\r\nFrom the start of a line\r\n>From twice quoted\r\n>not a from line\r\n',
  );
  assert.match(a.message.id, /^mbox:mboxrd\.mbox@390:[0-9a-f]{16}$/);
  const b = bySubject(d, 'second');
  assert.deepEqual(b.message.flags, ['\\Draft']);
  assert.equal(text(b), 'From: bob@example.org\r\nSubject: second\r\n\r\nbody\r\n', 'the separator line before EOF is not part of the message');
});

test('mboxo: a dateless "From " body line is not a boundary, and mboxVariant mboxo keeps ">>From"', async () => {
  const path = join(FIXTURES, 'mbox', 'mboxo.mbox');
  const d = await drain(await openSource(path, { mboxVariant: 'mboxo' }));
  assert.equal(d.messages.length, 2);
  const a = bySubject(d, 'mboxo');
  assert.equal(
    text(a),
    'From: alice@example.org\r\nSubject: mboxo\r\n\r\nparagraph\r\n\r\nFrom the desk of Alice: this line has no date, it is body text\r\nFrom quoted\r\n>>From stays in mboxo mode\r\n',
  );
  const tb = bySubject(d, 'thunderbird style');
  assert.deepEqual(tb.message.flags, ['\\Seen', '\\Answered', '$Forwarded', '$label2']);
  assert.equal(text(tb), 'From: thunderbird@example.org\r\nSubject: thunderbird style\r\n\r\nt\r\n');
});

test('mboxcl2: Content-Length keeps an unquoted From_ line inside the body', async () => {
  const d = await drain(await openSource(join(FIXTURES, 'mbox', 'mboxcl2.mbox')));
  assert.deepEqual(d.errors, []);
  assert.equal(d.messages.length, 2);
  const a = bySubject(d, 'mboxcl2');
  assert.equal(
    text(a),
    'From: carol@example.org\r\nSubject: mboxcl2\r\n\r\nfirst body line\r\n\r\nFrom bob@example.org Mon Jan  1 00:00:00 2001\r\n' +
      'this From_ line is body: Content-Length covers it\r\n>From kept as is in mboxcl2\r\n',
  );
  assert.match(a.normalized.warnings.join(), /mboxcl2/);
  assert.equal(bySubject(d, 'after').message.internalDate?.toISOString(), '2024-02-07T11:00:00.000Z');
});

test('a gzip mbox streams and yields the same bytes as the plain one', async (t) => {
  const gz = await drain(await openSource(join(FIXTURES, 'mbox', 'archive.mbox.gz')));
  assert.deepEqual(gz.errors, []);
  assert.deepEqual(gz.messages.map((m) => [m.message.folder.join('/'), m.message.flags.join(' '), m.message.internalDate?.toISOString()]), [
    ['', '\\Seen', '2024-03-07T07:07:07.000Z'], // a single mbox file given directly is INBOX (issue 12)
    ['', '', '2024-03-08T08:08:08.000Z'],
  ]);
  assert.equal(text(bySubject(gz, 'gzip one')), 'From: erin@example.org\r\nSubject: gzip one\r\n\r\ng1\r\n');
  // Same content uncompressed, with a message spanning many stream chunks: identical output and ids.
  const dir = await tempDir(t);
  const big = 'x'.repeat(300_000);
  const mbox = `From a@x Mon Apr  1 10:00:00 2024\nSubject: big\n\n${big}\n\nFrom a@x Mon Apr  1 10:01:00 2024\nSubject: small\n\ns\n`;
  await writeFile(join(dir, 'plain'), mbox);
  await writeFile(join(dir, 'zipped'), gzipSync(mbox));
  const p = await drain(new MboxSource(join(dir, 'plain'), 'mbox'));
  const z = await drain(new MboxSource(join(dir, 'zipped'), 'mbox'));
  assert.deepEqual(z.messages.map((m) => m.normalized.data), p.messages.map((m) => m.normalized.data));
  assert.deepEqual(z.messages.map((m) => m.message.id.split('@')[1]), p.messages.map((m) => m.message.id.split('@')[1]));
  assert.equal(text(bySubject(p, 'big')), `Subject: big\r\n\r\n${big}\r\n`);
});

test('a directory of mbox files is a folder tree (Thunderbird .sbd, .msf ignored, Inbox is INBOX)', async () => {
  const source = await openSource(join(FIXTURES, 'mbox-tree'));
  assert.equal(source.format, 'mbox-dir');
  const d = await drain(source);
  assert.deepEqual(d.errors, []);
  assert.deepEqual(d.messages.map((m) => m.message.folder.join('/')).sort(), ['', 'Lists/announce', 'Work', 'Work/Projects']);
  assert.equal(new Set(d.messages.map((m) => m.message.id)).size, 4);
});

test('mbox identity is stable across runs and flag changes, and changes with the content', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'box');
  await writeFile(path, 'From a@x Mon Apr  1 10:00:00 2024\nSubject: one\n\n1\n');
  const first = (await drain(new MboxSource(path, 'mbox'))).messages[0]!.message.id;
  const again = (await drain(new MboxSource(path, 'mbox'))).messages[0]!.message.id;
  assert.equal(again, first);
  // Appending a message (and the separator line before it) does not change the first one's identity.
  await writeFile(path, 'From a@x Mon Apr  1 10:00:00 2024\nSubject: one\n\n1\n\nFrom a@x Mon Apr  1 10:00:00 2024\nSubject: two\n\n2\n');
  const after = (await drain(new MboxSource(path, 'mbox'))).messages.map((m) => m.message.id);
  assert.equal(after[0], first);
  // A flag change rewrites bookkeeping headers; the identity ignores them.
  await writeFile(path, 'From a@x Mon Apr  1 10:00:00 2024\nSubject: one\nStatus: RO\nX-Keywords: $Label1  \nX-UID: 7\n\n1\n');
  const flagged = (await drain(new MboxSource(path, 'mbox'))).messages[0]!;
  assert.deepEqual(flagged.message.flags, ['\\Seen', '$Label1']);
  assert.equal(flagged.message.id, first);
  await writeFile(path, 'From a@x Mon Apr  1 10:00:00 2024\nSubject: One\n\n1\n');
  assert.notEqual((await drain(new MboxSource(path, 'mbox'))).messages[0]!.message.id, first);
});

test('an mbox INTERNALDATE comes from the From_ line, not Date:, and the size excludes the From_ line', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'box');
  await writeFile(path, 'From a@x Mon Apr  1 10:00:00 2024\nSubject: one\nDate: Tue, 2 Apr 2024 00:00:00 +0000\n\n1\n');
  const m = (await drain(new MboxSource(path, 'mbox'))).messages[0]!.message;
  assert.equal(m.internalDateSource, 'from-line');
  assert.equal(m.internalDate?.toISOString(), '2024-04-01T10:00:00.000Z');
  assert.equal(m.size, 'Subject: one\nDate: Tue, 2 Apr 2024 00:00:00 +0000\n\n1\n'.length);
});
