// npm run bench:sources — streaming check for the source readers (issue 3): generates a Maildir of 200,000 small
// messages in a temp dir and reads it: scan only; scan + read() one at a time (first 20,000: it is latency-bound);
// scan + readAhead(depth 16), as an importer would. Prints messages/s and the peak RSS growth over the baseline
// taken after generation. Then the same messages as one mbox file (scan; readAhead). Exits 1 if any growth
// reaches 50 MB. MM_BENCH_MESSAGES overrides the count.
// Run with --expose-gc (the npm script does) so the baseline is taken after a full collection.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSource, readAhead } from '../src/sources/index.js';

const COUNT = Number(process.env.MM_BENCH_MESSAGES ?? 200_000);
const LIMIT_MB = 50;
const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

async function generate(root: string): Promise<void> {
  // Several folders and both cur/ and new/, like a real mailbox; most messages in one big cur/ (the hard case).
  const folders = ['', '.Archive', '.Work.Projects'];
  for (const f of folders) for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, f, sub), { recursive: true });
  const flags = ['S', 'RS', 'FS', '', 'PS'];
  for (let i = 0; i < COUNT; i++) {
    const folder = i % 10 === 0 ? '.Archive' : i % 10 === 1 ? '.Work.Projects' : '';
    const sub = i % 50 === 0 ? 'new' : 'cur';
    const name = `${1_600_000_000 + i}.M${i}P${i % 997}.bench,S=200${sub === 'cur' ? `:2,${flags[i % flags.length]}` : ''}`;
    writeFileSync(
      join(root, folder, sub, name),
      `From: sender${i % 100}@example.org\nTo: rcpt@example.org\nSubject: message ${i}\nMessage-ID: <${i}@bench>\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\nBody of message ${i}.\n`,
    );
  }
}

/** The same messages as one mbox file, written as a stream (never one big string). */
async function generateMbox(path: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < COUNT; i++) {
    const ok = out.write(
      `From sender${i % 100}@example.org Tue Jul  1 08:52:37 2003\nFrom: sender${i % 100}@example.org\nSubject: message ${i}\n` +
        `Message-ID: <${i}@bench>\nStatus: RO\n\nBody of message ${i}.\n>From a quoted line\n\n`,
    );
    if (!ok) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

interface Run {
  readonly messages: number;
  readonly seconds: number;
  readonly peakGrowthMb: number;
}

type Mode = 'scan' | 'sequential' | 'read-ahead';

async function run(root: string, mode: Mode, limit: number): Promise<Run> {
  gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const source = await openSource(root);
  let n = 0;
  let bytes = 0;
  const sample = (): void => {
    if (++n % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  };
  if (mode === 'read-ahead') {
    for await (const r of readAhead(source.items(), { depth: 16 })) {
      if (r.kind === 'skipped') continue;
      if (r.kind !== 'message') throw new Error(`unexpected rejection: ${r.error.message}`);
      bytes += r.normalized.data.length;
      sample();
    }
  } else {
    for await (const item of source.items()) {
      if (item.kind === 'skipped') continue;
      if (item.kind !== 'message') throw new Error(`unexpected rejection: ${item.error.message}`);
      if (mode === 'sequential') bytes += (await item.message.read()).data.length;
      sample();
      if (n >= limit) break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (n !== limit) throw new Error(`read ${n} messages, expected ${limit}`);
  if (mode !== 'scan' && bytes === 0) throw new Error('no bytes read');
  return { messages: n, seconds, peakGrowthMb: (peak - base) / MB };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'mm-bench-sources-'));
  try {
    const g0 = performance.now();
    await generate(root);
    console.log(`generated ${COUNT} messages in ${((performance.now() - g0) / 1000).toFixed(1)} s (${root})`);
    let failed = false;
    const runs: [string, Mode, number][] = [
      ['scan only', 'scan', COUNT],
      ['read() 1 by 1', 'sequential', Math.min(COUNT, 20_000)],
      ['readAhead(16)', 'read-ahead', COUNT],
    ];
    for (const [label, mode, limit] of runs) {
      const r = await run(root, mode, limit);
      report(label, r);
    }
    const mbox = join(root, 'all.mbox');
    await generateMbox(mbox);
    for (const [label, mode] of [['mbox scan', 'scan'], ['mbox readAhead', 'read-ahead']] as const) {
      const r = await run(mbox, mode, COUNT);
      report(label, r);
    }
    if (!gc) console.log('note: run with --expose-gc for a clean baseline');
    if (failed) process.exitCode = 1;
    function report(label: string, r: Run): void {
      const ok = r.peakGrowthMb < LIMIT_MB;
      failed ||= !ok;
      console.log(
        `${label.padEnd(14)} ${r.messages} messages in ${r.seconds.toFixed(2)} s = ${Math.round(r.messages / r.seconds)} msg/s, ` +
          `peak RSS growth ${r.peakGrowthMb.toFixed(1)} MB (limit ${LIMIT_MB} MB) ${ok ? 'OK' : 'FAIL'}`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
