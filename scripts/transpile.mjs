#!/usr/bin/env node
// The test build (issue 13: `npm test` time): every .ts file under src/, test/ and bench/ compiled to dist/ file by
// file with esbuild — the same layout and import specifiers as `tsc -p tsconfig.json` — without type-checking.
// `node scripts/test.mjs --build` runs this and the CLI bundle, then the tests, while `tsc --noEmit` type-checks the
// same files beside them (with lint); a type error still fails the run.
//
// Why: tsc's emit of the ~330 files took 10 s of one core before the first test could start (24 s in `npm test`,
// beside lint), esbuild ~1 s; the type-check keeps its ~14 CPU-s but overlaps the tests instead of delaying them.
// Measured (2026-12-01, quiet): the wait before the first test 24 → ~3 s; the whole run gained less (227 s before,
// 227–244 s after, within the run-to-run spread): the suite is CPU-bound (scripts/test.mjs), so the type-check's CPU
// is still spent, only elsewhere.
// The CLI the tests spawn was always esbuild's output (scripts/bundle.mjs); `npm run build` still emits with tsc.
// Each file compiles on its own, which tsc's emit also allows here: no const enums or namespaces across files
// (tsc's isolatedModules rules), and type-only imports are dropped by both.
//
//   node scripts/transpile.mjs
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...tsFiles(rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

await build({
  absWorkingDir: root,
  entryPoints: ['src', 'test', 'bench'].flatMap(tsFiles),
  outdir: 'dist',
  outbase: '.',
  bundle: false,
  format: 'esm',
  platform: 'node',
  // tsconfig.json's target: class fields, `using` and the rest compile as tsc compiles them.
  target: 'es2022',
  tsconfig: 'tsconfig.json',
  sourcemap: 'linked',
  logLevel: 'warning',
});
