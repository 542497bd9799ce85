#!/usr/bin/env node
// Launcher: the CLI is one artifact, the esbuild bundle in dist/bundle (npm run build; scripts/bundle.mjs says why).
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code of each module on disk (module.enableCompileCache; the directory is
// NODE_COMPILE_CACHE or the system's temporary directory), so a second start skips compiling the bundle. Node 20
// has no such cache: there this is a no-op. docs/measurements.md "Start-up" has the numbers.
if (typeof module.enableCompileCache === 'function') {
  try {
    module.enableCompileCache();
  } catch {
    // A cache that cannot be written (read-only temp directory) only costs speed.
  }
}

import('../dist/bundle/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bundle/main.js')) {
    process.stderr.write('mailmigrate: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
