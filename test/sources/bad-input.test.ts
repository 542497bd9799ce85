import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from '../../src/core/errors.js';
import { EmlTreeSource, MaildirSource, MboxSource, openSource } from '../../src/sources/index.js';
import { copyFixture, drain, tempDir, text, type Drained } from './source-helpers.js';

/** Every error names an existing part of the source and says why; returns "code file" pairs to compare. */
function summary(d: Drained, root: string): string[] {
  for (const e of d.errors) {
    assert.ok(e instanceof SourceError);
    assert.ok(e.message.startsWith(`${e.path}: `), `message starts with the path: ${e.message}`);
    assert.ok(e.path.startsWith(root), `path ${e.path} is inside ${root}`);
    assert.ok(e.message.length > e.path.length + 10, 'a reason follows the path');
  }
  return d.errors.map((e) => `${e.code} ${e.path.slice(root.length + 1)}`).sort();
}

test('bad Maildir inputs: a zero-byte file is skipped, invalid names are repaired, not-messages and colliding folders fail; good mail still comes through', async (t) => {
  const root = await copyFixture(t, 'bad/maildir');
  const source = await openSource(root);
  const d = await drain(source);
  assert.deepEqual(summary(d, root), [
    'E_SOURCE_FOLDER_COLLISION .a',
    'E_SOURCE_NOT_MESSAGE cur/1700000002.M1P1.host:2,S',
    'E_SOURCE_NOT_MESSAGE cur/1700000003.M1P1.host:2,S',
  ]);
  assert.match(d.errors.find((e) => e.path.endsWith('.a'))!.message, /\.&AGE-/);
  // A zero-byte file made every run exit 2 forever: it is not mail, so it is skipped (and reported).
  assert.deepEqual(d.skipped.filter((s) => s.path.includes('1700000001')).map((s) => [s.reason, s.detail]), [['not-mail', 'empty file (0 bytes)']]);
  // Folder names that are not valid modified UTF-7 are repaired deterministically, never skipped (issue 12).
  assert.deepEqual(d.messages.map((m) => m.message.folder.join('/')).sort(), ['', 'Bad&Jjo', 'Empty/_/Part', 'Good', 'a']);
  assert.equal(source.notes.filter((n) => /folder name repaired/.test(n)).length, 2);
  assert.match(source.notes.join('\n'), /"\.Bad&Jjo" is not a valid Maildir\+\+ name \(.*unterminated.*\); used "Bad&Jjo"/);
  // read() failures are the importer's to count; the scan counts what it yielded, rejected and skipped.
  assert.equal(source.stats.yielded, 7);
  assert.equal(source.stats.rejected, 1);
  assert.equal(source.stats.skipped, d.skipped.length);
});

test('bad mbox inputs: not an mbox, malformed From_, truncated (mid-line, Content-Length, gzip), name collision', async (t) => {
  const root = await copyFixture(t, 'bad/mbox');
  const source = await openSource(root);
  assert.equal(source.format, 'mbox-dir');
  const d = await drain(source);
  assert.deepEqual(summary(d, root), [
    'E_SOURCE_FOLDER_COLLISION Work.mbox',
    'E_SOURCE_MBOX_FROM_LINE malformed-from.mbox@0',
    'E_SOURCE_MBOX_TRUNCATED truncated-cl.mbox@107',
    'E_SOURCE_MBOX_TRUNCATED truncated-gz.mbox.gz@1624',
    'E_SOURCE_MBOX_TRUNCATED truncated.mbox@89',
  ]);
  const reason = (p: string): string => d.errors.find((e) => e.path.endsWith(p))!.message;
  // A text file without a From_ line or a header block beside mbox files is not mail: skipped, with its reason.
  assert.deepEqual(d.skipped.filter((s) => s.path.endsWith('not-mbox')).map((s) => s.reason), ['not-mail']);
  assert.match(reason('malformed-from.mbox@0'), /malformed From_ line/);
  assert.match(reason('truncated.mbox@89'), /middle of a line/);
  assert.match(reason('truncated-cl.mbox@107'), /Content-Length says 5000/);
  assert.match(reason('truncated-gz.mbox.gz@1624'), /compressed stream/);
  assert.deepEqual(d.messages.map((m) => m.message.folder.join('/')).sort(), ['Work', 'good', 'malformed-from', 'truncated', 'truncated-cl', 'truncated-gz']);
  assert.match(text(d.messages.find((m) => m.message.folder[0] === 'malformed-from')!), /after the malformed one/);
});

