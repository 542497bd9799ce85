// What held sessions cost, measured the same way before and after: the process's RSS and JS heap after a garbage
// collection, the kernel's TCP buffer pages (/proc/net/sockstat) and its socket slab caches (/proc/slabinfo, root
// only). On loopback both ends live in this kernel.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readSockstat } from '../core/kernel-counters.js';

export interface KernelSocketMemory {
  /** /proc/net/sockstat "TCP: mem" (pages) delta × page size: buffer memory, not the socket structs. */
  readonly tcpMemBytes: number | undefined;
  readonly tcpInuseDelta: number | undefined;
  /** Slab caches of TCP sockets (TCP, sock_inode_cache, …) from /proc/slabinfo when readable (root only). On
   *  loopback both ends live in this kernel, so per session it counts two sockets. */
  readonly slabBytes: number | undefined;
  readonly slabPerSessionBytes: number | undefined;
}

const PAGE_BYTES = 4096; // getconf PAGESIZE on x86-64 and this machine; Node has no API for it.

/** Bytes held by the slab caches a TCP socket lives in, or undefined when /proc/slabinfo is not readable. */
export function parseSlabSocketBytes(text: string): number | undefined {
  const caches = new Set(['TCP', 'TCPv6', 'sock_inode_cache', 'tcp_bind_bucket', 'tcp_bind2_bucket', 'inet_peer_cache', 'request_sock_TCP']);
  let total = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !caches.has(f[0]!)) continue;
    const active = Number(f[1]);
    const size = Number(f[3]);
    if (Number.isFinite(active) && Number.isFinite(size)) {
      total += active * size;
      seen = true;
    }
  }
  return seen ? total : undefined;
}

function readSlabBytes(): number | undefined {
  try {
    return parseSlabSocketBytes(readFileSync('/proc/slabinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/** A garbage collector, when V8 lets us have one, so RSS is compared after collection on both sides. */
export function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

export interface MemorySnapshot {
  readonly rss: number;
  readonly heapUsed: number;
  readonly sockstat: ReturnType<typeof readSockstat>;
  readonly slabBytes: number | undefined;
}

/** Collects garbage (when V8 lets us) and reads the process's and the kernel's memory. */
export function memorySnapshot(gc: (() => void) | undefined): MemorySnapshot {
  gc?.();
  return { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, sockstat: readSockstat(), slabBytes: readSlabBytes() };
}

/** The kernel's share between two snapshots, per session where it makes sense. */
export function kernelSocketMemory(before: MemorySnapshot, after: MemorySnapshot, sessions: number): KernelSocketMemory {
  const slabBytes = before.slabBytes !== undefined && after.slabBytes !== undefined ? after.slabBytes - before.slabBytes : undefined;
  const memA = before.sockstat?.tcp.mem;
  const memB = after.sockstat?.tcp.mem;
  const inA = before.sockstat?.tcp.inuse;
  const inB = after.sockstat?.tcp.inuse;
  return {
    tcpMemBytes: memA !== undefined && memB !== undefined ? (memB - memA) * PAGE_BYTES : undefined,
    tcpInuseDelta: inA !== undefined && inB !== undefined ? inB - inA : undefined,
    slabBytes,
    slabPerSessionBytes: slabBytes !== undefined && sessions > 0 ? Math.round(slabBytes / sessions) : undefined,
  };
}
