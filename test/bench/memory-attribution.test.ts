// bench/memory/smaps-regions.ts, rss-attribution.ts and variant.ts: how the memory benches tell where the RSS is and
// what a variant of memory-ab runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySmaps } from '../../bench/memory/smaps-regions.js';
import { meanAfterTenth, moments, parseSamples, rows, type RssSample, tenths } from '../../bench/memory/rss-attribution.js';
import { parseVariant } from '../../bench/memory/variant.js';

const vma = (start: bigint, end: bigint, perms: string, rssKb: number, inode = '0', path = ''): string =>
  `${start.toString(16)}-${end.toString(16)} ${perms} 00000000 00:00 ${inode}${path ? '                 ' + path : ''}\n` +
  `Size:               ${Number(end - start) / 1024} kB\nKernelPageSize:        4 kB\nRss:                ${rssKb} kB\nPss:                ${rssKb} kB\nAnonymous:          ${rssKb} kB\nVmFlags: rd wr mr mw me ac \n`;

const MiB = 1024n * 1024n;
const A = 0x7f0000000000n; // 64 MiB-aligned

test('smaps regions: file pages, the brk heap, a thread arena, a thread stack and V8-like pages are each counted where they belong', () => {
  const text =
    vma(0x555500000000n, 0x555502000000n, 'r-xp', 30000, '260131', '/usr/bin/node') +
    vma(0x555600000000n, 0x555600a00000n, 'rw-p', 9000, '0', '[heap]') +
    // a glibc thread arena: 2 MiB read-write at a 64 MiB boundary, then its 62 MiB PROT_NONE tail
    vma(A, A + 2n * MiB, 'rw-p', 1500) +
    vma(A + 2n * MiB, A + 64n * MiB, '---p', 0) +
    // a thread stack: 4 KiB guard, then 8 MiB read-write
    vma(A + 64n * MiB, A + 64n * MiB + 4096n, '---p', 0) +
    vma(A + 64n * MiB + 4096n, A + 72n * MiB + 4096n, 'rw-p', 40) +
    // V8 pages: 256 KiB-aligned read-write chunks, one with a reservation after it that is not a 64 MiB span
    vma(A + 80n * MiB, A + 96n * MiB, 'rw-p', 16000) +
    vma(A + 96n * MiB, A + 97n * MiB, '---p', 0) +
    vma(A + 128n * MiB + 256n * 1024n, A + 129n * MiB, 'rw-p', 700) +
    vma(0x7ffc00000000n, 0x7ffc00021000n, 'rw-p', 60, '0', '[stack]');
  const r = classifySmaps(text);
  assert.equal(r.fileKb, 30000);
  assert.equal(r.brkHeapKb, 9000);
  assert.equal(r.arenasKb, 1500);
  assert.equal(r.arenas, 1);
  assert.equal(r.threadStacksKb, 40);
  assert.equal(r.threadStacks, 1);
  assert.equal(r.mainStackKb, 60);
  assert.equal(r.otherAnonKb, 16700);
  assert.equal(r.otherAnonLargestKb, 16000);
});

test('smaps regions: a read-write mapping at a 64 MiB boundary whose span is not 64 MiB (a V8 chunk) is not taken for a malloc arena', () => {
  const r = classifySmaps(vma(A, A + 16n * MiB, 'rw-p', 8000) + vma(A + 16n * MiB, A + 32n * MiB, '---p', 0));
  assert.equal(r.arenas, 0);
  assert.equal(r.otherAnonKb, 8000);
});

test("smaps regions: this process's own smaps adds up to its RssAnon + RssFile within a few pages", async () => {
  const { readFileSync } = await import('node:fs');
  const status = readFileSync('/proc/self/status', 'utf8');
  const r = classifySmaps(readFileSync('/proc/self/smaps', 'utf8'));
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  const sum = r.fileKb + r.brkHeapKb + r.mainStackKb + r.threadStacksKb + r.arenasKb + r.otherAnonKb;
  const expected = kb('RssAnon') + kb('RssFile') + kb('RssShmem');
  // Two reads of a live process: allow 2 MB of difference (the test's own allocations between them).
  assert.ok(Math.abs(sum - expected) < 2048, `smaps ${sum} kB against status ${expected} kB`);
  assert.ok(r.fileKb > 1000, 'the node binary is file-backed');
});

