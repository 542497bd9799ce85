#!/usr/bin/env node
// The CLI as one artifact (issue 14, docs/measurements.md "Start-up"): esbuild bundles src/cli/main.ts and what it
// imports, dependencies included, into dist/bundle/. `npm run build` runs tsc first (type-checking; the tests and
// the programmatic API in dist/src) and then this; bin/mailmigrate.js runs dist/bundle/main.js and nothing else.
//
// Why a bundle: Node 20's ESM loader resolves, reads and compiles every file on its own — ~250 modules before
// `import` wrote its first byte, imapflow and its dependencies ~150 of them. Code splitting keeps every `import()`
// a separate chunk, so what a command does not use (imapflow before the server answered, the embedded server, the
// benchmarks, the fleet) is still not loaded.
//
// Files that are started by path rather than imported are entry points of their own, emitted beside the chunks
// that name them (chunks and entries share one directory): the read worker (new URL('./read-worker.js',
// import.meta.url) in src/sources/read-pool.ts; one file built on its own, below) and the fleet's child guard
// (src/fleet/account-runner.ts). The
// embedded-server child of the benchmarks forks the chunk that holds src/bench/server-child.ts, which checks that it
// is the process's entry itself.
//
//   node scripts/bundle.mjs [--outdir DIR] [--analyze]      (npm run build runs it without arguments)
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ESM, REQUIRE_BANNER } from './esbuild-options.mjs';
import { mergeChunks } from './merge-chunks.mjs';
import { buildVendors, externalIconvTables, lazyBuiltins, lazyVendor } from './lazy-vendor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --outdir DIR: elsewhere than dist/bundle (an experiment beside a build that tests are running).
const outIndex = process.argv.indexOf('--outdir');
const outdir = outIndex > 0 && process.argv[outIndex + 1] ? resolve(process.argv[outIndex + 1]) : join(root, 'dist', 'bundle');
// Chunk names carry a content hash: files of an earlier build would pile up.
rmSync(outdir, { recursive: true, force: true });

// commander requires node:child_process at its top level, for executable subcommands (`git-style` separate
// programs), which mailmigrate has none of; loading it (with dgram and the child-process internals) was the
// largest Node built-in in `import`'s start-up profile (~1/3 of the built-ins' time; docs/measurements.md
// "Start-up"). Its `require` is handed an object whose spawn loads the module when called, so it would still work.
const lazyCommanderChildProcess = {
  name: 'lazy-commander-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (a) =>
      /[/\\]node_modules[/\\]commander[/\\]lib[/\\]command\.js$/.test(a.importer) ? { path: 'child_process', namespace: 'lazy-builtin' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      contents: "module.exports = { spawn: (...a) => require('node:child_process').spawn(...a) };",
      loader: 'js',
      resolveDir: root,
    }));
  },
};

// Packages imapflow imports at its top level and the control plane does not use on its paths (the default logger,
// SOCKS, MIME decoding, character-set tables): files of their own, loaded on first use (scripts/lazy-vendor.mjs).
const vendored = new Map();
const vendorDir = join(outdir, 'vendor');
const tablesCopied = new Set();

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    main: 'src/cli/main.ts',
    'child-guard': 'src/fleet/child-guard.ts',
  },
  outdir,
  ...NODE_ESM,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  legalComments: 'linked',
  // BullMQ reads its Lua scripts from files beside its own modules, and ioredis comes with it: both stay in
  // node_modules, loaded only by `mailmigrate worker` / `batch --redis`.
  external: ['bullmq', 'ioredis'],
  banner: REQUIRE_BANNER,
  plugins: [
    lazyCommanderChildProcess,
    lazyVendor({ prefix: './vendor/', found: vendored }),
    externalIconvTables({ vendorDir, prefix: './vendor/', copied: tablesCopied }),
    lazyBuiltins({ importer: /[/\\]node_modules[/\\]imapflow[/\\]/, modules: ['tls', 'zlib', 'dns'] }),
  ],
});
const vendorOutputs = await buildVendors({ root, outdir: vendorDir, found: vendored, copied: tablesCopied });

// Which sources went into which chunk: test/cli/start-up.test.ts reads it to name what was loaded before the first
// byte; `node scripts/bundle.mjs --analyze` prints the sizes.
// `mailmigrate import`'s path (the command, then the run it loads with import()) as one file instead of ~20
// chunks: merge-chunks.mjs says why and how.
const topLevel = ['src/cli/main.ts', 'src/fleet/child-guard.ts'];
// First what every command loads: the chunks main.js imports statically (commander, the errors, esbuild's runtime,
// …; 5 files) as main-path.js — merged first, so that the groups below import main-path.js directly instead of
// through the facades left in their place. main.js itself stays out (merge-chunks.mjs `omit` says why).
const mainPath = await mergeChunks({
  root, outdir, metafile: result.metafile, name: 'main-path',
  entries: ['src/cli/main.ts'], omit: ['src/cli/main.ts'], exclude: ['src/fleet/child-guard.ts'],
});
const importPath = ['src/cli/commands/import.ts', 'src/migrate/import-run.ts'];
const merged = await mergeChunks({ root, outdir, metafile: mainPath, name: 'import-path', entries: importPath, exclude: topLevel });
// And what the import loads once its first connection is dialled (import-run.ts: the control plane, then the
// analysis and the adaptation), ~10 files of which 6 were one-line facades into import-path.js: one file. `verify`,
// which loads the control plane too, then also evaluates the analysis (~35 kB).
const metafile = await mergeChunks({
  root, outdir, metafile: merged, name: 'control-path',
  entries: ['src/mailbox/control-plane.ts', 'src/analysis/stats.ts', 'src/analysis/diagnosis.ts', 'src/migrate/adaptive-run.ts'],
  exclude: [...topLevel, ...importPath],
});
// The read worker (src/sources/read-pool.ts starts it by URL, ./read-worker.js beside the chunks) is one file of its
// own, not an entry of the split build: a worker thread is an isolate of its own, so the modules it shares with the
// main thread were loaded twice anyway, from 5 files (~1.4 ms CPU each for Node 20's ESM loader). Now one, and the
// chunks it shared (the sources' parsing, safe-read) join import-path.js: 2 files fewer before the first byte.
const worker = await build({
  absWorkingDir: root,
  entryPoints: { 'read-worker': 'src/sources/read-worker.ts' },
  outdir,
  ...NODE_ESM,
  legalComments: 'linked',
  banner: REQUIRE_BANNER,
});
Object.assign(metafile.outputs, vendorOutputs, worker.metafile.outputs);
writeFileSync(`${outdir}.meta.json`, JSON.stringify(metafile));

if (process.argv.includes('--analyze')) {
  const { analyzeMetafile } = await import('esbuild');
  process.stdout.write(await analyzeMetafile(metafile));
}
