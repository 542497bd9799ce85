import { readFileSync } from 'node:fs';
import net from 'node:net';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import { diffCounters, readKernelCounters, type CounterDelta } from '../core/kernel-counters.js';
import { type Summary3, summary3 } from './latency-summary.js';
import { diagnose, type Diagnosis } from '../analysis/diagnosis.js';
import { startServerChild } from './server-child.js';
import { LatencyStats } from '../analysis/stats.js';

// `mailmigrate bench storm` (issue 8): K clients connect at the same instant to the embedded server, started with a
// given listen backlog, while its event loop is blocked (a busy-wait in the child: "the server busy for a moment").
// The kernel completes handshakes into the accept queue until it holds backlog + 1 connections; every later SYN is
// dropped (ListenOverflows) and retransmitted on the SYN schedule — here 1, 2, 3, 4, 5, 7, 11 s (docs/measurements.md). With a
// backlog ≥ K the queue holds them all and connects take well under a second even while the server is busy.
// Connect time = net.connect() → 'connect'; first reply = net.connect() → first byte of the greeting.
//
// Measured here (300 clients, server busy 1 s): backlog 8 → 291 connects at 1.02–1.05 s and 273 clients that
// "connected" but never got a greeting. The kernel counters explain them: SyncookiesSent rose by exactly 273. Once the
// SYN queue held `backlog` requests the kernel answered with SYN cookies (no state kept); the client's final ACK then
// met a full accept queue and was dropped, so the client believes it is connected while the server never saw it —
// and an IMAP client, which waits for the server to speak first, waits until its own timeout. Such clients are
// counted as `hungAfterConnect` and their first reply is recorded at the timeout (a lower bound, `firstReplyCensored`).

export interface StormOptions {
  readonly clients: number;
  /** One run per backlog, in order. */
  readonly backlogs: readonly number[];
  /** How long the server's event loop is blocked while the clients connect (default 1000 ms). */
  readonly busyMs?: number;
  /** Bound per run: clients without a greeting by then count as failed (default 15 s). */
  readonly timeoutMs?: number;
}

export interface StormRun {
  readonly backlog: number;
  /** min(backlog, net.core.somaxconn): what the kernel actually uses. */
  readonly effectiveBacklog: number;
  readonly clients: number;
  readonly busyMs: number;
  readonly connected: number;
  readonly replied: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly connectMs: Summary3;
  readonly firstReplyMs: Summary3;
  /** Connects slower than 900 ms: each one waited for at least one SYN retransmit. */
  readonly slowConnects: number;
  /** Connected, then no greeting before the timeout: SYN-cookie handshakes whose last ACK the full queue dropped. */
  readonly hungAfterConnect: number;
  /** First replies recorded at the timeout because none came (included in firstReplyMs as a lower bound). */
  readonly firstReplyCensored: number;
  readonly syncookiesSent: number | undefined;
  /** What the numbers mean, in words. */
  readonly notes: string[];
  readonly listenOverflows: number | undefined;
  readonly listenDrops: number | undefined;
  readonly synRetrans: number | undefined;
  readonly counters: CounterDelta | undefined;
  readonly diagnosis: Diagnosis[];
}

export interface StormResult {
  readonly runs: StormRun[];
  readonly somaxconn: number | undefined;
}

const SLOW_CONNECT_MS = 900;

export function readSomaxconn(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** One client: its connect time, its first-reply time, or why it failed. */
function stormClient(host: string, port: number, timeoutMs: number): Promise<{ connectMs?: number; firstReplyMs?: number; error?: string }> {
  return new Promise((resolve) => {
    const start = systemClock.now();
    let connectMs: number | undefined;
    let done = false;
    const s = net.connect({ host, port });
    const finish = (r: { connectMs?: number; firstReplyMs?: number; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // RST (SO_LINGER {1,0}): hundreds of FIN closes would leave TIME_WAIT sockets behind for the next run.
      if (!s.destroyed) s.resetAndDestroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ connectMs, error: connectMs === undefined ? 'connect-timeout' : 'reply-timeout' }), timeoutMs);
    s.once('connect', () => (connectMs = systemClock.now() - start));
    s.once('data', () => finish({ connectMs, firstReplyMs: systemClock.now() - start }));
    s.on('error', (err: NodeJS.ErrnoException) => finish({ connectMs, error: err.code ?? 'error' }));
    s.on('close', () => finish({ connectMs, error: 'closed' }));
  });
}

