#!/usr/bin/env node
// Launcher: the CLI is one artifact, the esbuild bundle in dist/bundle (npm run build; scripts/bundle.mjs says why).
import('../dist/bundle/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bundle/main.js')) {
    process.stderr.write('mailmigrate: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
