import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installSourceMappedStacks, SourceLocator } from '../../src/cli/source-mapped-stacks.js';
import { optionalIntegerOption } from '../../src/cli/integer-option.js';
import { BIN, binarySkipReason, ROOT } from './cli-helpers.js';

// The CLI is a bundle (dist/bundle); a stack trace must still name the TypeScript source and line, mapped when
// the stack is formatted instead of at load (src/cli/source-mapped-stacks.ts says why).

const here = dirname(fileURLToPath(import.meta.url));

test('a stack formatted after installSourceMappedStacks names the .ts source and line of each mapped frame', (t) => {
  // tsc writes a .map beside each compiled file: dist/src/cli/integer-option.js → src/cli/integer-option.ts.
  const distSrc = join(here, '..', '..', 'src');
  const saved = Error.prepareStackTrace;
  t.after(() => (Error.prepareStackTrace = saved));
  installSourceMappedStacks(distSrc);
  let stack = '';
  try {
    optionalIntegerOption('--connections', 'many', 1, 64);
  } catch (e) {
    stack = (e as Error).stack ?? '';
  }
  assert.match(stack, /^ConfigError: --connections: /);
  assert.match(stack, /\n {4}at .*\/src\/cli\/integer-option\.ts:\d+:\d+/, stack);
  assert.doesNotMatch(stack, /dist\/src\/cli\/integer-option\.js/, 'no generated location left for a mapped file');
  // Frames outside the root (node:internal, this test's runner) are printed as V8 would.
  assert.match(stack, /node:internal|node:test|\/dist\/test\//);
});

test('a frame in a file without a map, or outside the root, is printed unchanged', () => {
  const locator = new SourceLocator(join(here, 'no-such-dir'));
  const frame = 'run (file:///somewhere/else.js:10:5)';
  assert.equal(locator.mapFrame(frame), frame);
  assert.equal(locator.mapFrame('async Promise.all (index 0)'), 'async Promise.all (index 0)');
  const inRoot = new SourceLocator(here);
  assert.equal(inRoot.mapFrame(`x (${join(here, 'missing.js')}:1:1)`), `x (${join(here, 'missing.js')}:1:1)`);
});

test('every chunk of the bundle maps back to sources under src/ or node_modules', (t) => {
  const skip = binarySkipReason();
  if (skip) return t.skip(skip);
  const dir = join(ROOT, 'dist', 'bundle');
  const locator = new SourceLocator(dir);
  const main = join(dir, 'main.js');
  assert.ok(existsSync(`${main}.map`), 'the bundle has source maps');
  const chunks = readdirSync(dir).filter((f) => f.endsWith('.js'));
  let mapped = 0;
  for (const f of chunks) {
    for (let line = 1; line <= 40 && mapped < 1000; line++) {
      const m = locator.locate(join(dir, f), line, 1);
      if (!m) continue;
      mapped++;
      assert.match(m.file, /\/src\/.*\.ts$|\/node_modules\//, `${f}:${line} → ${m.file}`);
    }
  }
  assert.ok(mapped > chunks.length, `locations mapped: ${mapped}`);
});

test('the CLI’s own stack trace for an unexpected error names the TypeScript sources, not the chunks', async (t) => {
  const skip = binarySkipReason();
  if (skip) return t.skip(skip);
  // A preload makes the CLI's first line of output throw a plain TypeError (not a typed error: those print without
  // a stack), from inside the bundle's import command; the CLI prints it with its stack.
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-stack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const preload = join(dir, 'throw-on-output.mjs');
  writeFileSync(preload, `const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (s, ...a) => { if (String(s).startsWith('No --host given')) throw new TypeError('output refused by the test'); return write(s, ...a); };
`);
  const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, BIN, 'import', join(ROOT, 'fixtures', 'maildir'), '--quiet'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise((r) => child.on('exit', r));
  clearTimeout(timer);
  assert.notEqual(code, 0);
  assert.match(stderr, /TypeError: output refused by the test/, stderr);
  assert.match(stderr, /\n\s+at .*\/src\/cli\/commands\/import\.ts:\d+:\d+/, stderr);
  assert.doesNotMatch(stderr, /chunk-[A-Z0-9]+\.js/, stderr);
});
