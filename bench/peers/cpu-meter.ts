// CPU seconds spent by every process of one private server instance (issue 14: "server CPU per message").
//
// A server is a tree that changes while it runs: Dovecot's master forks one imap process per login and reaps it at
// logout, Cyrus' master preforks and recycles imapd children, Courier's couriertcpd forks an imapd per connection.
// Two ways to count all of it, best first:
// - a cgroup of our own (v2 `cpu.stat` usage_usec, or v1 `cpuacct.usage` in nanoseconds): every process of the tree
//   is moved in at start, children forked later are born in it, and the kernel keeps counting for processes that
//   already exited. Exact, and independent of who reaps whom.
// - else /proc: utime+stime of every live process of the tree, plus each one's cutime+cstime (children it has
//   reaped). Read before and after a run, the difference counts a process that lived through the run by its own
//   delta, one born and reaped during the run through its parent's cutime/cstime (proc(5): "time that this
//   process's waited-for children have been scheduled"), one that ended during the run both ways consistently.
//   It misses a child that is re-parented to init before exiting (a daemon that double-forks); none of the three
//   servers does that for its mail processes. Resolution: clock ticks (10 ms at USER_HZ 100).
// The cgroup is removed at close(); the processes left in it (a server that is still running) go back to the
// hierarchy's root first.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CpuMeterKind = 'cgroup-v2' | 'cgroup-v1-cpuacct' | 'proc';

/** USER_HZ: the unit of /proc/PID/stat times. 100 on every Linux architecture Node runs on (sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime of the process itself, in ticks */
  readonly selfTicks: number;
  /** cutime + cstime: children it has waited for, in ticks */
  readonly childTicks: number;
}

/** Parses /proc/PID/stat. The command name (field 2) may hold spaces and parentheses: fields start after the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const open = text.indexOf('(');
  if (close < 0 || open < 0) throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17 (proc(5)).
  const n = (i: number): number => {
    const v = Number(f[i - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/PID/stat field ${i} is not a number`);
    return v;
  };
  return { pid: Number(text.slice(0, open).trim()), ppid: n(4), selfTicks: n(14) + n(15), childTicks: n(16) + n(17) };
}

/** usage_usec of a cgroup v2 cpu.stat, in seconds. */
export function parseCgroupV2CpuStat(text: string): number {
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new Error('cpu.stat has no usage_usec line');
  return Number(m[1]) / 1e6;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // ended while we looked
  }
}

/** `root` and every descendant alive now (one pass over /proc). */
export function processTreeStats(root: number): ProcStat[] {
  const all = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) all.set(s.pid, s);
  }
  const rootStat = all.get(root);
  if (!rootStat) return [];
  const out = [rootStat];
  const ids = new Set([root]);
  // Parents before children; repeat until no new descendant is found (pids are not ordered by age).
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of all.values()) {
      if (!ids.has(s.pid) && ids.has(s.ppid)) {
        ids.add(s.pid);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}

/** Seconds of CPU of the tree: its live processes and what they have reaped. */
export function processTreeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const s of processTreeStats(root)) ticks += s.selfTicks + s.childTicks;
  return ticks / CLOCK_TICKS_PER_SECOND;
}

interface CgroupPlace {
  readonly kind: 'cgroup-v2' | 'cgroup-v1-cpuacct';
  readonly parent: string;
}

/** Where a cgroup can be made here: v2 (the unified mount) first, else v1's cpuacct hierarchy. */
function cgroupPlaces(): CgroupPlace[] {
  const places: CgroupPlace[] = [];
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return places;
  }
  for (const line of mounts.split('\n')) {
    const [, mnt, type, opts] = line.split(' ');
    if (!mnt) continue;
    if (type === 'cgroup2') places.unshift({ kind: 'cgroup-v2', parent: mnt });
    else if (type === 'cgroup' && opts?.split(',').includes('cpuacct')) places.push({ kind: 'cgroup-v1-cpuacct', parent: mnt });
  }
  return places;
}

export class CpuMeter {
  private constructor(
    readonly kind: CpuMeterKind,
    private readonly root: number,
    /** the cgroup directory (cgroup kinds only) */
    private readonly dir: string | undefined,
    private readonly parentDir: string | undefined,
    /** why no cgroup could be used, when kind is 'proc' */
    readonly fallbackReason: string | undefined,
  ) {}

  /**
   * Starts counting the tree of `root`: into a new cgroup `name` when one can be made and the tree moved into it,
   * else by /proc. `preferProc` skips the cgroup (for tests of the fallback).
   */
  static attach(root: number, name: string, opts: { preferProc?: boolean } = {}): CpuMeter {
    const errors: string[] = [];
    if (!opts.preferProc) {
      for (const place of cgroupPlaces()) {
        const dir = join(place.parent, name);
        try {
          mkdirSync(dir);
        } catch (err) {
          errors.push(`${dir}: ${(err as Error).message}`);
          continue;
        }
        try {
          // One pid per write (cgroup.procs moves the whole thread group). Children forked later inherit the cgroup.
          for (const s of processTreeStats(root)) {
            try {
              writeFileSync(join(dir, 'cgroup.procs'), String(s.pid));
            } catch (err) {
              if (readStat(s.pid)) throw err; // only a process that ended meanwhile may fail
            }
          }
          return new CpuMeter(place.kind, root, dir, place.parent, undefined);
        } catch (err) {
          errors.push(`${dir}: ${(err as Error).message}`);
          releaseCgroup(dir, place.parent);
        }
      }
    }
    return new CpuMeter('proc', root, undefined, undefined, opts.preferProc ? 'asked for /proc' : errors.join('; ') || 'no cgroup mount');
  }

  /** Cumulative CPU seconds of the instance since attach (cgroup) or of its current tree (proc). */
  read(): number {
    if (this.kind === 'cgroup-v2') return parseCgroupV2CpuStat(readFileSync(join(this.dir!, 'cpu.stat'), 'utf8'));
    if (this.kind === 'cgroup-v1-cpuacct') return Number(readFileSync(join(this.dir!, 'cpuacct.usage'), 'utf8').trim()) / 1e9;
    return processTreeCpuSeconds(this.root);
  }

  /** Removes the cgroup (moving any process still in it back to the root of the hierarchy). */
  close(): void {
    if (this.dir && this.parentDir) releaseCgroup(this.dir, this.parentDir);
  }
}

function releaseCgroup(dir: string, parent: string): void {
  if (!existsSync(dir)) return;
  for (let attempt = 0; attempt < 50; attempt++) {
    let pids: string[] = [];
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return;
    }
    for (const p of pids) {
      try {
        writeFileSync(join(parent, 'cgroup.procs'), p);
      } catch {
        // ended meanwhile
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch {
      // a zombie not yet reaped keeps it busy for a moment
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
