// Several walks of one source at once (Source.sharedItems, WalkShare: the importer's folder lanes). Whatever the
// number of walks and however their steps interleave, together they must yield exactly what one items() walk yields,
// each item once; a folder's messages come from one walk, in the source's order; nobody's items (skipped paths,
// failures outside a claimed folder) come from the strays walk only; stats and notes add up to one walk's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { openSource, type Source, type SourceItem, type WalkShare } from '../../src/sources/index.js';
import { appleMailExport, courierMaildir, mboxMsg, msg, outlookExport, thunderbirdProfile, writeTree } from '../helpers/real-trees.js';
import { tempDir } from './source-helpers.js';

/** One line per item: what a walk yields, comparable across walks. */
function line(item: SourceItem): string {
  if (item.kind === 'message') return `message ${item.message.folder.join('/') || 'INBOX'} ${item.message.id}`;
  if (item.kind === 'rejected') return `rejected ${item.error.code} ${item.error.path}`;
  return `skipped ${item.reason} ${item.path}`;
}

async function oneWalk(source: Source): Promise<{ lines: string[]; stats: string; notes: string[] }> {
  const lines: string[] = [];
  for await (const item of source.items()) lines.push(line(item));
  return { lines, stats: JSON.stringify(source.stats), notes: [...new Set(source.notes)].sort() };
}

interface Shared {
  lines: string[];
  /** Lines per walk, in the order each walk yielded them. */
  perWalk: string[][];
  /** Folder → the walks that yielded a message of it. */
  folderWalks: Map<string, Set<number>>;
  stats: string;
  notes: string[];
}

/** `n` walks, claims first come first served (as FolderLanes), stepped in turn one item at a time: the most interleaving. */
async function sharedWalks(source: Source, n: number): Promise<Shared> {
  const owner = new Map<string, number>();
  const share = (lane: number): WalkShare => ({
    strays: lane === 0,
    claim: (folder) => {
      const key = folder.join('\u0000');
      const o = owner.get(key);
      if (o !== undefined) return o === lane;
      owner.set(key, lane);
      return true;
    },
  });
  // Started in order, lane 0 first (WalkShare: the strays walk resets the source's counts).
  const its = Array.from({ length: n }, (_, i) => source.sharedItems!(share(i))[Symbol.asyncIterator]());
  const perWalk: string[][] = its.map(() => []);
  const folderWalks = new Map<string, Set<number>>();
  const live = new Set(its.keys());
  while (live.size > 0) {
    for (const i of [...live]) {
      const r = await its[i]!.next();
      if (r.done) {
        live.delete(i);
        continue;
      }
      perWalk[i]!.push(line(r.value));
      if (r.value.kind === 'message') {
        const f = r.value.message.folder.join('/');
        const set = folderWalks.get(f) ?? new Set<number>();
        set.add(i);
        folderWalks.set(f, set);
      }
    }
  }
  return { lines: perWalk.flat(), perWalk, folderWalks, stats: JSON.stringify(source.stats), notes: [...new Set(source.notes)].sort() };
}

async function checkShapes(root: string, expectMessages: number): Promise<void> {
  const source = await openSource(root);
  assert.ok(source.sharedItems, `${source.format}: the source can share its walk`);
  const one = await oneWalk(source);
  assert.equal(one.lines.filter((l) => l.startsWith('message ')).length, expectMessages, 'the tree holds the messages the test wrote');
  for (const n of [1, 2, 3, 5]) {
    const s = await sharedWalks(source, n);
    assert.deepEqual([...s.lines].sort(), [...one.lines].sort(), `${n} walks: every item once, nothing else`);
    for (const [f, walks] of s.folderWalks) assert.equal(walks.size, 1, `${n} walks: folder "${f}" read by one walk`);
    for (let i = 1; i < n; i++) {
      // A failure inside a claimed folder (an unreadable cur/, a broken mbox entry) is its walk's; a skipped path never.
      assert.deepEqual(s.perWalk[i]!.filter((l) => l.startsWith('skipped ')), [], `${n} walks: walk ${i} yields no skipped path`);
    }
    // A folder's messages in the source's order: the same sequence as one walk's.
    for (const f of s.folderWalks.keys()) {
      const of = (ls: string[]): string[] => ls.filter((l) => l.startsWith(`message ${f || 'INBOX'} `));
      assert.deepEqual(of(s.lines), of(one.lines), `${n} walks: folder "${f}" in the source's order`);
    }
    assert.equal(s.stats, one.stats, `${n} walks: the counts add up to one walk's`);
    assert.deepEqual(s.notes, one.notes, `${n} walks: the same notes`);
  }
}

