import { readFileSync } from 'node:fs';

// Kernel TCP counters and limits from /proc, for the bench diagnosis and pre-flight checks (docs/measurements.md: Node cannot
// read TCP_INFO, so these files are how a run sees delayed ACKs, accept-queue overflows and SYN retransmits).
// Every parser is a pure function of the file's text, so tests run on captured text and on any OS; each reader
// returns undefined where the file cannot be read (non-Linux, restricted /proc).
// The counters are system-wide: anything else on the machine adds to them. On loopback runs both ends are here, so a
// delta across a run is a fair witness when the machine is otherwise quiet; a remote server's counters are invisible.

/** The counters the bench diagnosis and reports use. TcpExt from /proc/net/netstat, Tcp from /proc/net/snmp. */
export const COUNTER_NAMES = [
  // TcpExt
  'DelayedACKs', // delayed-ACK timer fired: the 40–51 ms stall of docs/measurements.md counts here one for one
  'DelayedACKLocked',
  'DelayedACKLost',
  'ListenOverflows', // accept queue full: the SYN (or final ACK) is dropped and retransmitted on the SYN schedule
  'ListenDrops',
  'TCPSynRetrans',
  'TCPTimeouts',
  'TCPReqQFullDrop',
  'TCPReqQFullDoCookies',
  'SyncookiesSent',
  'TW', // sockets that finished TIME_WAIT
  'TCPAbortOnData',
  'TCPAbortOnClose',
  // Tcp
  'ActiveOpens',
  'PassiveOpens',
  'AttemptFails',
  'EstabResets',
  'CurrEstab', // a gauge, not a counter: its "delta" is the change in open connections
  'InSegs',
  'OutSegs',
  'RetransSegs',
  'OutRsts',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
/** A snapshot; a name is absent when this kernel does not report it. */
export type KernelCounters = Partial<Record<CounterName, number>>;
/** after − before, for names present in both snapshots. */
export type CounterDelta = Partial<Record<CounterName, number>>;

/**
 * Parses the "Prefix: name name …" / "Prefix: value value …" line pairs of /proc/net/netstat and /proc/net/snmp
 * into { Prefix: { name: value } }. Lines that do not pair up are skipped rather than trusted.
 */
export function parseProcNetStat(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i]!.trim().split(/\s+/);
    const vals = lines[i + 1]!.trim().split(/\s+/);
    const prefix = head[0];
    if (!prefix || !prefix.endsWith(':') || vals[0] !== prefix || head.length !== vals.length) {
      i -= 1; // resynchronize on the next line
      continue;
    }
    const group: Record<string, number> = (out[prefix.slice(0, -1)] ??= {});
    for (let j = 1; j < head.length; j++) {
      const n = Number(vals[j]);
      if (Number.isFinite(n)) group[head[j]!] = n;
    }
  }
  return out;
}

/** Picks COUNTER_NAMES out of the parsed netstat and snmp texts. */
export function parseKernelCounters(netstatText: string, snmpText: string): KernelCounters {
  const ext = parseProcNetStat(netstatText)['TcpExt'] ?? {};
  const tcp = parseProcNetStat(snmpText)['Tcp'] ?? {};
  const out: KernelCounters = {};
  for (const name of COUNTER_NAMES) {
    const v = ext[name] ?? tcp[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A snapshot of the TCP counters, or undefined when /proc/net is not readable (non-Linux). */
export function readKernelCounters(): KernelCounters | undefined {
  const netstat = readText('/proc/net/netstat');
  const snmp = readText('/proc/net/snmp');
  if (netstat === undefined && snmp === undefined) return undefined;
  return parseKernelCounters(netstat ?? '', snmp ?? '');
}

/** b − a for every counter present in both. Counters are 64-bit monotonic in the kernel; a negative delta can only
 *  come from a reset or a different namespace, so it is reported as is for the caller to distrust. */
export function diffCounters(a: KernelCounters, b: KernelCounters): CounterDelta {
  const out: CounterDelta = {};
  for (const name of COUNTER_NAMES) {
    const x = a[name];
    const y = b[name];
    if (x !== undefined && y !== undefined) out[name] = y - x;
  }
  return out;
}

/** TCP states in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_STATE_TIME_WAIT = 0x06;
export const TCP_STATE_LISTEN = 0x0a;

export interface TcpSocketLine {
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: number;
  readonly txQueue: number;
  readonly rxQueue: number;
}

/** Parses /proc/net/tcp or /proc/net/tcp6 ("sl local_address rem_address st tx_queue:rx_queue …", hex fields). */
export function parseProcNetTcp(text: string): TcpSocketLine[] {
  const out: TcpSocketLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+:$/.test(f[0]!)) continue; // header or blank
    const port = (addr: string): number => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16);
    const [tx, rx] = f[4]!.split(':');
    out.push({
      localPort: port(f[1]!),
      remotePort: port(f[2]!),
      state: parseInt(f[3]!, 16),
      txQueue: parseInt(tx ?? '0', 16),
      rxQueue: parseInt(rx ?? '0', 16),
    });
  }
  return out;
}

