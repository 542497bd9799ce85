import net from 'node:net';
import { systemClock } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import { type ResponseItem, ResponseReader } from '../imap/response-reader.js';
import { countTimeWait, diffCounters, readKernelCounters } from '../core/kernel-counters.js';
import { type Summary3, summary3 } from './latency-summary.js';
import { diagnose, type Diagnosis } from '../analysis/diagnosis.js';
import { replyLine } from './reply-line.js';
import { startServerChild } from './server-child.js';
import { LatencyStats } from '../analysis/stats.js';

// `mailmigrate bench churn` (issue 8): the pattern of a 2012 report that saw 100 ms–2 s spikes — a new connection
// (connect, greeting, LOGIN, APPEND, LOGOUT) per message — against one persistent connection, optionally closing
// with SO_LINGER {1,0} (an RST: no TIME_WAIT left behind). docs/measurements.md: ≈ 4k tx/s per new connection vs 28k persistent
// in Node here, TIME_WAIT piling up by the thousand, EADDRNOTAVAIL once 28,232 ports per destination are used.
//
// The client is a raw net.Socket with the project's response reader, not the transport Connection: the point is what
// a connection costs the kernel and the server, and `resetAndDestroy()` needs the socket, which Connection keeps
// private. Messages go
// one at a time (no pipelining), as in the report. The server is the embedded one in a child process.

export type ChurnMode = 'new-connection' | 'new-connection-rst' | 'persistent';
export const CHURN_MODES: readonly ChurnMode[] = ['persistent', 'new-connection', 'new-connection-rst'];

export interface ChurnOptions {
  readonly messages: number;
  readonly modes?: readonly ChurnMode[];
  /** Message size in bytes (default 1024). */
  readonly size?: number;
  /** Stop a mode after this long and report what it did (default 60 s). */
  readonly durationMs?: number;
  /** Stop a mode after this many failed connects (EADDRNOTAVAIL and the like; default 20). */
  readonly maxErrors?: number;
}

export interface ChurnRun {
  readonly mode: ChurnMode;
  readonly messages: number;
  readonly attempted: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly eaddrnotavail: number;
  readonly connectionsOpened: number;
  readonly elapsedMs: number;
  readonly msgsPerSec: number;
  readonly latencyMs: Summary3;
  /** TIME_WAIT sockets to/from the server port just after the run (both ends: loopback). */
  readonly timeWait: number | undefined;
  readonly stoppedEarly: boolean;
  readonly diagnosis: Diagnosis[];
}

export interface ChurnResult {
  readonly runs: ChurnRun[];
}

const USER = 'test';
const PASSWORD = 'test';

/** Greeting, LOGIN, APPEND and LOGOUT replies are short lines without literals; 64 KiB is far above any real one. */
const RAW_LIMITS = { maxLineLength: 64 * 1024, maxLiteralSize: 64 * 1024, maxResponseSize: 256 * 1024 };

/**
 * A one-command-at-a-time raw IMAP client: enough for greeting, LOGIN, APPEND with LITERAL+, LOGOUT. Replies are
 * framed by the project's response reader (src/imap/response-reader.ts), so the bench reads the server as the import
 * does, within small bounds.
 */
class RawClient {
  private readonly reader = new ResponseReader(RAW_LIMITS);
  private waiter: { wants: (i: ResponseItem) => boolean; resolve: (i: ResponseItem) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private tagN = 0;

  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true);
    const fail = (err: Error): void => {
      this.failure ??= err;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.failure);
    };
    sock.on('data', (chunk: Buffer) => {
      let items: ResponseItem[];
      try {
        items = this.reader.push(chunk);
      } catch (err) {
        sock.destroy();
        return fail(Object.assign(err as Error, { code: 'protocol-error' }));
      }
      for (const item of items) {
        const w = this.waiter;
        if (w && w.wants(item)) {
          this.waiter = undefined;
          w.resolve(item);
        }
      }
    });
    sock.on('error', fail);
    sock.on('close', () => fail(Object.assign(new Error('connection closed'), { code: 'closed' })));
  }

  static open(host: string, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      const c = new RawClient(s);
      // The greeting is the first untagged response; waiting for it (not just 'connect') makes a connection usable.
      c.expect((i) => i.kind === 'untagged').then(
        (g) => (g.kind === 'untagged' && g.type === 'OK' ? resolve(c) : reject(Object.assign(new Error(replyLine(g)), { code: 'refused' }))),
        reject,
      );
    });
  }

  private expect(wants: (i: ResponseItem) => boolean): Promise<ResponseItem> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { wants, resolve, reject }));
  }

  async command(text: string, literal?: Buffer): Promise<void> {
    const tag = `c${++this.tagN}`;
    const p = this.expect((i) => i.kind === 'tagged' && i.tag === tag);
    // One write per command (coalesced): this bench is about connections, not Nagle.
    this.sock.write(literal ? Buffer.concat([Buffer.from(`${tag} ${text} {${literal.length}+}\r\n`), literal, Buffer.from('\r\n')]) : `${tag} ${text}\r\n`);
    const reply = await p;
    if (reply.kind !== 'tagged' || reply.status !== 'OK') throw Object.assign(new Error(replyLine(reply)), { code: 'not-ok' });
  }

  /** FIN close, or RST (SO_LINGER {1,0}: the socket skips TIME_WAIT). */
  close(rst: boolean): void {
    if (rst) this.sock.resetAndDestroy();
    else this.sock.destroy();
  }
}