test('bad .eml inputs: empty, white space only, no header block, names equal after Unicode normalization', async (t) => {
  const root = await copyFixture(t, 'bad/eml');
  const d = await drain(await openSource(root));
  const s = summary(d, root);
  assert.deepEqual(s, ['E_SOURCE_NOT_MESSAGE not-a-message.eml', 'E_SOURCE_NOT_MESSAGE whitespace.eml']);
  assert.deepEqual(d.skipped.map((x) => [x.path.slice(root.length + 1), x.reason]), [['empty.eml', 'not-mail']]);
  // Two directories whose names are equal after Unicode normalization are one folder: .eml ids are their
  // relative paths, so merging loses nothing (it used to refuse the second directory).
  assert.equal(d.messages.length, 3);
  assert.equal(new Set(d.messages.filter((m) => m.message.folder.length).map((m) => m.message.folder.join('/'))).size, 1);
});

test('symlink loops and second links to a folder are skipped as duplicates (read once), a self-link fails, and the walk goes on', async (t) => {
  const dir = await tempDir(t);
  // Maildir: a folder that links back to the root, and a message file that links to itself.
  const md = join(dir, 'md');
  await mkdir(join(md, 'cur'), { recursive: true });
  await mkdir(join(md, 'Sub', 'cur'), { recursive: true });
  await writeFile(join(md, 'cur', '1.a.b:2,S'), 'Subject: ok\n\nx\n');
  await writeFile(join(md, 'Sub', 'cur', '2.a.b:2,S'), 'Subject: sub\n\nx\n');
  await symlink('..', join(md, 'Sub', 'Up'));
  await symlink('3.self:2,S', join(md, 'cur', '3.self:2,S'));
  // A second name for the root folder, as people keep for old configurations (~/Mail -> Maildir).
  await symlink('.', join(md, 'Alias'));
  const d = await drain(new MaildirSource(md, 'maildir'));
  assert.deepEqual(summary(d, md), ['E_SOURCE_LOOP cur/3.self:2,S']);
  assert.deepEqual(d.skipped.map((s) => `${s.reason} ${s.path.slice(md.length + 1)}`).sort(), ['duplicate Alias', 'duplicate Sub/Up']);
  assert.match(d.skipped[0]!.detail, /the same directory as .*read once there/);
  assert.deepEqual(d.messages.map((m) => m.message.folder.join('/')).sort(), ['', 'Sub']);
  // .eml tree and mbox directory: a directory linking to an ancestor.
  const eml = join(dir, 'eml');
  await mkdir(join(eml, 'A'), { recursive: true });
  await writeFile(join(eml, 'A', 'x.eml'), 'Subject: x\n\nx\n');
  await symlink('..', join(eml, 'A', 'Loop'));
  const e = await drain(new EmlTreeSource(eml));
  assert.deepEqual(summary(e, eml), []);
  assert.deepEqual(e.skipped.map((s) => `${s.reason} ${s.path.slice(eml.length + 1)}`), ['duplicate A/Loop']);
  assert.equal(e.messages.length, 1);
  const mb = join(dir, 'mb');
  await mkdir(join(mb, 'Dir'), { recursive: true });
  await writeFile(join(mb, 'Dir', 'box'), 'From a@x Mon Apr  1 10:00:00 2024\nSubject: m\n\nm\n');
  await symlink('..', join(mb, 'Dir', 'Again'));
  const m = await drain(new MboxSource(mb, 'mbox-dir'));
  assert.deepEqual(summary(m, mb), []);
  assert.deepEqual(m.skipped.map((s) => `${s.reason} ${s.path.slice(mb.length + 1)}`), ['duplicate Dir/Again']);
  assert.equal(m.messages.length, 1);
});

