import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import { readEphemeralPortRange, readFdLimit } from '../core/kernel-counters.js';
import { Connection } from '../transport/connection.js';
import { LatencyStats } from '../analysis/stats.js';
import { countFds, loopbackSources, type Preflight, preflightConnections } from './connections-preflight.js';
import { FullSession, type HeldSession, LeanSession, quoteImap, type Timed } from './held-session.js';
import { type Summary3, summary3 } from './latency-summary.js';
import { startServerChild, type ServerChild } from './server-child.js';
import { getGc, type KernelSocketMemory, kernelSocketMemory, memorySnapshot } from './socket-memory.js';

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

// The parts: connections-preflight.ts (does N fit the fd and port limits), held-session.ts (the two holders),
// socket-memory.ts (what is measured before and after), latency-summary.ts (p50/p99/max).

export type Holder = 'lean' | 'connection';

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
    const before = memorySnapshot(gc);
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

    const after = memorySnapshot(gc);
    const serverAfter = await server?.stats();
    const per = (a: number, b: number): number => (established > 0 ? Math.round((b - a) / established) : 0);
    return {
      sessions: n, established, failed, errors, holder, establishMs,
      rssPerSessionBytes: per(before.rss, after.rss),
      heapPerSessionBytes: per(before.heapUsed, after.heapUsed),
      clientRssBytes: { before: before.rss, after: after.rss },
      serverRssPerSessionBytes: serverBefore && serverAfter ? per(serverBefore.rss, serverAfter.rss) : undefined,
      connectMs: summary3(connectStats),
      loginMs: summary3(loginStats),
      noops,
      noopMs: summary3(noopStats),
      dropped,
      kernel: kernelSocketMemory(before, after, established),
      preflight,
    };
  } finally {
    for (const s of sessions) s.close();
    await server?.close();
  }
}
