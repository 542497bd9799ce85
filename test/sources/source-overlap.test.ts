// Sources of one run must be apart (source-overlap.ts): the same tree twice, however spelled, or one inside another,
// would have every message in it read — and, into folders empty at the start, sent — twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SourceError } from '../../src/core/errors.js';
import { refuseOverlappingSources } from '../../src/sources/index.js';
import { tempDir } from './source-helpers.js';

const refused = async (paths: string[], why: RegExp): Promise<void> => {
  await assert.rejects(refuseOverlappingSources(paths), (e: unknown) => {
    assert.ok(e instanceof SourceError, String(e));
    assert.equal(e.code, 'E_SOURCE_OVERLAP');
    assert.match(e.message, why);
    return true;
  });
};

test('the same tree twice, spelled alike, with a trailing slash, relative, or through a symlink, is refused', async (t) => {
  const dir = await tempDir(t);
  const md = join(dir, 'Maildir');
  mkdirSync(join(md, 'cur'), { recursive: true });
  symlinkSync(md, join(dir, 'link'));
  await refused([md, md], /same path as source/);
  await refused([md, `${md}/`], /same file or directory as source/);
  await refused([relative(process.cwd(), md), md], /same file or directory/);
  await refused([md, join(dir, 'link')], /same file or directory/);
});

test('a source inside another (a folder of it, a file in it) is refused, whichever comes first', async (t) => {
  const dir = await tempDir(t);
  mkdirSync(join(dir, 'mail', 'archive'), { recursive: true });
  writeFileSync(join(dir, 'mail', 'inbox.mbox'), 'From a@b Mon Apr  1 10:00:00 2024\nSubject: x\n\nbody\n');
  await refused([join(dir, 'mail'), join(dir, 'mail', 'inbox.mbox')], /lies inside source/);
  await refused([join(dir, 'mail', 'archive'), join(dir, 'mail')], /contains source/);
});

test('sources side by side are accepted, names sharing a prefix included; a missing one is left to openSource', async (t) => {
  const dir = await tempDir(t);
  for (const d of ['mail', 'mail2', 'other/mail']) mkdirSync(join(dir, d), { recursive: true });
  await refuseOverlappingSources([join(dir, 'mail'), join(dir, 'mail2'), join(dir, 'other', 'mail')]);
  await refuseOverlappingSources([join(dir, 'mail'), join(dir, 'missing')]);
  await refuseOverlappingSources([join(dir, 'mail')]);
});