test('shared walks of a Maildir++ tree with clutter, tmp/ and keywords yield what one walk yields, each item once', async (t) => {
  const root = await tempDir(t);
  writeTree(root, {
    ...courierMaildir(),
    'tmp/1700000009.M9P9.mx': msg('in delivery'),
    'dovecot-uidlist': '3 V1 N4\n',
    'stray.eml': msg('beside cur'),
    '.Work/cur/1700000010.M10P1.mx:2,S': msg('work one'),
    '.Work/new/1700000011.M11P1.mx': msg('work two'),
    '.Work.Projects/cur/1700000012.M12P1.mx:2,': msg('project'),
    '.Work.Projects/clutter.txt': 'notes\n',
    '.Archive/cur/1700000013.M13P1.mx:2,S': msg('archived'),
  });
  await checkShapes(root, 8);
});

test('shared walks of real exports (Thunderbird, Outlook .eml, Apple Mail) yield what one walk yields', async (t) => {
  for (const [name, files, count] of [
    ['thunderbird', thunderbirdProfile(), 4],
    ['outlook', outlookExport(), 4],
    ['apple', appleMailExport(), 3],
  ] as const) {
    const root = join(await tempDir(t), name);
    writeTree(root, files);
    await checkShapes(root, count);
  }
});

test('shared walks of a home directory (Maildir beside mutt mbox files) with an unreadable folder and a gzip mbox', async (t) => {
  const home = await tempDir(t);
  writeTree(home, {
    'Maildir/cur/1700000000.M1P1.host:2,S': msg('inbox read'),
    'Maildir/.Lists/cur/1700000001.M2P1.host:2,': msg('list mail'),
    'mail/sent-mail': mboxMsg('sent one') + mboxMsg('sent two', 'Tue Apr  2 10:00:00 2024'),
    'mail/saved': mboxMsg('saved'),
    'mail/notes.txt': 'not mail\n',
    'mail/old.gz': gzipSync(mboxMsg('compressed one') + mboxMsg('compressed two', 'Wed Apr  3 10:00:00 2024')),
  });
  // A folder nobody may list: a failure, reported once, by the strays walk (as root, mode 000 is still listable).
  const locked = join(home, 'mail', 'locked');
  mkdirSync(locked);
  writeFileSync(join(locked, 'x'), mboxMsg('locked away'));
  chmodSync(locked, 0);
  t.after(() => {
    try {
      chmodSync(locked, 0o755);
    } catch {
      // the temp dir went first
    }
  });
  const source = await openSource(home);
  const one = await oneWalk(source);
  await checkShapes(home, one.lines.filter((l) => l.startsWith('message ')).length);
  assert.ok(one.lines.filter((l) => l.startsWith('message ')).length >= 7, 'the Maildir, the mbox files and the gzip mbox were read');
});

test('a single mbox file as the source: one folder, every walk but the first yields nothing', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'archive.mbox');
  writeFileSync(file, mboxMsg('one') + mboxMsg('two', 'Tue Apr  2 10:00:00 2024') + mboxMsg('three', 'Wed Apr  3 10:00:00 2024'));
  await checkShapes(file, 3);
});

