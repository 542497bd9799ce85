import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listDir, streamDir } from '../../src/sources/fs-walk.js';
import { tempDir } from './source-helpers.js';

// Entries take their path from a prefix computed once per directory (not a join per file): the paths must be
// exactly what join(dir, name) gives, for every way an admin may spell the directory.

async function streamed(dir: string): Promise<Array<{ name: string; path: string; utf8: boolean; fsPath: string | Buffer }>> {
  const out = [];
  for await (const batch of streamDir(dir, 2)) out.push(...batch);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

test('entry paths equal join(dir, name) however the directory is spelled', async (t) => {
  const root = await tempDir(t);
  mkdirSync(join(root, 'cur'));
  for (const name of ['a', 'b,S=1:2,S', 'é-ü', '..x', '.hidden']) writeFileSync(join(root, 'cur', name), 'x');
  const rel = relative(process.cwd(), join(root, 'cur'));
  const spellings = [join(root, 'cur'), `${root}/cur/`, `${root}//cur/.`, `${root}/cur/../cur`, rel, `./${rel}/`];
  for (const dir of spellings) {
    for (const entries of [await listDir(dir), await streamed(dir)]) {
      assert.equal(entries.length, 5, dir);
      for (const e of entries) {
        assert.equal(e.path, join(dir, e.name), `${dir} + ${e.name}`);
        assert.equal(e.utf8, true);
        assert.equal(e.fsPath, e.path);
      }
    }
  }
});

test('a name that is not UTF-8 keeps its exact bytes in fsPath, under the same directory prefix', async (t) => {
  const root = await tempDir(t);
  const raw = Buffer.from([0x6d, 0xe9, 0x6c]); // "mél" in Latin-1: not valid UTF-8
  const dirBytes = Buffer.from(`${root}/`);
  writeFileSync(Buffer.concat([dirBytes, raw]), 'x');
  writeFileSync(join(root, 'plain'), 'x');
  for (const entries of [await listDir(`${root}/./`), await streamed(`${root}/./`)]) {
    const odd = entries.find((e) => !e.utf8);
    assert.ok(odd, 'the Latin-1 name is flagged as not UTF-8');
    assert.deepEqual(odd.fsPath, Buffer.concat([dirBytes, raw]));
    assert.equal(odd.path, join(root, odd.name));
    assert.equal(entries.find((e) => e.name === 'plain')?.utf8, true);
  }
});
