import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { FolderRules, parseMapFile } from '../../src/migrate/folder-rules.js';

const parts = (r: ReturnType<FolderRules['apply']>): string[] | string => (r.excluded ? `excluded: ${r.rule}` : [...r.parts]);

test('--exclude leaves out a folder and everything below it, case-insensitively; * stays within one level', () => {
  const r = new FolderRules({ exclude: ['trash', 'Junk*'] });
  assert.match(String(parts(r.apply(['Trash']))), /excluded: --exclude trash/);
  assert.match(String(parts(r.apply(['Trash', 'Old']))), /excluded/);
  assert.match(String(parts(r.apply(['Junk E-mail']))), /excluded: --exclude Junk\*/);
  assert.deepEqual(parts(r.apply(['Archive', 'Trash'])), ['Archive', 'Trash'], 'a pattern without ** matches from the top');
  assert.deepEqual(parts(r.apply([])), [], 'the top level (INBOX) is kept');
  const deep = new FolderRules({ exclude: ['**/Trash'] });
  assert.match(String(parts(deep.apply(['Archive', 'Trash']))), /excluded/);
});

test('--include keeps only matching folders (and below); the top level is called INBOX', () => {
  const r = new FolderRules({ include: ['INBOX', 'Work'] });
  assert.deepEqual(parts(r.apply([])), []);
  assert.deepEqual(parts(r.apply(['Work', 'Projects'])), ['Work', 'Projects']);
  assert.match(String(parts(r.apply(['Private']))), /not matched by --include INBOX, Work/);
});

test('--map moves a folder and its subfolders, the longest source first; INBOX can be mapped too', () => {
  const r = new FolderRules({ map: ['Sent Items=Sent', 'Archive=Old/Archive', 'Archive/2019=Y2019', 'INBOX=Imported'] });
  assert.deepEqual(r.apply(['Sent Items']), { excluded: false, parts: ['Sent'], explicit: true });
  assert.deepEqual(parts(r.apply(['Archive', '2018'])), ['Old', 'Archive', '2018']);
  assert.deepEqual(parts(r.apply(['Archive', '2019', 'Q1'])), ['Y2019', 'Q1']);
  assert.deepEqual(parts(r.apply([])), ['Imported']);
  assert.deepEqual(r.apply(['Other']), { excluded: false, parts: ['Other'], explicit: false });
});

test('--map-file rules rewrite with the first matching regex and $1; errors name the line', () => {
  const rules = parseMapFile('m.txt', '# comment\n\n^Archives/(\\d{4})$ => Archive/$1\n^INBOX$ => Old mail\n');
  assert.equal(rules.length, 2);
  const dir = mkdtempSync(join(tmpdir(), 'mm-rules-'));
  try {
    const f = join(dir, 'map.txt');
    writeFileSync(f, '^Archives/(\\d{4})$ => Archive/$1\n^INBOX$ => Old mail\n');
    const r = new FolderRules({ mapFile: f });
    assert.deepEqual(parts(r.apply(['Archives', '2019'])), ['Archive', '2019']);
    assert.deepEqual(parts(r.apply([])), ['Old mail']);
    assert.deepEqual(parts(r.apply(['Archives', 'x'])), ['Archives', 'x']);
    assert.throws(() => new FolderRules({ mapFile: join(dir, 'missing') }), (e: unknown) => e instanceof ConfigError && /--map-file: cannot read/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => parseMapFile('m.txt', 'ok => x\nno arrow here\n'), /m\.txt line 2: expected "regex => target"/);
  assert.throws(() => parseMapFile('m.txt', '([ => x\n'), /m\.txt line 1: bad regex/);
});

test('--to sends the top level elsewhere and leaves subfolders in their place; bad values name the option', () => {
  const r = new FolderRules({ to: 'Sent' });
  assert.deepEqual(r.apply([]), { excluded: false, parts: ['Sent'], explicit: true });
  assert.deepEqual(parts(r.apply(['Sub'])), ['Sub']);
  assert.throws(() => new FolderRules({ map: ['no-equals'] }), /--map: "no-equals" is not SRC=DST/);
  assert.throws(() => new FolderRules({ map: ['A=B//C'] }), /--map: "B\/\/C" has an empty level/);
  assert.throws(() => new FolderRules({ exclude: [' '] }), /--exclude: an empty pattern/);
  assert.equal(new FolderRules().empty, true);
});
