// The two ways `bench connections` holds an authenticated IMAP session (see connections.ts for why two):
// - LeanSession: a net.Socket and a tiny state machine — greeting → `a LOGIN` → ready, then `n NOOP` on demand.
//   Replies are framed by the project's response reader (src/imap/response-reader.ts) with small bounds, so the
//   bench checks the server the same way the import does, and a hostile server cannot make it buffer without end.
//   An idle session keeps no reader: it is made when bytes arrive and dropped once the reply is complete, because
//   the reader's few arrays, on each of 10,000 held sessions, would be what the bench measures.
// - FullSession: the transport's own Connection, for comparison.
import net from 'node:net';
import { systemClock } from '../core/clock.js';
import { ConfigError, ConnectionClosedError } from '../core/errors.js';
import { type ResponseItem, ResponseReader } from '../imap/response-reader.js';
import type { Connection } from '../transport/connection.js';

/** Greeting, LOGIN and NOOP replies are short lines without literals; 64 KiB is far above any real one. */
const LEAN_LIMITS = { maxLineLength: 64 * 1024, maxLiteralSize: 64 * 1024, maxResponseSize: 256 * 1024 };

/** IMAP quoted string (RFC 3501 §4.3); the lean holder refuses what a quoted string cannot carry. */
export function quoteImap(s: string): string {
  if (/[\r\n\0]/.test(s) || /[^\x01-\x7f]/.test(s)) {
    throw new ConfigError('--user', 'the lean session holder sends LOGIN as quoted strings (7-bit, no CR/LF); use --holder connection');
  }
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface Timed {
  readonly connectMs: number;
  readonly loginMs: number;
}

/** What the bench is told about a held session. */
export interface HeldSessionEvents {
  onNoop(ms: number): void;
  onDrop(): void;
}

/** One held session, whichever holder. */
export interface HeldSession {
  noop(): void;
  close(): void;
}

export class LeanSession implements HeldSession {
  private reader: ResponseReader | undefined;
  private state: 'greeting' | 'login' | 'ready' | 'closed' = 'greeting';
  private noopAt = 0;
  private readonly start = systemClock.now();
  private connectedAt = 0;
  private readonly sock: net.Socket;

  constructor(
    target: { host: string; port: number; localAddress?: string | undefined },
    private readonly login: string,
    private readonly done: (err: string | undefined, t?: Timed) => void,
    private readonly events: HeldSessionEvents,
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
    this.reader = undefined;
    this.sock.destroy();
    if (wasReady) this.events.onDrop();
    else this.done(code);
  }

  private onData(chunk: Buffer): void {
    const reader = (this.reader ??= new ResponseReader(LEAN_LIMITS));
    let items: ResponseItem[];
    try {
      items = reader.push(chunk);
    } catch (err) {
      return this.fail(/longer than/.test((err as Error).message) ? 'line-too-long' : 'protocol-error');
    }
    for (const item of items) this.onItem(item);
    if (this.state === 'ready' && reader.pending === 0) this.reader = undefined;
  }

  private onItem(item: ResponseItem): void {
    if (this.state === 'greeting') {
      if (item.kind !== 'untagged') return;
      if (item.type === 'OK') {
        this.state = 'login';
        this.sock.write(`a LOGIN ${this.login}\r\n`);
      } else if (item.type === 'BYE') this.fail('bye');
    } else if (this.state === 'login') {
      if (item.kind !== 'tagged' || item.tag !== 'a') return;
      if (item.status === 'OK') {
        this.state = 'ready';
        const now = systemClock.now();
        this.done(undefined, { connectMs: this.connectedAt - this.start, loginMs: now - this.connectedAt });
      } else this.fail(item.code?.name === 'UNAVAILABLE' ? 'refused-cap' : 'login-refused');
    } else if (this.state === 'ready' && this.noopAt > 0 && item.kind === 'tagged' && item.tag === 'n') {
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
    this.reader = undefined;
    // RST instead of FIN (SO_LINGER {1,0}): 10,000 sessions closed with FIN would leave 10,000 TIME_WAIT sockets for
    // 60 s and skew whatever is measured next (the churn bench counts TIME_WAIT).
    this.sock.resetAndDestroy();
  }
}

export class FullSession implements HeldSession {
  private busy = false;
  private closing = false;
  constructor(
    private readonly conn: Connection,
    private readonly events: HeldSessionEvents,
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