export async function runStormOnce(clients: number, backlog: number, busyMs: number, timeoutMs: number): Promise<StormRun> {
  const server = await startServerChild({ backlog, noDelay: true });
  try {
    const before = readKernelCounters();
    await server.busy(busyMs);
    // All K connects in one tick: the "same instant" of the issue, while the server cannot accept.
    const results = await Promise.all(Array.from({ length: clients }, () => stormClient(server.host, server.port, timeoutMs)));
    await server.whenIdle();
    const after = readKernelCounters();
    const counters = before && after ? diffCounters(before, after) : undefined;
    const connect = new LatencyStats();
    const reply = new LatencyStats();
    const errors: Record<string, number> = {};
    const connectTimes: number[] = [];
    let connected = 0;
    let replied = 0;
    let hung = 0;
    for (const r of results) {
      if (r.connectMs !== undefined) {
        connected++;
        connect.record(r.connectMs);
        connectTimes.push(r.connectMs);
      }
      if (r.firstReplyMs !== undefined) {
        replied++;
        reply.record(r.firstReplyMs);
      }
      if (r.error === 'reply-timeout') {
        hung++;
        reply.record(timeoutMs);
      }
      if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    }
    const somaxconn = readSomaxconn();
    const notes: string[] = [];
    const cookies = counters?.SyncookiesSent;
    if (hung > 0) {
      notes.push(
        `${hung} of ${clients} clients connected but got no greeting within ${timeoutMs / 1000} s` +
          (cookies !== undefined ? ` (SyncookiesSent rose by ${cookies})` : '') +
          ': the handshake completed with a SYN cookie and its final ACK was dropped at the full accept queue, so the ' +
          'server never saw the connection; an IMAP client waits for a greeting that never comes',
      );
    }
    return {
      backlog,
      effectiveBacklog: somaxconn === undefined ? backlog : Math.min(backlog, somaxconn),
      clients, busyMs, connected, replied, failed: clients - replied, errors,
      connectMs: summary3(connect),
      firstReplyMs: summary3(reply),
      slowConnects: connectTimes.filter((ms) => ms >= SLOW_CONNECT_MS).length,
      hungAfterConnect: hung,
      firstReplyCensored: hung,
      syncookiesSent: cookies,
      notes,
      listenOverflows: counters?.ListenOverflows,
      listenDrops: counters?.ListenDrops,
      synRetrans: counters?.TCPSynRetrans,
      counters,
      diagnosis: diagnose({ connectMs: connectTimes, ...(counters ? { counters } : {}) }),
    };
  } finally {
    await server.close();
  }
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  if (!Number.isInteger(o.clients) || o.clients < 1) throw new ConfigError('--clients', 'must be a whole number ≥ 1');
  if (o.backlogs.length === 0 || o.backlogs.some((b) => !Number.isInteger(b) || b < 1)) {
    throw new ConfigError('--backlog', 'must be whole numbers ≥ 1');
  }
  const busyMs = o.busyMs ?? 1000;
  if (!(busyMs >= 0 && busyMs <= 60_000)) throw new ConfigError('--busy', 'must be 0..60000 ms');
  const timeoutMs = o.timeoutMs ?? 15_000;
  const runs: StormRun[] = [];
  for (const backlog of o.backlogs) runs.push(await runStormOnce(o.clients, backlog, busyMs, timeoutMs));
  return { runs, somaxconn: readSomaxconn() };
}
