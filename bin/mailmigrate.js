#!/usr/bin/env node
// Launcher: the CLI is one artifact, the esbuild bundle in dist/bundle (npm run build; scripts/bundle.mjs says why).
import module from 'node:module';
import v8 from 'node:v8';

// V8's optimizing compiler (TurboFan) is off until the process has used a second of CPU (issue 14,
// docs/measurements.md "V8's compiler tiers"). Its compile jobs run on a background thread whose CPU counts like
// ours, and in a short run they cost more than the optimized code saves: start-up code compiled for a run that ends
// soon (a whole small import cost ~9 % less CPU without TurboFan, 24 of 25 alternating pairs), while `--no-turbofan`
// for a whole 200k-message import cost ~50 % more CPU. Runs below the threshold keep Sparkplug (V8's baseline
// compiler) only; a longer run gets TurboFan for the rest, when what is hot is the import's own loop. CPU, not wall
// time: on a loaded machine a second of wall time may be a fraction of the work. Flags set here take effect (the
// same numbers as on the command line) and change speed only. A tiering flag of the user's own (NODE_OPTIONS or
// the command line) is left alone.
const TURBOFAN_AFTER_CPU_US = 1_000_000;
const tieringFlag = /--(no-)?(opt|turbofan|maglev|jitless|always-(opt|turbofan|sparkplug))\b/;
if (!tieringFlag.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) {
  v8.setFlagsFromString('--no-turbofan');
  const poll = setInterval(() => {
    const cpu = process.cpuUsage();
    if (cpu.user + cpu.system < TURBOFAN_AFTER_CPU_US) return;
    clearInterval(poll);
    v8.setFlagsFromString('--turbofan');
  }, 100);
  poll.unref();
}

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