function testMessage(size: number, i: number): Buffer {
  const head = `From: churn@example.test\r\nTo: test@example.test\r\nSubject: churn ${i}\r\nMessage-ID: <churn-${i}@mailmigrate.test>\r\n\r\n`;
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '\r\n');
}

async function runMode(mode: ChurnMode, o: Required<ChurnOptions>, host: string, port: number): Promise<ChurnRun> {
  const stats = new LatencyStats();
  const errors: Record<string, number> = {};
  let done = 0;
  let failed = 0;
  let opened = 0;
  let attempted = 0;
  const connectMs: number[] = [];
  const before = readKernelCounters();
  const twBefore = countTimeWait(port) ?? 0;
  const t0 = systemClock.now();
  const deadline = t0 + o.durationMs;
  const bad = (err: unknown): void => {
    failed++;
    const code = String((err as NodeJS.ErrnoException)?.code ?? 'error');
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const open = async (): Promise<RawClient> => {
    const t = systemClock.now();
    const c = await RawClient.open(host, port);
    opened++;
    connectMs.push(systemClock.now() - t);
    await c.command(`LOGIN ${USER} ${PASSWORD}`);
    return c;
  };
  let persistent: RawClient | undefined;
  try {
    if (mode === 'persistent') persistent = await open();
    for (let i = 0; i < o.messages && systemClock.now() < deadline && failed < o.maxErrors; i++) {
      attempted++;
      const msg = testMessage(o.size, i);
      const t = systemClock.now();
      try {
        if (persistent) {
          await persistent.command('APPEND INBOX', msg);
        } else {
          const c = await open();
          try {
            await c.command('APPEND INBOX', msg);
            await c.command('LOGOUT');
          } finally {
            c.close(mode === 'new-connection-rst');
          }
        }
        stats.record(systemClock.now() - t);
        done++;
      } catch (err) {
        bad(err);
      }
    }
  } catch (err) {
    bad(err);
  } finally {
    if (persistent) {
      await persistent.command('LOGOUT').catch(() => undefined);
      persistent.close(false);
    }
  }
  const elapsedMs = systemClock.now() - t0;
  // Give the last closes a moment to reach TIME_WAIT before counting.
  await new Promise((r) => setTimeout(r, 100));
  const tw = countTimeWait(port);
  const after = readKernelCounters();
  const counters = before && after ? diffCounters(before, after) : undefined;
  return {
    mode, messages: done, attempted, failed, errors,
    eaddrnotavail: errors['EADDRNOTAVAIL'] ?? 0,
    connectionsOpened: opened,
    elapsedMs,
    msgsPerSec: elapsedMs > 0 ? (done * 1000) / elapsedMs : 0,
    latencyMs: summary3(stats),
    timeWait: tw === undefined ? undefined : Math.max(0, tw - twBefore),
    stoppedEarly: attempted < o.messages,
    diagnosis: diagnose({ connectMs, connections: { opened, needed: 1 }, ...(counters ? { counters } : {}) }),
  };
}

export async function runChurn(options: ChurnOptions): Promise<ChurnResult> {
  const o: Required<ChurnOptions> = {
    messages: options.messages,
    modes: options.modes ?? CHURN_MODES,
    size: options.size ?? 1024,
    durationMs: options.durationMs ?? 60_000,
    maxErrors: options.maxErrors ?? 20,
  };
  if (!Number.isInteger(o.messages) || o.messages < 1) throw new ConfigError('--messages', 'must be a whole number ≥ 1');
  if (!Number.isInteger(o.size) || o.size < 200 || o.size > 16 * 1024 * 1024) throw new ConfigError('--size', 'must be 200..16777216 bytes');
  for (const m of o.modes) if (!CHURN_MODES.includes(m)) throw new ConfigError('--modes', `unknown mode "${m}" (${CHURN_MODES.join(', ')})`);
  // Each mode gets a fresh server on a fresh port, so TIME_WAIT counted by port belongs to that mode alone.
  const runs: ChurnRun[] = [];
  for (const mode of o.modes) {
    const server = await startServerChild({ noDelay: true });
    try {
      runs.push(await runMode(mode, o, server.host, server.port));
    } finally {
      await server.close();
    }
  }
  return { runs };
}