const sample = (t: number, rssMb: number, journalBytes: number): RssSample => ({
  t,
  cpuS: t,
  rss: rssMb * 1024 * 1024,
  heapTotal: 0,
  heapUsed: 0,
  external: 0,
  arrayBuffers: 2 * 1024 * 1024,
  v8Physical: 30 * 1024 * 1024,
  v8Malloced: 0,
  spaces: { new_space: { size: 0, used: 0, physical: 16 * 1024 * 1024 }, read_only_space: { size: 0, used: 0, physical: 1024 * 1024 } },
  rssAnonKb: 0,
  rssFileKb: 45 * 1024,
  hwmKb: 0,
  smaps: { fileKb: 0, brkHeapKb: 0, mainStackKb: 0, threadStacksKb: 0, threadStacks: 0, arenasKb: 0, arenas: 0, otherAnonKb: 31 * 1024, otherAnonLargestKb: 0 },
  journalBytes,
});

test('attribution: the moments are the first sample, 10 % of the messages done by journal growth, the RSS peak and the end', () => {
  // journal 1000 bytes at the start (an earlier run's), 11000 at the end: 10 % done once it passes 2000
  const xs = [sample(0, 40, 1000), sample(1, 80, 1500), sample(2, 90, 2100), sample(3, 120, 6000), sample(4, 100, 11000)];
  const ms = moments(xs, 1000);
  assert.deepEqual(
    ms.map((m) => [m.label, m.sample.t, m.done]),
    [
      ['first', 0, 0],
      ['10 %', 2, 110],
      ['peak', 3, 500],
      ['end', 4, 1000],
    ],
  );
  const r = new Map(rows(ms));
  assert.deepEqual(r.get('  new_space'), [16, 16, 16, 16]);
  assert.deepEqual(r.get('  other spaces (read-only, map, …)'), [1, 1, 1, 1]);
  assert.deepEqual(r.get('  of which not V8 heap (other − V8 physical)'), [1, 1, 1, 1]);
});

test('attribution: without a message count there is no 10 % moment, and a sample file parses line by line', () => {
  const text = [sample(0, 40, 0), sample(1, 50, 10)].map((s) => JSON.stringify(s)).join('\n') + '\n';
  const ms = moments(parseSamples(text));
  assert.deepEqual(
    ms.map((m) => m.label),
    ['first', 'peak', 'end'],
  );
  assert.equal(moments([]).length, 0);
});

test('attribution by tenths: each sample falls in the tenth of the messages its journal size says, and the live set is the lowest heapUsed of the tenth', () => {
  const at = (journalBytes: number, rssMb: number, heapUsedMb: number): RssSample => ({ ...sample(0, rssMb, journalBytes), heapUsed: heapUsedMb * 1024 * 1024 });
  // journal 0 → 1000 bytes: 50 is the first tenth, 150 and 190 the second, 1000 the last
  const r = new Map(tenths([at(0, 40, 4), at(50, 100, 30), at(150, 110, 12), at(190, 105, 25), at(1000, 120, 14)], 1_000_000));
  assert.deepEqual(r.get('messages done up to')!.slice(0, 2), [100_000, 200_000]);
  assert.deepEqual(r.get('max RSS')!.slice(0, 2), [100, 110]);
  assert.deepEqual(r.get('min heapUsed (live)')!.slice(0, 2), [4, 12]);
  assert.deepEqual(r.get('samples'), [2, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.ok(Number.isNaN(r.get('max RSS')![5]!), 'an empty tenth is no number, not 0');
  assert.equal(meanAfterTenth([at(0, 40, 4), at(50, 100, 30), at(150, 110, 12), at(1000, 120, 14)]), 115);
  assert.deepEqual(tenths([at(0, 40, 4)], 10), [], 'no journal growth, no tenths');
});

test('a memory-ab variant carries its name, node flags, environment and CLI; an unknown part or a bare env word is refused', () => {
  assert.deepEqual(parseVariant('ss2; flags=--max-semi-space-size=2 --trace-gc; env=MALLOC_ARENA_MAX=2 A=b=c; cli=/x/bin/mailmigrate.js'), {
    name: 'ss2',
    flags: ['--max-semi-space-size=2', '--trace-gc'],
    env: { MALLOC_ARENA_MAX: '2', A: 'b=c' },
    cli: '/x/bin/mailmigrate.js',
  });
  assert.deepEqual(parseVariant('defaults'), { name: 'defaults', flags: [], env: {} });
  assert.throws(() => parseVariant('x; color=red'), /unknown part "color"/);
  assert.throws(() => parseVariant('x; env=NOVALUE'), /env wants K=V/);
  assert.throws(() => parseVariant('; flags=--a'), /a name first/);
});