/** TIME_WAIT sockets in the given table texts, optionally only those with `port` at either end. */
export function countTimeWaitIn(texts: readonly string[], port?: number): number {
  let n = 0;
  for (const text of texts) {
    for (const s of parseProcNetTcp(text)) {
      if (s.state !== TCP_STATE_TIME_WAIT) continue;
      if (port === undefined || s.localPort === port || s.remotePort === port) n++;
    }
  }
  return n;
}

/** TIME_WAIT sockets now (IPv4 + IPv6), optionally to/from one port; undefined when /proc is not readable.
 *  Reading /proc/net/tcp is O(sockets): fine before/after a run, not in a hot loop with 10k+ sockets. */
export function countTimeWait(port?: number): number | undefined {
  const texts = ['/proc/net/tcp', '/proc/net/tcp6'].map(readText).filter((t): t is string => t !== undefined);
  return texts.length === 0 ? undefined : countTimeWaitIn(texts, port);
}

export interface Sockstat {
  readonly socketsUsed: number | undefined;
  readonly tcp: { readonly inuse?: number; readonly orphan?: number; readonly tw?: number; readonly alloc?: number; readonly mem?: number };
  /** Every "PROTO: key value key value" line, for anything not named above. */
  readonly raw: Record<string, Record<string, number>>;
}

/** Parses /proc/net/sockstat ("TCP: inuse 3 orphan 0 tw 0 alloc 3 mem 233"; mem is in pages). */
export function parseSockstat(text: string): Sockstat {
  const raw: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const f = m[2]!.split(/\s+/);
    const group: Record<string, number> = {};
    for (let i = 0; i + 1 < f.length; i += 2) {
      const n = Number(f[i + 1]);
      if (Number.isFinite(n)) group[f[i]!] = n;
    }
    raw[m[1]!] = group;
  }
  return { socketsUsed: raw['sockets']?.['used'], tcp: raw['TCP'] ?? {}, raw };
}

export function readSockstat(): Sockstat | undefined {
  const t = readText('/proc/net/sockstat');
  return t === undefined ? undefined : parseSockstat(t);
}

export interface Limit {
  /** Infinity for "unlimited". */
  readonly soft: number;
  readonly hard: number;
}

/** The "Max open files" line of /proc/self/limits (docs/measurements.md: 20000/20000 here; each connection costs one fd). */
export function parseFdLimit(text: string): Limit | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const num = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  const soft = num(m[1]!);
  const hard = num(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

export function readFdLimit(): Limit | undefined {
  const t = readText('/proc/self/limits');
  return t === undefined ? undefined : parseFdLimit(t);
}

export interface PortRange {
  readonly low: number;
  readonly high: number;
  /** Ports available per (source IP, destination IP:port): docs/measurements.md measures 28,232 here. */
  readonly count: number;
}

/** /proc/sys/net/ipv4/ip_local_port_range: "32768\t60999". */
export function parseEphemeralPortRange(text: string): PortRange | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = Number(m[2]);
  return high >= low ? { low, high, count: high - low + 1 } : undefined;
}

export function readEphemeralPortRange(): PortRange | undefined {
  const t = readText('/proc/sys/net/ipv4/ip_local_port_range');
  return t === undefined ? undefined : parseEphemeralPortRange(t);
}
