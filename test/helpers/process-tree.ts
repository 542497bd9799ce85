// Processes the test harness started, found and stopped by pid — never by name (other sessions run servers too).
//
// A server started by a helper is a tree: Cyrus' master and its imapd children, Courier's couriertcpd with the
// authdaemon and one imapd per client. stopTree() collects the whole tree from /proc *before* signalling (children
// re-parented to init after their parent's death are otherwise lost — measured: Courier's authdaemond outlived its
// couriertcpd), then SIGTERM, a deadline, SIGKILL. Trees still registered when the test process exits are killed
// synchronously from an 'exit' handler (and on SIGINT/SIGTERM, which otherwise skip 'exit').

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill(0) but runs nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The process group of `pid` (/proc/<pid>/stat field 5), undefined when it is gone. */
export function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** parent pid of every process, from /proc/<n>/stat field 4 */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** `pid` and all its descendants, parents before children. */
export function processTree(pid: number): number[] {
  const ppid = parents();
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const [child, parent] of ppid) if (parent === out[i] && !out.includes(child)) out.push(child);
  }
  return out.filter((p) => p === pid || pidAlive(p));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(pidAlive)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/**
 * Stops `pid` and every descendant it has now: SIGTERM to the root (a master stops its own children in order) or,
 * with `signalAll`, to every process of the tree (a wrapper such as unshare need not forward signals), then after
 * `graceMs` SIGKILL to whatever of the tree is left. Resolves with the pids that were in the tree, so a test can
 * check that none of them lives on.
 */
export async function stopTree(pid: number, graceMs = 3000, opts: { signalAll?: boolean } = {}): Promise<number[]> {
  if (!pidAlive(pid)) return [];
  const tree = processTree(pid);
  for (const p of opts.signalAll ? tree : [pid]) signal(p, 'SIGTERM');
  if (!(await waitGone(tree, graceMs))) {
    for (const p of tree) if (pidAlive(p)) signal(p, 'SIGKILL');
    await waitGone(tree, 2000);
  }
  return tree;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function stopTreeSync(pid: number): void {
  if (!pidAlive(pid)) return;
  const tree = processTree(pid);
  for (const p of tree) signal(p, 'SIGTERM');
  for (let i = 0; i < 100 && tree.some(pidAlive); i++) sleepSync(20);
  for (const p of tree) if (pidAlive(p)) spawnSync('kill', ['-KILL', String(p)]);
}

// ---- instances still running when the test process ends ---------------------------------------------------------

const live = new Set<number>();
let hooked = false;

/** Registers a root pid to be killed (with its tree) if the process exits before unregister(). */
export function register(pid: number): void {
  live.add(pid);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) stopTreeSync(p);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of live) stopTreeSync(p);
      process.kill(process.pid, sig); // default action now that our listener is gone
    });
  }
}

export function unregister(pid: number): void {
  live.delete(pid);
}
