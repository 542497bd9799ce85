// Resident memory of a process by the kind of mapping it sits in, from /proc/PID/smaps (proc(5)), for the memory
// bench (issue 14, fourth pass). The kernel names only file mappings, the brk heap and the main stack; the
// anonymous rest is told apart by the shapes glibc gives its own mappings:
// - a malloc arena of a thread (every thread that mallocs gets one, up to 8 × cores) is a heap of HEAP_MAX_SIZE =
//   2 × DEFAULT_MMAP_THRESHOLD_MAX = 64 MiB on 64-bit, mmap'd aligned to 64 MiB, its unused tail PROT_NONE
//   (glibc malloc/arena.c new_heap): a read-write mapping at a 64 MiB-aligned address, alone or followed at once
//   by a ---p one, the two together 64 MiB;
// - a thread's stack (glibc allocatestack.c) is one mapping with a guard page (PROT_NONE, 4 KiB) at its low end:
//   a read-write mapping right after a 4 KiB ---p one;
// - the rest is V8's heap pages (new space, old space, code, large objects: mmap'd by V8 in 256 KiB pages and
//   bigger chunks), the blocks malloc serves with mmap (at or above M_MMAP_THRESHOLD, 128 KiB at first and up to
//   32 MiB as glibc raises it dynamically) and whatever else maps memory.
// The main thread's malloc arena is the brk heap, `[heap]`.
export interface SmapsRegions {
  /** file-backed pages: the node binary, shared libraries, ICU data */
  fileKb: number;
  /** `[heap]`: the main thread's malloc arena (brk) */
  brkHeapKb: number;
  /** `[stack]`: the main thread's stack */
  mainStackKb: number;
  /** the other threads' stacks */
  threadStacksKb: number;
  threadStacks: number;
  /** the other threads' malloc arenas */
  arenasKb: number;
  arenas: number;
  /** every other anonymous mapping: V8's heap, malloc's mmap'd blocks */
  otherAnonKb: number;
  /** the largest of those, for telling one big block from many pages */
  otherAnonLargestKb: number;
}

interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  inode: string;
  path: string;
  rssKb: number;
}

const MIB64 = 64n * 1024n * 1024n;
const GUARD = 4096n;

function parse(text: string): Vma[] {
  const vmas: Vma[] = [];
  let cur: Vma | undefined;
  for (const line of text.split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]"; its fields are "Key:   value kB".
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt('0x' + head[1]), end: BigInt('0x' + head[2]), perms: head[3]!, inode: head[4]!, path: head[5]!, rssKb: 0 };
      vmas.push(cur);
    } else if (cur && line.startsWith('Rss:')) {
      cur.rssKb = Number(/(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return vmas;
}

export function classifySmaps(text: string): SmapsRegions {
  const vmas = parse(text);
  const r: SmapsRegions = { fileKb: 0, brkHeapKb: 0, mainStackKb: 0, threadStacksKb: 0, threadStacks: 0, arenasKb: 0, arenas: 0, otherAnonKb: 0, otherAnonLargestKb: 0 };
  vmas.forEach((v, i) => {
    if (v.inode !== '0' || v.path.startsWith('/')) r.fileKb += v.rssKb;
    else if (v.path === '[heap]') r.brkHeapKb += v.rssKb;
    else if (v.path === '[stack]') r.mainStackKb += v.rssKb;
    else if (v.path.startsWith('[')) r.otherAnonKb += v.rssKb; // [vvar], [vdso], [anon:…]: a few pages
    else if (v.perms.startsWith('rw') && v.start % MIB64 === 0n && arenaSpan(vmas, i) === MIB64) {
      r.arenasKb += v.rssKb;
      r.arenas++;
    } else if (v.perms.startsWith('rw') && i > 0 && isGuard(vmas[i - 1]!, v)) {
      r.threadStacksKb += v.rssKb;
      r.threadStacks++;
    } else {
      r.otherAnonKb += v.rssKb;
      r.otherAnonLargestKb = Math.max(r.otherAnonLargestKb, v.rssKb);
    }
  });
  return r;
}

/** The span of a glibc heap starting at vmas[i]: its read-write part and the PROT_NONE tail right after it. */
function arenaSpan(vmas: readonly Vma[], i: number): bigint {
  const v = vmas[i]!;
  const next = vmas[i + 1];
  if (next && next.start === v.end && next.perms.startsWith('---') && next.inode === '0' && next.path === '') return next.end - v.start;
  return v.end - v.start;
}

function isGuard(prev: Vma, v: Vma): boolean {
  return prev.end === v.start && prev.perms.startsWith('---') && prev.inode === '0' && prev.path === '' && prev.end - prev.start === GUARD;
}
