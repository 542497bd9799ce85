// Does N held sessions fit this machine? One file descriptor per session and one local port per session to one
// server address:port: `bench connections` checks both before it opens anything, and says what to change (ulimit,
// more source addresses, a wider port range) instead of failing half-way with EMFILE or EADDRNOTAVAIL.
import { readdirSync } from 'node:fs';
import type { Limit, PortRange } from '../core/kernel-counters.js';

export interface Preflight {
  readonly fits: boolean;
  readonly sessions: number;
  readonly fdLimit: Limit | undefined;
  readonly fdsInUse: number | undefined;
  readonly portRange: PortRange | undefined;
  /** Source addresses the sessions are spread over ([] = the kernel picks, one address). */
  readonly sources: readonly string[];
  /** Why N does not fit and what to change; empty when it fits. */
  readonly problems: readonly string[];
  /** Things worth knowing that do not stop the run. */
  readonly notes: readonly string[];
}

/** fds the process needs besides the sessions (stdio, the IPC pipe, epoll, libuv, a few files). */
export const FD_MARGIN = 64;
/** Ports per source address left for everything else on the machine. */
export const PORT_MARGIN = 256;

/** Pure: does N fit the limits, and if not, why and what to change. */
export function preflightConnections(input: {
  sessions: number;
  fdLimit: Limit | undefined;
  fdsInUse: number | undefined;
  portRange: PortRange | undefined;
  sources: readonly string[];
  embeddedServer: boolean;
}): Preflight {
  const { sessions, fdLimit, fdsInUse, portRange, sources } = input;
  const problems: string[] = [];
  const notes: string[] = [];
  if (fdLimit) {
    const room = fdLimit.soft - (fdsInUse ?? 0) - FD_MARGIN;
    if (sessions > room) {
      problems.push(
        `${sessions} sessions need ${sessions} file descriptors but the open-file limit is ${fdLimit.soft} ` +
          `(hard ${fdLimit.hard}) with ${fdsInUse ?? '?'} in use: raise it (ulimit -n ${sessions + (fdsInUse ?? 0) + FD_MARGIN}` +
          `${fdLimit.hard < sessions + FD_MARGIN ? ', which needs root: the hard limit is lower' : ''}) or ask for at most ${Math.max(0, room)} sessions`,
      );
    }
    if (input.embeddedServer) notes.push(`the embedded server runs in a child process with its own limit of ${fdLimit.soft} fds`);
  } else notes.push('open-file limit unknown (/proc/self/limits not readable)');
  if (portRange) {
    const addrs = Math.max(1, sources.length);
    const perAddr = portRange.count - PORT_MARGIN;
    if (sessions > perAddr * addrs) {
      const need = Math.ceil(sessions / perAddr);
      problems.push(
        `${sessions} sessions need ${sessions} local ports to one server address:port, but each source address has ` +
          `${portRange.count} ephemeral ports (${portRange.low}–${portRange.high}) and ${addrs} ${addrs === 1 ? 'is' : 'are'} in use: ` +
          `spread them over ${need} source addresses (--source 127.0.0.2,127.0.0.3,… on loopback) or widen ` +
          `net.ipv4.ip_local_port_range`,
      );
    }
  } else notes.push('ephemeral port range unknown (/proc/sys/net/ipv4/ip_local_port_range not readable)');
  return { fits: problems.length === 0, sessions, fdLimit, fdsInUse, portRange, sources: [...sources], problems, notes };
}

/** Loopback source addresses 127.0.0.2… enough for `sessions`, or [] when one address suffices. */
export function loopbackSources(sessions: number, portRange: PortRange | undefined): string[] {
  const perAddr = (portRange?.count ?? 28_232) - PORT_MARGIN;
  const need = Math.ceil(sessions / perAddr);
  if (need <= 1) return [];
  return Array.from({ length: need }, (_, i) => `127.0.0.${i + 2}`);
}

/** Open file descriptors of this process, or undefined where /proc is not there. */
export function countFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}