const asRoot = process.getuid?.() === 0 ? {} : { skip: 'needs root (to run the walks as an unprivileged user)' };

test('as an unprivileged user, folders and files at mode 000 are reported once by shared walks, as by one walk', asRoot, async (t) => {
  const dir = await tempDir(t);
  chmodSync(dir, 0o755);
  const md = join(dir, 'md');
  writeTree(md, {
    'cur/1700000001.M1P1.host:2,S': msg('readable'),
    'cur/1700000002.M2P2.host:2,S': msg('locked file'),
    '.Locked/cur/1700000003.M3P3.host:2,S': msg('in locked folder'),
    '.Open/cur/1700000004.M4P4.host:2,S': msg('open folder'),
    '.Other/cur/1700000005.M5P5.host:2,S': msg('other folder'),
  });
  const tree = join(dir, 'tree');
  writeTree(tree, {
    'Inbox/a.eml': msg('tree readable'),
    'Inbox/b.eml': msg('tree locked file'),
    'Locked/c.eml': msg('tree locked folder'),
    'locked-mbox': mboxMsg('locked mbox'),
    'open-mbox': mboxMsg('open mbox'),
  });
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  for (const p of ['md/cur/1700000002.M2P2.host:2,S', 'md/.Locked', 'tree/Inbox/b.eml', 'tree/Locked', 'tree/locked-mbox']) chmodSync(join(dir, p), 0);
  const index = fileURLToPath(new URL('../../src/sources/index.js', import.meta.url));
  // The child walks each tree as nobody, once in one walk and once in three shared walks stepped in turn, and reads
  // every message: what each ends as, one line per item.
  const script = `
    import { openSource } from ${JSON.stringify(index)};
    const line = async (root, item) => {
      if (item.kind === 'skipped') return 'skipped ' + item.path.slice(root.length + 1);
      if (item.kind === 'rejected') return 'failed ' + item.error.code + ' ' + item.error.path.slice(root.length + 1);
      try { await item.message.read(); return 'message ' + item.message.origin.slice(root.length + 1); }
      catch (e) { return 'failed ' + e.code + ' ' + e.path.slice(root.length + 1); }
    };
    const out = {};
    for (const name of ['md', 'tree']) {
      const root = ${JSON.stringify(dir)} + '/' + name;
      const source = await openSource(root);
      const one = [];
      for await (const item of source.items()) one.push(await line(root, item));
      const owner = new Map();
      const its = [0, 1, 2].map((lane) => source.sharedItems({ strays: lane === 0, claim: (f) => {
        const k = f.join('/'); if (!owner.has(k)) owner.set(k, lane); return owner.get(k) === lane; } })[Symbol.asyncIterator]());
      const shared = [];
      const live = new Set([0, 1, 2]);
      while (live.size) for (const i of [...live]) { const r = await its[i].next(); if (r.done) live.delete(i); else shared.push(await line(root, r.value)); }
      out[name] = { one: one.sort(), shared: shared.sort() };
    }
    process.stdout.write(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, timeout: 30_000, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout) as Record<'md' | 'tree', { one: string[]; shared: string[] }>;
  for (const name of ['md', 'tree'] as const) {
    assert.deepEqual(out[name].shared, out[name].one, `${name}: three walks end every item as one walk does, each once`);
    assert.ok(out[name].one.some((l) => l.startsWith('failed E_SOURCE_UNREADABLE ')), `${name}: the locked paths are failures`);
  }
  assert.deepEqual(out.md.one.filter((l) => l.startsWith('failed')), ['failed E_SOURCE_UNREADABLE .Locked', 'failed E_SOURCE_UNREADABLE cur/1700000002.M2P2.host:2,S']);
  assert.deepEqual(out.tree.one.filter((l) => l.startsWith('failed')), ['failed E_SOURCE_UNREADABLE Inbox/b.eml', 'failed E_SOURCE_UNREADABLE Locked', 'failed E_SOURCE_UNREADABLE locked-mbox']);
});
