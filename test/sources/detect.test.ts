import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, SourceError } from '../../src/core/errors.js';
import { detectFormat, openSource } from '../../src/sources/index.js';
import { FIXTURES, tempDir } from './source-helpers.js';

test('each fixture is detected as its format', async () => {
  const cases: [string, string][] = [
    ['maildir', 'maildir++'],
    ['maildir-nested', 'maildir'],
    ['mbox/mboxrd.mbox', 'mbox'],
    ['mbox/archive.mbox.gz', 'mbox'],
    ['mbox', 'mbox-dir'],
    ['mbox-tree', 'mbox-dir'],
    ['eml', 'eml'],
    ['eml/hello.eml', 'eml'],
  ];
  for (const [path, format] of cases) assert.equal(await detectFormat(join(FIXTURES, path)), format, path);
});

test('a missing path and an unrecognised directory fail with specific codes', async (t) => {
  await assert.rejects(openSource('/nonexistent/mailmigrate/path'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_FOUND' && e.message.includes('/nonexistent/mailmigrate/path'));
  const dir = await tempDir(t);
  await mkdir(join(dir, 'photos'));
  await writeFile(join(dir, 'photos', 'a.jpg'), 'JFIF');
  await assert.rejects(openSource(dir), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNKNOWN_FORMAT');
  await assert.rejects(openSource(dir, { format: 'pst' as never }), ConfigError);
});

test('a forced format overrides detection', async () => {
  const source = await openSource(join(FIXTURES, 'eml'), { format: 'eml' });
  assert.equal(source.format, 'eml');
});
