// The esbuild options every build of the CLI shares (scripts/bundle.mjs, scripts/merge-chunks.mjs): one place, so a
// merged chunk and the file it replaced are built the same way.
export const NODE_ESM = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Readable stack traces: src/cli/source-mapped-stacks.ts maps a stack's frames with these files when one is
  // printed, so it names src/…/file.ts:line, not chunk-XXXX.js (Node's own source-map support costs start-up).
  sourcemap: 'linked',
  sourcesContent: false,
  // Whitespace and comments only: names stay as written, so a stack trace and a profile still name functions.
  // Comments carried non-ASCII text (—, §, ¥ in dependencies' comments): then Node 20's ESM loader decodes the
  // whole file the slow way and V8 parses it as a two-byte string. The imapflow chunk: 2.4 → 1.8 MB, its load
  // ~160 → ~140 ms CPU here (docs/measurements.md "Start-up").
  minifyWhitespace: true,
  logLevel: 'warning',
  metafile: true,
};

// CommonJS dependencies (imapflow, commander, …) call require() for Node's built-ins; an ESM bundle has none.
export const REQUIRE_BANNER = {
  js: "import { createRequire as __mmCreateRequire } from 'node:module'; const require = __mmCreateRequire(import.meta.url);",
};
