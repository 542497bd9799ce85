// The lean read path (issue 14): bare-LF detection, the one-pass header scan, and the Maildir walk that takes sizes
// from ",S=" names and dates from the fstat of the file read. Each fast path is checked against the slow one it
// replaces, edge cases included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rename, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from '../../src/core/errors.js';
import { headerBlockEnd, headerValue, parseHeaderFields, scanHeaderBlock } from '../../src/sources/headers.js';
import { lfToCrlf, normalizeMessage } from '../../src/sources/normalize.js';
import { openSource, sizeInName } from '../../src/sources/index.js';
import type { SourceItem } from '../../src/sources/index.js';
import { tempDir } from './source-helpers.js';

/** Every LF not preceded by CR, the slow way (one byte at a time). */
function bareLfSlow(b: Buffer): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a && (i === 0 || b[i - 1] !== 0x0d)) n++;
  return n;
}

test('bare-LF detection agrees with a byte-by-byte scan on CR/LF soup of every small length', () => {
  const alphabet = [0x0d, 0x0a, 0x41];
  for (let len = 0; len <= 7; len++) {
    for (let k = 0; k < 3 ** len; k++) {
      const b = Buffer.alloc(len);
      for (let i = 0, x = k; i < len; i++, x = Math.floor(x / 3)) b[i] = alphabet[x % 3]!;
      const { data, converted } = lfToCrlf(b);
      assert.equal(converted, bareLfSlow(b), JSON.stringify(b.toString('latin1')));
      assert.equal(bareLfSlow(data), 0);
      assert.equal(data.length, b.length + converted);
      if (converted === 0) assert.equal(data, b, 'no bare LF: the very same buffer, no copy');
    }
  }
});