test('unreadable entries: a dangling symlink and a FIFO are rejected, never opened', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'cur'));
  await writeFile(join(dir, 'cur', '1.a.b:2,S'), 'Subject: ok\n\nx\n');
  await symlink('/nonexistent/target', join(dir, 'cur', '2.dangling:2,S'));
  execFileSync('mkfifo', [join(dir, 'cur', '3.fifo:2,S')]);
  const d = await drain(new MaildirSource(dir, 'maildir'));
  assert.deepEqual(summary(d, dir), ['E_SOURCE_NOT_REGULAR cur/3.fifo:2,S', 'E_SOURCE_UNREADABLE cur/2.dangling:2,S']);
  assert.match(d.errors[0]!.message + d.errors[1]!.message, /does not exist/);
  assert.match(d.errors[0]!.message + d.errors[1]!.message, /is a FIFO \(named pipe\), not a regular file/);
  assert.equal(d.messages.length, 1);
});

test('a 50 MB message is read whole and normalized; one above maxMessageBytes is refused in every format', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'cur'));
  const line = 'y'.repeat(75) + '\n';
  const body = line.repeat(Math.ceil((50 * 1024 * 1024) / line.length));
  await writeFile(join(dir, 'cur', '1.big:2,S'), `Subject: big\n\n${body}`);
  const d = await drain(new MaildirSource(dir, 'maildir'));
  assert.equal(d.errors.length, 0);
  const big = d.messages[0]!;
  assert.ok(big.message.size > 50 * 1024 * 1024);
  const lines = body.length / line.length + 2;
  assert.equal(big.normalized.data.length, big.message.size + lines);
  assert.equal(big.normalized.data.subarray(-4).toString(), 'y\r\n'.padStart(4, 'y'));
  // The same file with a 10 MB cap, and the cap in .eml and mbox (plain and gzip) too.
  const small = { maxMessageBytes: 10 * 1024 * 1024 };
  const capped = await drain(new MaildirSource(dir, 'maildir', small));
  assert.deepEqual(summary(capped, dir), ['E_SOURCE_TOO_LARGE cur/1.big:2,S']);
  assert.match(capped.errors[0]!.message, /exceeds maxMessageBytes \(10485760\)/);
  const eml = join(dir, 'e');
  await mkdir(eml);
  await writeFile(join(eml, 'big.eml'), `Subject: big\n\n${'z'.repeat(2048)}\n`);
  await writeFile(join(eml, 'ok.eml'), 'Subject: ok\n\nx\n');
  assert.deepEqual(summary(await drain(new EmlTreeSource(eml, { maxMessageBytes: 1024 })), eml), ['E_SOURCE_TOO_LARGE big.eml']);
  const mbox = `From a@x Mon Apr  1 10:00:00 2024\nSubject: big\n\n${'z'.repeat(2048)}\n\nFrom a@x Mon Apr  1 10:00:00 2024\nSubject: ok\n\nx\n`;
  await writeFile(join(dir, 'box'), mbox);
  const { gzipSync } = await import('node:zlib');
  await writeFile(join(dir, 'box.gz'), gzipSync(mbox));
  for (const name of ['box', 'box.gz']) {
    const r = await drain(new MboxSource(join(dir, name), 'mbox', { maxMessageBytes: 1024 }));
    assert.deepEqual(summary(r, dir), [`E_SOURCE_TOO_LARGE ${name}@0`], name);
    assert.equal(r.messages.length, 1, name);
  }
});

test('directory names that are not valid UTF-8 are rejected as undecodable folder names', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'cur'));
  await writeFile(join(dir, 'cur', '1.a.b:2,S'), 'Subject: ok\n\nx\n');
  const bad = Buffer.concat([Buffer.from(join(dir, 'Caf')), Buffer.from([0xe9])]); // latin1 é
  await mkdir(bad);
  await mkdir(Buffer.concat([bad, Buffer.from('/cur')]));
  await writeFile(Buffer.concat([bad, Buffer.from('/cur/2.a.b:2,S')]), 'Subject: lost\n\nx\n');
  const d = await drain(new MaildirSource(dir, 'maildir'));
  assert.equal(d.errors.length, 1);
  assert.equal(d.errors[0]!.code, 'E_SOURCE_FOLDER_NAME');
  assert.match(d.errors[0]!.message, /not valid UTF-8/);
  assert.equal(d.messages.length, 1);
});
