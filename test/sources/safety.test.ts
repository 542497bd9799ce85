// Reading safely (issue 12): the tool runs as root over other people's mail, so the source tree is untrusted.
// Symlinks out of the tree are not followed; unreadable folders and files are failures (checked as an
// unprivileged user: tests run as root in CI, and root reads mode 000); FIFOs and device nodes in any position are
// refused without blocking; a file swapped after the scan is refused when opened; an endless mbox line and a gzip
// bomb cost one failed file with bounded memory (measured here), and the rest of the source still comes through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, open, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { SourceError } from '../../src/core/errors.js';
import type { SourceMessage } from '../../src/core/types.js';
import { MaildirSource, openSource } from '../../src/sources/index.js';
import { readRegularFileSync } from '../../src/sources/safe-read.js';
import { drain, tempDir, type Drained } from './source-helpers.js';

const isRoot = process.getuid?.() === 0;
const asRoot = isRoot ? {} : { skip: 'needs root (mknod, and setting a child process uid)' };

const msg = (subject: string): string => `From: a@example.org\nSubject: ${subject}\nDate: Mon, 1 Apr 2024 10:00:00 +0000\n\nbody of ${subject}\n`;
const mboxMsg = (subject: string): string => `From a@example.org Mon Apr  1 10:00:00 2024\n${msg(subject)}\n`;

