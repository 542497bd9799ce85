import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { systemClock } from '../core/clock.js';
import { ConfigError, ConnectionClosedError } from '../core/errors.js';
import { readEphemeralPortRange, readFdLimit, readSockstat, type Limit, type PortRange } from '../core/kernel-counters.js';
import { Connection } from '../transport/connection.js';
import { startServerChild, type ServerChild } from './server-child.js';
import { LatencyStats } from '../analysis/stats.js';

// `mailmigrate bench connections` (issue 8): hold N authenticated IMAP sessions, idle or with a NOOP every few
// seconds, and report what they cost — time to establish, connect/login percentiles, client RSS per session, kernel
// socket memory. The server runs in a child process (server-child.ts) so the client's RSS is measured alone.
//
// Two holders, because the target is ≤ 6 KB client RSS per session at 10,000 sessions:
// - 'lean' (default): a net.Socket plus a tiny state machine that speaks the greeting, LOGIN and NOOP as raw bytes.
//   Measured here (npm run bench:scale, compiled, fresh process per run): 5.1–5.7 KB RSS per session at 10,000
//   with a NOOP every 5 s (JS heap ~1.9 KB of it), 4.4 KB idle; docs/measurements.md: a bare idle Node socket costs ~4.7 KB.
// - 'connection': the full transport Connection (response reader, command queue, timers, capabilities).
//   Measured the same way: ~19 KB RSS per session at 2,000 (JS heap 6.0 KB) vs ~6.6 KB for lean at 2,000 —
//   three times the target, which is why the lean holder exists.
// The figures are re-measured on every run and reported; the comments only say why the default is what it is.

export type Holder = 'lean' | 'connection';

export interface Summary3 {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

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

export interface ConnectionsBenchOptions {
  readonly sessions: number;
  /** A real server instead of the embedded one (then user and password are required). */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
  /** Never printed or reported. */
  readonly password?: string | undefined;
  /** Local addresses to spread the sessions over (each gives one range of ephemeral ports per destination). */
  readonly sources?: readonly string[] | undefined;
  /** Connects + logins in flight at once (default 64): a ramp, never a storm. */
  readonly concurrency?: number;
  /** A NOOP on each session about this often, at a random phase per session; 0 = idle (default 5000). */
  readonly noopIntervalMs?: number;
  /** How long all sessions are held once established (default 3000). */
  readonly holdMs?: number;
  readonly holder?: Holder;
  /** Bound on establishing all sessions (default 120 s + 5 ms per session). */
  readonly establishTimeoutMs?: number;
  readonly onProgress?: (established: number, failed: number) => void;
}

export interface ConnectionsBenchResult {
  readonly sessions: number;
  readonly established: number;
  readonly failed: number;
  /** Error code → count, e.g. { EADDRNOTAVAIL: 3, timeout: 1 }. */
  readonly errors: Record<string, number>;
  readonly holder: Holder;
  readonly establishMs: number;
  readonly rssPerSessionBytes: number;
  readonly heapPerSessionBytes: number;
  readonly clientRssBytes: { readonly before: number; readonly after: number };
  /** The server child's RSS per session (embedded server only). */
  readonly serverRssPerSessionBytes: number | undefined;
  readonly connectMs: Summary3;
  readonly loginMs: Summary3;
  readonly noops: number;
  readonly noopMs: Summary3;
  /** Sessions that closed while held (server BYE, reset). */
  readonly dropped: number;
  readonly kernel: KernelSocketMemory;
  readonly preflight: Preflight;
}

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

function countFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

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
function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** IMAP quoted string (RFC 3501 §4.3); the lean holder refuses what a quoted string cannot carry. */
export function quoteImap(s: string): string {
  if (/[\r\n\0]/.test(s) || /[^\x01-\x7f]/.test(s)) {
    throw new ConfigError('--user', 'the lean session holder sends LOGIN as quoted strings (7-bit, no CR/LF); use --holder connection');
  }
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

interface Timed {
  connectMs: number;
  loginMs: number;
}

/** One held session, whichever holder. */
interface HeldSession {
  noop(): void;
  close(): void;
}

/**
 * The lean holder: greeting → `a LOGIN` → ready; then `n NOOP` on demand. Lines are scanned for the tag only
 * (the server sends no literals to LOGIN or NOOP), and the partial-line buffer is usually empty, so a held session
 * is one socket, one small object and one closure.
 */
class LeanSession implements HeldSession {
  private buf = '';
  private state: 'greeting' | 'login' | 'ready' | 'closed' = 'greeting';
  private noopAt = 0;
  private readonly start = systemClock.now();
  private connectedAt = 0;
  private readonly sock: net.Socket;

  constructor(
    target: { host: string; port: number; localAddress?: string | undefined },
    private readonly login: string,
    private readonly done: (err: string | undefined, t?: Timed) => void,
    private readonly events: { onNoop: (ms: number) => void; onDrop: () => void },
  ) {
    this.sock = net.connect({ host: target.host, port: target.port, localAddress: target.localAddress });
    this.sock.setNoDelay(true);
    this.sock.once('connect', () => (this.connectedAt = systemClock.now()));
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? 'error'));
    this.sock.on('close', () => this.fail('closed'));
  }

