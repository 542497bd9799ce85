// Bytes allocated per message, by allocation site (issue 14): preloaded into an import,
//
//   MM_ALLOC_OUT=/tmp/a node --import ./dist/bench/memory/alloc-sampler.js dist/src/cli/main.js import … --quiet
//   node dist/bench/memory/alloc-sites.js /tmp/a.heap.json MESSAGES       # heap bytes per message, by function
//
// (dist/src/cli/main.js rather than the bundle: the profile then names source files and lines.) V8's sampling heap
// profiler, started through the inspector with the flags that keep samples of objects already collected: without
// them it reports what is alive at the end, not what was allocated. One sample per MM_ALLOC_INTERVAL bytes
// (default 16 KiB) on average, weighted by size, so a site's total is an estimate, good to a few percent over a
// 50 000-message run. With MM_ALLOC_BUFFERS=1 it also counts Buffer bytes (the ArrayBuffer memory outside V8's
// heap: reads, wire text, journal lines) by the calling function, one call in 8 — a stack trace per sampled call,
// which itself allocates: measure heap sites without it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const out = process.env['MM_ALLOC_OUT'];
if (!out) throw new Error('alloc-sampler: set MM_ALLOC_OUT to the path prefix of the profile to write');
const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: Number(process.env['MM_ALLOC_INTERVAL'] ?? 16384),
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});

const EVERY = 8;
const bufferSites = new Map<string, { calls: number; bytes: number }>();
if (process.env['MM_ALLOC_BUFFERS'] === '1') {
  let calls = 0;
  type Factory = (...args: unknown[]) => Buffer;
  const B = Buffer as unknown as Record<string, Factory>;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat', 'from']) {
    const original = B[name]!;
    B[name] = function (this: unknown, ...args: unknown[]): Buffer {
      const b = original.apply(this, args);
      if (++calls % EVERY === 0) {
        const frames = (new Error().stack ?? '').split('\n');
        const site = `${name} ${(frames[2] ?? '').trim()} <- ${(frames[3] ?? '').trim()}`;
        const s = bufferSites.get(site) ?? { calls: 0, bytes: 0 };
        s.calls += EVERY;
        s.bytes += EVERY * b.length;
        bufferSites.set(site, s);
      }
      return b;
    };
  }
}

process.on('exit', () => {
  // The in-process inspector answers synchronously, so the profile is written before the process ends.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) process.stderr.write(`alloc-sampler: ${err.message}\n`);
    else writeFileSync(`${out}.heap.json`, JSON.stringify(r.profile));
  });
  if (bufferSites.size) writeFileSync(`${out}.buffers.json`, JSON.stringify([...bufferSites].sort((a, b) => b[1].bytes - a[1].bytes)));
});
