// Where the client's RSS is, sampled from inside the process (issue 14, fourth pass): preloaded into an import,
//
//   MM_RSS_OUT=/tmp/s.jsonl node --import ./dist/bench/memory/rss-sampler.js bin/mailmigrate.js import … --quiet
//   node dist/bench/memory/rss-attribution.js /tmp/s.jsonl       # the table: what each part holds, and its growth
//
// (`node dist/bench/memory.js --attribute` and `node dist/bench/memory-ab.js --attribute` preload it themselves.)
// Every MM_RSS_INTERVAL ms (default 1000), one JSON line: process.memoryUsage(), v8.getHeapStatistics() (physical
// size, malloced memory), v8.getHeapSpaceStatistics() per space, the process's CPU, /proc/self/status (RssAnon,
// RssFile) and, from /proc/self/smaps, the resident anonymous memory by the kind of mapping it is in (see
// smaps-regions.ts). With MM_RSS_JOURNAL set, the journal's size too, which tells how many messages were done.
// What it costs: one smaps read per sample (~1–3 ms for Node's few hundred mappings), a line appended to a file, a
// few objects, and one performance entry per garbage collection (counted by kind: scavenges and mark-compacts);
// nothing per message.
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { classifySmaps } from './smaps-regions.js';

const out = process.env['MM_RSS_OUT'];
if (!out) throw new Error('rss-sampler: set MM_RSS_OUT to the JSONL file to write');
const intervalMs = Number(process.env['MM_RSS_INTERVAL'] ?? 1000);
const journal = process.env['MM_RSS_JOURNAL'];
const t0 = performance.now();
// Collections so far, by kind: count and milliseconds (one 'gc' performance entry per collection).
const gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gc.minor++;
      gc.minorMs += e.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.major++;
      gc.majorMs += e.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });
const cpu0 = process.cpuUsage();

function kb(status: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
}

function sample(): void {
  const m = process.memoryUsage();
  const h = v8.getHeapStatistics();
  const spaces: Record<string, { size: number; used: number; physical: number }> = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size };
  const status = readFileSync('/proc/self/status', 'utf8');
  const cpu = process.cpuUsage(cpu0);
  let journalBytes: number | undefined;
  if (journal) {
    try {
      journalBytes = statSync(journal).size;
    } catch {
      journalBytes = 0;
    }
  }
  const line = {
    t: (performance.now() - t0) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    v8Physical: h.total_physical_size,
    v8Malloced: h.malloced_memory,
    spaces,
    rssAnonKb: kb(status, 'RssAnon'),
    rssFileKb: kb(status, 'RssFile'),
    hwmKb: kb(status, 'VmHWM'),
    smaps: classifySmaps(readFileSync('/proc/self/smaps', 'utf8')),
    journalBytes,
    gc: { ...gc },
  };
  appendFileSync(out!, JSON.stringify(line) + '\n');
}

sample();
setInterval(sample, intervalMs).unref();
process.on('exit', sample);