  private fail(code: string): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.sock.destroy();
    if (wasReady) this.events.onDrop();
    else this.done(code);
  }

  private onData(chunk: Buffer): void {
    this.buf += chunk.toString('latin1');
    if (this.buf.length > 65_536) return this.fail('line-too-long');
    let nl: number;
    while ((nl = this.buf.indexOf('\r\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (this.state === 'greeting') {
      if (line.startsWith('* OK')) {
        this.state = 'login';
        this.sock.write(`a LOGIN ${this.login}\r\n`);
      } else if (line.startsWith('* BYE')) this.fail('bye');
    } else if (this.state === 'login') {
      if (line.startsWith('a OK')) {
        this.state = 'ready';
        const now = systemClock.now();
        this.done(undefined, { connectMs: this.connectedAt - this.start, loginMs: now - this.connectedAt });
      } else if (line.startsWith('a ')) this.fail(/\[UNAVAILABLE\]/i.test(line) ? 'refused-cap' : 'login-refused');
    } else if (this.state === 'ready' && this.noopAt > 0 && line.startsWith('n ')) {
      this.events.onNoop(systemClock.now() - this.noopAt);
      this.noopAt = 0;
    }
  }

  noop(): void {
    if (this.state !== 'ready' || this.noopAt > 0) return;
    this.noopAt = systemClock.now();
    this.sock.write('n NOOP\r\n');
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    // RST instead of FIN (SO_LINGER {1,0}): 10,000 sessions closed with FIN would leave 10,000 TIME_WAIT sockets for
    // 60 s and skew whatever is measured next (the churn bench counts TIME_WAIT).
    this.sock.resetAndDestroy();
  }
}

class FullSession implements HeldSession {
  private busy = false;
  private closing = false;
  constructor(
    private readonly conn: Connection,
    private readonly events: { onNoop: (ms: number) => void; onDrop: () => void },
  ) {
    void conn.whenClosed().then(() => {
      if (!this.closing) events.onDrop();
    });
  }
  noop(): void {
    if (this.busy || this.conn.closed) return;
    this.busy = true;
    const t = systemClock.now();
    this.conn.command('NOOP').then(
      () => this.events.onNoop(systemClock.now() - t),
      () => undefined,
    ).finally(() => (this.busy = false));
  }
  close(): void {
    this.closing = true;
    this.conn.destroy(new ConnectionClosedError('closed by the bench', 0));
  }
}

const pick = (s: LatencyStats): Summary3 => {
  const x = s.summary();
  return { p50: x.p50, p99: x.p99, max: x.max };
};

/** Runs the bench. Refuses (ConfigError) when the preflight says N does not fit. */
export async function runConnectionsBench(o: ConnectionsBenchOptions): Promise<ConnectionsBenchResult> {
  const n = o.sessions;
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('--sessions', 'must be a whole number ≥ 1');
  const holder = o.holder ?? 'lean';
  const embedded = o.host === undefined;
  if (!embedded && (o.user === undefined || o.password === undefined)) {
    throw new ConfigError('--user', 'a user and a password (MAILMIGRATE_PASSWORD) are required with --host');
  }
  const portRange = readEphemeralPortRange();
  const loopbackTarget = embedded || /^127\./.test(o.host ?? '');
  const sources = o.sources && o.sources.length > 0 ? [...o.sources] : loopbackTarget ? loopbackSources(n, portRange) : [];
  const preflight = preflightConnections({ sessions: n, fdLimit: readFdLimit(), fdsInUse: countFds(), portRange, sources, embeddedServer: embedded });
  if (!preflight.fits) throw new ConfigError('--sessions', preflight.problems.join('; '));

  let server: ServerChild | undefined;
  const sessions: HeldSession[] = [];
  try {
    if (embedded) server = await startServerChild({ noDelay: true, backlog: 4096 });
    const host = server?.host ?? o.host!;
    const port = server?.port ?? o.port ?? 143;
    const user = o.user ?? 'test';
    const password = o.password ?? 'test';
    const login = holder === 'lean' ? `${quoteImap(user)} ${quoteImap(password)}` : '';
    const gc = getGc();
    gc?.();
    const rssBefore = process.memoryUsage.rss();
    const heapBefore = process.memoryUsage().heapUsed;
    const sockBefore = readSockstat();
    const slabBefore = readSlabBytes();
    const serverBefore = await server?.stats();

    const connectStats = new LatencyStats();
    const loginStats = new LatencyStats();
    const noopStats = new LatencyStats();
    const errors: Record<string, number> = {};
    let established = 0;
    let failed = 0;
    let dropped = 0;
    let noops = 0;
    const events = { onNoop: (ms: number) => { noops++; noopStats.record(ms); }, onDrop: () => { dropped++; } };
    const concurrency = Math.max(1, o.concurrency ?? 64);
    const t0 = systemClock.now();
    const deadline = t0 + (o.establishTimeoutMs ?? 120_000 + 5 * n);
    let started = 0;
    const openOne = (i: number): Promise<void> => {
      const localAddress = sources.length > 0 ? sources[i % sources.length] : undefined;
      const target = { host, port, localAddress };
      const ok = (t: Timed): void => {
        established++;
        connectStats.record(t.connectMs);
        loginStats.record(t.loginMs);
      };
      const bad = (code: string): void => {
        failed++;
        errors[code] = (errors[code] ?? 0) + 1;
      };
      const perSessionTimeout = 30_000;
      if (holder === 'lean') {
        return new Promise<void>((resolve) => {
          let settled = false;
          const s = new LeanSession(target, login, (err, t) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (err) bad(err);
            else {
              sessions.push(s);
              ok(t!);
            }
            resolve();
          }, events);
          const timer = setTimeout(() => {
            if (settled) return;
            settled = true;
            s.close();
            bad('timeout');
            resolve();
          }, perSessionTimeout);
        });
      }
      const start = systemClock.now();
      return Connection.open({
        host, port, tls: 'none', localAddress, auth: { user, password },
        timeouts: { connectMs: perSessionTimeout, greetingMs: perSessionTimeout },
      }).then(
        (c) => {
          sessions.push(new FullSession(c, events));
          ok({ connectMs: c.connectMs, loginMs: systemClock.now() - start - c.connectMs });
        },
        (err: { code?: string }) => bad(err.code ?? 'error'),
      );
    };
    const worker = async (): Promise<void> => {
      while (started < n && systemClock.now() < deadline) {
        const i = started++;
        await openOne(i);
        if ((established + failed) % 500 === 0) o.onProgress?.(established, failed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    if (started < n) {
      failed += n - started;
      errors['not-started-deadline'] = n - started;
    }
    const establishMs = systemClock.now() - t0;
    o.onProgress?.(established, failed);

    // Hold, with NOOPs spread over the interval: each session gets a random slot of TICK_MS, so at most
    // 1/slots of them speak at once and never all at the top of a second.
    const interval = o.noopIntervalMs ?? 5000;
    const holdMs = o.holdMs ?? 3000;
    if (interval > 0 && holdMs > 0) {
      const TICK_MS = 100;
      const slots: HeldSession[][] = Array.from({ length: Math.max(1, Math.round(interval / TICK_MS)) }, () => []);
      for (const s of sessions) slots[Math.floor(Math.random() * slots.length)]!.push(s);
      let k = 0;
      const tick = setInterval(() => {
        for (const s of slots[k++ % slots.length]!) s.noop();
      }, TICK_MS);
      await sleep(holdMs);
      clearInterval(tick);
    } else await sleep(holdMs);
    await sleep(50); // let the last NOOP replies in

    gc?.();
    const rssAfter = process.memoryUsage.rss();
    const heapAfter = process.memoryUsage().heapUsed;
    const sockAfter = readSockstat();
    const slabAfter = readSlabBytes();
    const serverAfter = await server?.stats();
    const per = (a: number, b: number): number => (established > 0 ? Math.round((b - a) / established) : 0);
    const slabBytes = slabBefore !== undefined && slabAfter !== undefined ? slabAfter - slabBefore : undefined;
    const memA = sockBefore?.tcp.mem;
    const memB = sockAfter?.tcp.mem;
    const inA = sockBefore?.tcp.inuse;
    const inB = sockAfter?.tcp.inuse;
    return {
      sessions: n, established, failed, errors, holder, establishMs,
      rssPerSessionBytes: per(rssBefore, rssAfter),
      heapPerSessionBytes: per(heapBefore, heapAfter),
      clientRssBytes: { before: rssBefore, after: rssAfter },
      serverRssPerSessionBytes: serverBefore && serverAfter ? per(serverBefore.rss, serverAfter.rss) : undefined,
      connectMs: pick(connectStats),
      loginMs: pick(loginStats),
      noops,
      noopMs: pick(noopStats),
      dropped,
      kernel: {
        tcpMemBytes: memA !== undefined && memB !== undefined ? (memB - memA) * PAGE_BYTES : undefined,
        tcpInuseDelta: inA !== undefined && inB !== undefined ? inB - inA : undefined,
        slabBytes,
        slabPerSessionBytes: slabBytes !== undefined && established > 0 ? Math.round(slabBytes / established) : undefined,
      },
      preflight,
    };
  } finally {
    for (const s of sessions) s.close();
    await server?.close();
  }
}