async function put(path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

function subjects(d: Drained): string[] {
  return d.messages.map((m) => /Subject: (.*)\r\n/.exec(m.normalized.data.toString())![1]!).sort();
}

function buckets(d: Drained, root: string): string[] {
  return [
    ...d.skipped.map((s) => `skipped ${s.reason} ${s.path.slice(root.length + 1)}`),
    ...d.errors.map((e) => `failed ${e.code} ${e.path.slice(root.length + 1)}`),
  ].sort();
}

/** Peak RSS growth while `fn` runs, sampled every few milliseconds. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

test('symlinks out of the source root are skipped (file in cur/, a linked folder, in .eml and mbox trees); followSymlinks reads them', async (t) => {
  const dir = await tempDir(t);
  const outside = join(dir, 'outside');
  await put(join(outside, 'shadow'), msg('secret of another user'));
  await put(join(outside, 'other-account/cur/1700000000.M9P9.host:2,S'), msg('another account'));
  await put(join(outside, 'other-eml/x.eml'), msg('other eml'));
  await put(join(outside, 'other.mbox'), mboxMsg('other mbox'));
  const md = join(dir, 'md');
  await put(join(md, 'cur/1700000001.M1P1.host:2,S'), msg('own'));
  await symlink(join(outside, 'shadow'), join(md, 'cur/1700000002.M2P2.host:2,S'));
  await symlink('1700000001.M1P1.host:2,S', join(md, 'cur/1700000003.M3P3.host:2,S')); // inside: followed
  await symlink(join(outside, 'other-account'), join(md, '.Other'));
  const d = await drain(new MaildirSource(md, 'maildir++'));
  assert.deepEqual(subjects(d), ['own', 'own']);
  assert.deepEqual(buckets(d, md), ['skipped symlink-outside .Other', 'skipped symlink-outside cur/1700000002.M2P2.host:2,S']);
  assert.match(d.skipped[0]!.detail + d.skipped[1]!.detail, /outside the source root; not followed/);
  const followed = await drain(new MaildirSource(md, 'maildir++', { followSymlinks: true }));
  assert.deepEqual(subjects(followed), ['another account', 'own', 'own', 'secret of another user']);
  // The same in a tree of loose mail.
  const tree = join(dir, 'tree');
  await put(join(tree, 'Inbox/a.eml'), msg('tree own'));
  await put(join(tree, 'box'), mboxMsg('tree mbox'));
  await symlink(join(outside, 'other-eml'), join(tree, 'Other'));
  await symlink(join(outside, 'shadow'), join(tree, 'Inbox/leak.eml'));
  await symlink(join(outside, 'other.mbox'), join(tree, 'linked-mbox'));
  const t1 = await drain(await openSource(tree));
  assert.deepEqual(subjects(t1), ['tree mbox', 'tree own']);
  assert.deepEqual(buckets(t1, tree), ['skipped symlink-outside Inbox/leak.eml', 'skipped symlink-outside Other', 'skipped symlink-outside linked-mbox']);
  const t2 = await drain(await openSource(tree, { followSymlinks: true }));
  assert.deepEqual(subjects(t2), ['other eml', 'other mbox', 'secret of another user', 'tree mbox', 'tree own']);
});

test('a folder and a file at mode 000, read as an unprivileged user, are failures that name them; the rest comes through', asRoot, async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const md = join(dir, 'md');
  await put(join(md, 'cur/1700000001.M1P1.host:2,S'), msg('readable'));
  await put(join(md, 'cur/1700000002.M2P2.host:2,S'), msg('locked file'));
  await put(join(md, '.Locked/cur/1700000003.M3P3.host:2,S'), msg('in locked folder'));
  await put(join(md, '.Open/cur/1700000004.M4P4.host:2,S'), msg('open folder'));
  const tree = join(dir, 'tree');
  await put(join(tree, 'Inbox/a.eml'), msg('tree readable'));
  await put(join(tree, 'Inbox/b.eml'), msg('tree locked file'));
  await put(join(tree, 'Locked/c.eml'), msg('tree locked folder'));
  await put(join(tree, 'locked-mbox'), mboxMsg('locked mbox'));
  await put(join(tree, 'open-mbox'), mboxMsg('open mbox'));
  // A home directory whose only mail is behind a locked directory: "no mail found" would be a lie.
  await put(join(dir, 'home/Maildir/cur/1700000009.M9P9.host:2,S'), msg('behind a lock'));
  await put(join(dir, 'home/.profile'), 'umask 022\n');
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  for (const p of ['md/cur/1700000002.M2P2.host:2,S', 'md/.Locked', 'tree/Inbox/b.eml', 'tree/Locked', 'tree/locked-mbox', 'home/Maildir']) await chmod(join(dir, p), 0);
  const index = fileURLToPath(new URL('../../src/sources/index.js', import.meta.url));
  // The child drains both sources as nobody (65534) and prints what ended where.
  const script = `
    import { openSource } from ${JSON.stringify(index)};
    const out = {};
    try { await openSource(${JSON.stringify(dir)} + '/home'); out.home = 'opened'; } catch (e) { out.home = e.code + ' ' + e.message; }
    for (const name of ['md', 'tree']) {
      const root = ${JSON.stringify(dir)} + '/' + name;
      const r = out[name] = { messages: [], failed: [], skipped: [] };
      for await (const item of (await openSource(root)).items()) {
        if (item.kind === 'skipped') r.skipped.push(item.path.slice(root.length + 1));
        else if (item.kind === 'rejected') r.failed.push(item.error.code + ' ' + item.error.path.slice(root.length + 1) + ' ' + item.error.message);
        else {
          try { r.messages.push(item.message.folder.join('/') + ' ' + item.message.origin.slice(root.length + 1)); await item.message.read(); }
          catch (e) { r.messages.pop(); r.failed.push(e.code + ' ' + e.path.slice(root.length + 1) + ' ' + e.message); }
        }
      }
    }
    process.stdout.write(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, timeout: 30_000, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout) as Record<string, { messages: string[]; failed: string[]; skipped: string[] }> & { home: string };
  assert.match(out.home, /^E_SOURCE_UNREADABLE .*could not be read: .*home\/Maildir: cannot list directory: permission denied/);
  assert.deepEqual(out['md']!.messages.sort(), [' cur/1700000001.M1P1.host:2,S', 'Open .Open/cur/1700000004.M4P4.host:2,S']);
  const mdFailed = out['md']!.failed.sort();
  assert.equal(mdFailed.length, 2);
  assert.match(mdFailed[0]!, /^E_SOURCE_UNREADABLE \.Locked .*cannot list directory: permission denied/);
  assert.match(mdFailed[1]!, /^E_SOURCE_UNREADABLE cur\/1700000002\.M2P2\.host:2,S .*permission denied/);
  assert.deepEqual(out['tree']!.messages.sort(), [' Inbox/a.eml', 'open-mbox open-mbox@0']);
  const treeFailed = out['tree']!.failed.sort();
  assert.equal(treeFailed.length, 3);
  assert.match(treeFailed[0]!, /^E_SOURCE_UNREADABLE Inbox\/b\.eml .*permission denied/);
  assert.match(treeFailed[1]!, /^E_SOURCE_UNREADABLE Locked .*cannot list directory: permission denied/);
  assert.match(treeFailed[2]!, /^E_SOURCE_UNREADABLE locked-mbox .*permission denied/);
});

test('FIFOs and device nodes as a message, a keywords file and a folder are refused at once; keywords-less mail still comes', { ...asRoot, timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const md = join(dir, 'md');
  await put(join(md, 'cur/1700000001.M1P1.host:2,Sa'), msg('good'));
  execFileSync('mkfifo', [join(md, 'cur/1700000002.M2P2.host:2,S')]);
  execFileSync('mknod', [join(md, 'cur/1700000003.M3P3.host:2,S'), 'c', '1', '5']); // like /dev/zero
  execFileSync('mkfifo', [join(md, 'dovecot-keywords')]); // used to hang the import
  execFileSync('mkfifo', [join(md, '.Pipe')]); // where a Maildir++ folder would be
  await put(join(md, '.Courier/cur/1700000004.M4P4.host:2,S'), msg('courier folder'));
  await mkdir(join(md, '.Courier/courierimapkeywords'));
  execFileSync('mkfifo', [join(md, '.Courier/courierimapkeywords/:list')]);
  await put(join(md, '.NoNew/cur/1700000005.M5P5.host:2,S'), msg('beside a fifo new'));
  execFileSync('mkfifo', [join(md, '.NoNew/new')]);
  const d = await drain(new MaildirSource(md, 'maildir++'));
  assert.deepEqual(subjects(d), ['beside a fifo new', 'courier folder', 'good']);
  assert.deepEqual(d.messages.find((m) => m.message.origin.endsWith('Sa'))!.message.flags, ['\\Seen'], 'keyword letter a has no name: the keywords file was refused');
  assert.deepEqual(buckets(d, md), [
    'failed E_SOURCE_NOT_REGULAR .Courier/courierimapkeywords/:list',
    'failed E_SOURCE_NOT_REGULAR .NoNew/new',
    'failed E_SOURCE_NOT_REGULAR .Pipe',
    'failed E_SOURCE_NOT_REGULAR cur/1700000002.M2P2.host:2,S',
    'failed E_SOURCE_NOT_REGULAR cur/1700000003.M3P3.host:2,S',
    'failed E_SOURCE_NOT_REGULAR dovecot-keywords',
    'skipped not-mail .Courier/courierimapkeywords',
  ]);
  assert.match(d.errors.map((e) => e.message).join('\n'), /is a FIFO \(named pipe\), not a regular file/);
  assert.match(d.errors.map((e) => e.message).join('\n'), /is a character device, not a regular file/);
  // Loose mail: a FIFO named like an mbox, like an .eml and like a Thunderbird .sbd folder; a device as an mbox.
  const tree = join(dir, 'tree');
  await put(join(tree, 'Inbox'), mboxMsg('tree good'));
  await put(join(tree, 'Inbox.msf'), '// mork\n');
  execFileSync('mkfifo', [join(tree, 'Sent')]);
  execFileSync('mknod', [join(tree, 'Trash'), 'c', '1', '3']);
  execFileSync('mkfifo', [join(tree, 'Archives.sbd')]);
  await put(join(tree, 'Saved/a.eml'), msg('tree eml'));
  execFileSync('mkfifo', [join(tree, 'Saved/b.eml')]);
  const e = await drain(await openSource(tree));
  assert.deepEqual(subjects(e), ['tree eml', 'tree good']);
  assert.deepEqual(buckets(e, tree), [
    'failed E_SOURCE_NOT_REGULAR Archives.sbd',
    'failed E_SOURCE_NOT_REGULAR Saved/b.eml',
    'failed E_SOURCE_NOT_REGULAR Sent',
    'failed E_SOURCE_NOT_REGULAR Trash',
    'skipped not-mail Inbox.msf',
  ]);
});

test('a file swapped after the scan (symlink to /dev/zero, FIFO, device, grown past the cap) is refused when read', { ...asRoot, timeout: 30_000 }, async (t) => {
  const md = await tempDir(t);
  const names = ['1700000001.M1P1.host:2,S', '1700000002.M2P2.host:2,S', '1700000003.M3P3.host:2,S', '1700000004.M4P4.host:2,S', '1700000005.M5P5.host:2,S'];
  for (const n of names) await put(join(md, 'cur', n), msg(n));
  await put(join(md, 'box.mbox'), mboxMsg('mbox one'));
  const scanned: SourceMessage[] = [];
  for await (const item of new MaildirSource(md, 'maildir', { maxMessageBytes: 4096 }).items()) if (item.kind === 'message') scanned.push(item.message);
  const mbox: SourceMessage[] = [];
  for await (const item of (await openSource(join(md, 'box.mbox'))).items()) if (item.kind === 'message') mbox.push(item.message);
  assert.equal(scanned.length, 5);
  const at = (i: number): string => join(md, 'cur', names[i]!);
  await unlink(at(0));
  await symlink('/dev/zero', at(0));
  await unlink(at(1));
  execFileSync('mkfifo', [at(1)]);
  await unlink(at(2));
  execFileSync('mknod', [at(2), 'c', '1', '5']);
  await writeFile(at(3), msg('grown') + 'x'.repeat(10_000));
  await rm(join(md, 'box.mbox'));
  execFileSync('mkfifo', [join(md, 'box.mbox')]);
  const results = await Promise.all([...scanned, ...mbox].map((m) => m.read().then(() => 'read', (e: SourceError) => `${e.code} ${e.message.replace(/^.*: /, '')}`)));
  const byOrigin = new Map([...scanned, ...mbox].map((m, i) => [m.origin.slice(md.length + 1), results[i]]));
  assert.match(byOrigin.get(`cur/${names[0]}`)!, /^E_SOURCE_NOT_REGULAR .*symlink now/);
  assert.match(byOrigin.get(`cur/${names[1]}`)!, /^E_SOURCE_NOT_REGULAR /);
  assert.match(byOrigin.get(`cur/${names[2]}`)!, /^E_SOURCE_NOT_REGULAR /);
  assert.match(byOrigin.get(`cur/${names[3]}`)!, /^E_SOURCE_TOO_LARGE /);
  assert.equal(byOrigin.get(`cur/${names[4]}`), 'read');
  assert.match(byOrigin.get('box.mbox@0')!, /^E_SOURCE_NOT_REGULAR /);
});

test('the size cap holds while reading, not only at fstat: a file whose size says 0 is stopped at the cap', () => {
  // /proc files are regular files whose st_size is 0 whatever they hold: the fstat check alone would pass them.
  assert.throws(() => readRegularFileSync('/proc/self/maps', 64), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_TOO_LARGE' && /more than 64/.test(e.message));
  assert.ok(readRegularFileSync('/proc/self/maps', 16 * 1024 * 1024).length > 64);
});

test('an mbox line with no end (a sparse file) fails that file with bounded memory; the next mbox still comes through', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  await put(join(dir, 'a-sparse'), mboxMsg('before the hole').replace(/\n$/, '') + 'start of an endless line: ');
  const fh = await open(join(dir, 'a-sparse'), 'r+');
  await fh.truncate(512 * 1024 * 1024); // 512 MiB of zeros without a newline, costing no disk
  await fh.close();
  await put(join(dir, 'b-good'), mboxMsg('after'));
  const { result: d, growth } = await peakRss(async () => drain(await openSource(dir)));
  assert.deepEqual(subjects(d), ['after']);
  // The error points at the start of the endless line (after the From_ line and the header block).
  const lineStart = mboxMsg('before the hole').length - 1;
  assert.deepEqual(d.errors.map((e) => `${e.code} ${e.path.slice(dir.length + 1)}`), [`E_SOURCE_LINE_TOO_LONG a-sparse@${lineStart}`]);
  assert.match(d.errors[0]!.message, /line longer than 1048576 bytes/);
  t.diagnostic(`peak RSS growth reading a 512 MiB line: ${(growth / 1048576).toFixed(1)} MiB`);
  assert.ok(growth < 96 * 1024 * 1024, `RSS grew ${growth} bytes`);
});

/** Writes a gzip file of `head` followed by `total` bytes made of `unit` repeated, without holding it in memory. */
async function gzipBomb(path: string, head: string, unit: Buffer, total: number): Promise<void> {
  const gz = createGzip({ level: 1 });
  const out = createWriteStream(path);
  gz.pipe(out);
  gz.write(head);
  const chunk = Buffer.concat(Array.from({ length: Math.ceil((1 << 20) / unit.length) }, () => unit)).subarray(0, 1 << 20);
  for (let n = 0; n < total; n += chunk.length) {
    if (!gz.write(chunk)) await new Promise<void>((r) => gz.once('drain', () => r()));
  }
  gz.end();
  await new Promise<void>((r) => out.once('close', () => r()));
}

test('gzip bombs (one endless line; one endless message of short lines) cost one failed file with bounded memory', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const head = 'From a@example.org Mon Apr  1 10:00:00 2024\nSubject: bomb\n\n';
  await gzipBomb(join(dir, 'a-line.mbox.gz'), head, Buffer.alloc(1), 256 * 1024 * 1024);
  await gzipBomb(join(dir, 'b-lines.mbox.gz'), head, Buffer.from('x'.repeat(71) + '\n'), 256 * 1024 * 1024);
  await put(join(dir, 'c-good'), mboxMsg('after the bombs'));
  const { result: d, growth } = await peakRss(async () => drain(await openSource(dir, { maxMessageBytes: 1024 * 1024 })));
  assert.deepEqual(subjects(d), ['after the bombs']);
  assert.deepEqual(d.errors.map((e) => `${e.code} ${e.path.slice(dir.length + 1)}`).sort(), [`E_SOURCE_LINE_TOO_LONG a-line.mbox.gz@${head.length}`, 'E_SOURCE_TOO_LARGE b-lines.mbox.gz@0']);
  assert.match(d.errors.find((e) => e.path.includes('b-lines'))!.message, /decompresses to more than 4194304 bytes for one message/);
  t.diagnostic(`peak RSS growth over two 256 MiB gzip bombs: ${(growth / 1048576).toFixed(1)} MiB`);
  assert.ok(growth < 96 * 1024 * 1024, `RSS grew ${growth} bytes`);
});

test('a message file that is renamed away between scan and read is a failure naming it, not a crash', async (t) => {
  const md = await tempDir(t);
  await put(join(md, 'cur/1700000001.M1P1.host:2,S'), msg('moving'));
  const items = [];
  for await (const item of new MaildirSource(md, 'maildir').items()) items.push(item);
  await rename(join(md, 'cur/1700000001.M1P1.host:2,S'), join(md, 'cur/1700000001.M1P1.host:2,RS'));
  const m = items.find((i) => i.kind === 'message');
  assert.ok(m && m.kind === 'message');
  await assert.rejects(m.message.read(), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNREADABLE' && /does not exist/.test(e.message));
});
