import { createRequire } from 'node:module';

// Node built-ins that only some runs need, loaded on first use instead of at start-up (issue 14: start-up to the first
// byte on the wire). Measured with `node scripts/startup-time.mjs` (docs/measurements.md "Start-up"): node:tls costs
// ~19 ms CPU to load and a --plain import never uses it; node:zlib ~10 ms, used only for gzip'd mbox files.
// `require` of a built-in is synchronous, so callers stay synchronous; the types come from `import type`.
const require = createRequire(import.meta.url);

let tls: typeof import('node:tls') | undefined;
let zlib: typeof import('node:zlib') | undefined;

export function tlsLib(): typeof import('node:tls') {
  return (tls ??= require('node:tls') as typeof import('node:tls'));
}

export function zlibLib(): typeof import('node:zlib') {
  return (zlib ??= require('node:zlib') as typeof import('node:zlib'));
}