test('a message of exactly 0, 1 and 65536 bytes: refused, refused, and passed through without a copy', () => {
  assert.throws(() => normalizeMessage(Buffer.alloc(0), 'zero'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_EMPTY');
  assert.throws(() => normalizeMessage(Buffer.from('A'), 'one'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_MESSAGE');
  assert.equal(lfToCrlf(Buffer.from('\n')).data.toString(), '\r\n');
  assert.equal(lfToCrlf(Buffer.from('\r')).converted, 0, 'a lone CR is left alone');
  const head = 'Message-ID: <big@x>\r\nSubject: 64 KiB\r\n\r\n';
  const line = 'y'.repeat(62) + '\r\n';
  let body = '';
  while (head.length + body.length + line.length <= 65536) body += line;
  const exact = Buffer.from(head + body + 'z'.repeat(65536 - head.length - body.length), 'latin1');
  assert.equal(exact.length, 65536);
  const n = normalizeMessage(exact, 'exact');
  assert.equal(n.data, exact);
  assert.equal(n.messageId, '<big@x>');
  assert.deepEqual(n.warnings, []);
});

test('a CR just before a view of a larger buffer does not pair with the LF at the start of the view', () => {
  // Readers hand over subarrays (an mbox message inside a chunk): the view is the message, its first LF is bare.
  const whole = Buffer.from('X: y\r\nA: b\n\nbody\n');
  const view = whole.subarray(5); // starts with the LF of "\r\n"
  assert.equal(view[0], 0x0a);
  assert.equal(lfToCrlf(view).converted, 4);
  assert.equal(lfToCrlf(view).data.toString(), '\r\nA: b\r\n\r\nbody\r\n');
});

test('CRLF split across the 64 KiB chunks of an unknown-size read stays one CRLF', () => {
  // safe-read.ts reads a file of unknown size in 64 KiB chunks and joins them; the join must not look bare.
  const a = Buffer.from('A: b\r\n\r\n' + 'x'.repeat(65536 - 9) + '\r', 'latin1');
  const b = Buffer.from('\nend\r\n');
  assert.equal(a.length, 65536);
  const n = normalizeMessage(Buffer.concat([a, b]), 'chunks');
  assert.deepEqual(n.warnings, []);
  assert.equal(n.data.length, a.length + b.length);
});

/** Header blocks built from awkward pieces: folding, case, spaces before the colon, duplicate fields, no colon. */
const LINES = [
  'Message-ID: <a@x>',
  'message-id:<b@x>',
  'MESSAGE-ID :  <c@x>  ',
  'Message-ID:',
  ' <folded@x>',
  '\t(comment) <tab@x>',
  'Message-IDX: <not@x>',
  'X-Message-ID: <not@x>',
  'Subject: hi',
  'no colon here',
  'Date: Tue, 1 Jul 2003 10:52:37 +0200',
  ' continued',
  'Message-Id:\t<d@x>',
  '',
];

test('the one-pass header scan finds the same Message-ID and block end as the full parse, on 4000 generated blocks', () => {
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (let k = 0; k < 4000; k++) {
    const eol = ['\n', '\r\n'][rnd(2)]!;
    const lines = ['From: a@x'];
    for (let i = rnd(8); i > 0; i--) lines.push(LINES[rnd(LINES.length)]!);
    let text = lines.join(eol) + eol;
    if (rnd(3) > 0) text += eol + 'Message-ID: <body@x>' + eol;
    if (rnd(4) === 0) text = text.slice(0, -eol.length); // no final line end
    const buf = Buffer.from(text, 'latin1');
    const end = headerBlockEnd(buf);
    const fields = parseHeaderFields(end < 0 ? buf : buf.subarray(0, end));
    const scan = scanHeaderBlock(buf, 'message-id');
    assert.deepEqual(scan, { end, value: headerValue(fields, 'message-id') }, JSON.stringify(text));
  }
});

test('the Date header is parsed only when asked, with the same result as before', () => {
  const n = normalizeMessage(Buffer.from('Message-ID: <m@x>\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200 (CEST)\r\n\r\nb\r\n'), 'm');
  assert.equal(n.date?.toISOString(), '2003-07-01T08:52:37.000Z');
  assert.equal(n.date, n.date, 'parsed once');
  assert.equal(normalizeMessage(Buffer.from('A: b\r\n\r\n'), 'm').date, undefined);
});

test('Maildir++ sizes are read from ",S=" in the unique part only', () => {
  assert.equal(sizeInName('1700000000.M1P1.host,S=4096:2,S'), 4096);
  assert.equal(sizeInName('1700000000.M1P1.host,S=4096,W=4180:2,S'), 4096);
  assert.equal(sizeInName('1700000000.M1P1.host,W=4180,S=12!2,S'), 12);
  assert.equal(sizeInName('1700000000.M1P1.host:2,S=5'), undefined, 'after ":2," it is the info, not the size');
  assert.equal(sizeInName('1700000000.M1P1.host,S=:2,'), undefined);
  assert.equal(sizeInName('1700000000.M1P1.host,S=12x:2,'), undefined);
  assert.equal(sizeInName('1700000000.M1P1.host'), undefined);
});

async function items(root: string): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const i of (await openSource(root)).items()) out.push(i);
  return out;
}

test('a ",S=" message is located without a stat: size from the name, INTERNALDATE from the file read', async (t) => {
  const root = await tempDir(t);
  for (const d of ['cur', 'new', 'tmp']) await mkdir(join(root, d));
  const body = 'Message-ID: <s@x>\r\nSubject: sized\r\n\r\nhello\r\n';
  const name = `1700000000.M1P1.host,S=${body.length}:2,S`;
  await writeFile(join(root, 'cur', name), body);
  const when = new Date('2021-02-03T04:05:06Z');
  await utimes(join(root, 'cur', name), when, when);
  const [item] = await items(root);
  assert.ok(item?.kind === 'message');
  const m = item.message;
  assert.equal(m.size, body.length);
  assert.equal(m.internalDate, undefined, 'not known before the read: the walk did not stat the file');
  const n = await m.read();
  assert.equal(n.data.toString(), body);
  assert.equal((m.internalDate as Date | undefined)?.toISOString(), '2021-02-03T04:05:06.000Z');
  assert.equal(m.internalDateSource, 'mtime');
});

test('a ",S=" name that lies about the size still reads the whole file; S=0 is skipped as empty', async (t) => {
  const root = await tempDir(t);
  for (const d of ['cur', 'new', 'tmp']) await mkdir(join(root, d));
  const body = 'Message-ID: <l@x>\r\n\r\n' + 'x'.repeat(500) + '\r\n';
  await writeFile(join(root, 'cur', '1700000001.M1P1.host,S=10:2,'), body);
  await writeFile(join(root, 'cur', '1700000002.M2P1.host,S=0:2,'), '');
  const got = await items(root);
  const msg = got.find((i) => i.kind === 'message');
  assert.ok(msg?.kind === 'message');
  assert.equal((await msg.message.read()).data.toString(), body);
  assert.ok(got.some((i) => i.kind === 'skipped' && /empty file/.test(i.detail)));
  // The file-name time is the fallback when the mtime is unknown, decided at read time as well.
  await utimes(join(root, 'cur', '1700000001.M1P1.host,S=10:2,'), new Date(0), new Date(0));
  const again = (await items(root)).find((i) => i.kind === 'message');
  assert.ok(again?.kind === 'message');
  await again.message.read();
  assert.equal(again.message.internalDateSource, 'filename');
  assert.equal(again.message.internalDate?.toISOString(), '2023-11-14T22:13:21.000Z');
});

test('a ",S=" name on a symlink, a FIFO, or a file swapped for a symlink after the scan is never read through', async (t) => {
  const root = await tempDir(t);
  const outside = await tempDir(t);
  for (const d of ['cur', 'new', 'tmp']) await mkdir(join(root, d));
  await writeFile(join(outside, 'secret'), 'Subject: secret\r\n\r\nshadow\r\n');
  await symlink(join(outside, 'secret'), join(root, 'cur', '1700000003.M3P1.host,S=30:2,S'));
  execFileSync('mkfifo', [join(root, 'cur', '1700000004.M4P1.host,S=30:2,S')]);
  const swapped = join(root, 'cur', '1700000005.M5P1.host,S=30:2,S');
  await writeFile(swapped, 'Subject: ok\r\n\r\nfine\r\n');
  const got = await items(root);
  assert.ok(got.some((i) => i.kind === 'skipped' && i.reason === 'symlink-outside'), 'the link goes through the tree guard');
  assert.ok(got.some((i) => i.kind === 'rejected' && i.error.code === 'E_SOURCE_NOT_REGULAR'), 'the FIFO is refused');
  const m = got.find((i) => i.kind === 'message' && i.message.origin === swapped);
  assert.ok(m?.kind === 'message');
  await unlink(swapped);
  await symlink(join(outside, 'secret'), swapped + '.tmp');
  await rename(swapped + '.tmp', swapped);
  await assert.rejects(m.message.read(), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_REGULAR');
});

test('the "time from the name" note counts ",S=" messages too, once they are read (their date is decided then)', async (t) => {
  const root = await tempDir(t);
  for (const d of ['cur', 'new', 'tmp']) await mkdir(join(root, d));
  const path = join(root, 'cur', '1700000000.M1P1.host,S=22:2,S');
  await writeFile(path, 'Subject: copied\r\n\r\nx\r\n');
  const later = new Date('2024-06-01T00:00:00Z'); // months after the delivery time in the name: a copy without times
  await utimes(path, later, later);
  const source = await openSource(root);
  const got: SourceItem[] = [];
  for await (const i of source.items()) got.push(i);
  const m = got.find((i) => i.kind === 'message');
  assert.ok(m?.kind === 'message');
  await m.message.read();
  assert.equal(m.message.internalDateSource, 'filename');
  assert.ok(source.notes.some((n) => /^1 message\(s\) in 1 folder\(s\) have a file time more than a day newer/.test(n)), JSON.stringify(source.notes));
});
