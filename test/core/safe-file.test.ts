// Issue 13: the files we write never go through a link someone planted at the path (a shared /tmp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileNoFollow, openAppendNoFollow, writeFileNoFollow } from '../../src/core/safe-file.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mm-safe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A victim file (someone else's, mode 0644) and a link to it at `name` in `dir`. */
function plantLink(dir: string, name: string): { victim: string; link: string } {
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const link = join(dir, name);
  symlinkSync(victim, link);
  return { victim, link };
}

function assertUntouched(victim: string): void {
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(statSync(victim).mode & 0o777, 0o644);
}

test('a whole-file write refuses a symbolic link at the path, names the option and leaves the target alone', (t) => {
  const dir = tempDir(t);
  const { victim, link } = plantLink(dir, 'report.json');
  assert.throws(() => writeFileNoFollow(link, '{}', { option: '--report' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_CONFIG');
    assert.match(err.message, /^--report: .*report\.json is a symbolic link; refusing to write through it/);
    return true;
  });
  assertUntouched(victim);
  assert.deepEqual(readdirSync(dir).sort(), ['report.json', 'victim.txt'], 'no temp file left behind');
});

test('a whole-file write replaces an existing file with a new 0600 one and leaves no temp file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'out.json');
  writeFileSync(path, 'old', { mode: 0o644 });
  writeFileNoFollow(path, 'new content\n', { option: '--json' });
  assert.equal(readFileSync(path, 'utf8'), 'new content\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['out.json']);
});

test('a streamed file refuses a link, also a dangling one whose target it would have created', (t) => {
  const dir = tempDir(t);
  const { victim, link } = plantLink(dir, 'trace.ndjson');
  assert.throws(() => createFileNoFollow(link, { option: '--trace' }), /^ConfigError: --trace: .*symbolic link/);
  assertUntouched(victim);
  const dangling = join(dir, 'dangling.ndjson');
  const wouldCreate = join(dir, 'created-by-us');
  symlinkSync(wouldCreate, dangling);
  assert.throws(() => createFileNoFollow(dangling, { option: '--trace' }), /symbolic link/);
  assert.throws(() => statSync(wouldCreate), /ENOENT/);
});

test('a streamed file is a new private inode: a hard link to another file at the path is replaced, not written', (t) => {
  const dir = tempDir(t);
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const path = join(dir, 'trace.ndjson');
  linkSync(victim, path);
  const fd = createFileNoFollow(path, { option: '--trace' });
  writeSync(fd, 'trace line\n');
  closeSync(fd);
  assertUntouched(victim);
  assert.equal(readFileSync(path, 'utf8'), 'trace line\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('an append open refuses a symbolic link, a hard-linked file and a directory; it creates a missing file 0600', (t) => {
  const dir = tempDir(t);
  const { victim, link } = plantLink(dir, 'journal.jsonl');
  assert.throws(() => openAppendNoFollow(link, { option: 'journal' }), /^ConfigError: journal: .*symbolic link/);
  assertUntouched(victim);
  const hard = join(dir, 'hard.jsonl');
  linkSync(victim, hard);
  assert.throws(() => openAppendNoFollow(hard, { option: 'journal' }), /several hard links/);
  assertUntouched(victim);
  mkdirSync(join(dir, 'adir'));
  assert.throws(() => openAppendNoFollow(join(dir, 'adir'), { option: 'journal' }), /EISDIR|not a regular file/);
  const fresh = join(dir, 'fresh.jsonl');
  const fd = openAppendNoFollow(fresh, { option: 'journal' });
  writeSync(fd, 'a\n');
  closeSync(fd);
  assert.equal(statSync(fresh).mode & 0o777, 0o600);
});
