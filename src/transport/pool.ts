import {
  ConnectError,
  type MailmigrateError,
  MailmigrateError as BaseError,
  ServerResponseError,
  isOutcomeUnknown,
  toMailmigrateError,
  AuthError,
  ConfigError,
} from '../core/errors.js';
import type { AppendMessage } from '../core/types.js';
import { parseBackoffMs } from '../imap/response-codes.js';
import { Connection, type ConnectionOptions } from './connection.js';

// Spreads APPEND work over C connections (after undici's Pool over Clients): each command goes to the
// least-loaded open connection; callers wait on whenWritable() so that what is held in memory is bounded by
// what is in flight (C × depth commands). The pool also owns the recovery rules that need more than one
// connection: reconnect with backoff, settle at the server's connection cap, retry never-sent commands elsewhere,
// create a mailbox on NO [TRYCREATE], back off when throttled, and split a refused MULTIAPPEND batch so that one
// bad message does not fail its neighbours (RFC 3502 makes the batch atomic, so a refusal says nothing of which).

export type MessageOutcome =
  | { readonly status: 'appended'; readonly uid: number | undefined; readonly uidValidity: number | undefined }
  | { readonly status: 'failed'; readonly error: MailmigrateError }
  /** Sent, but no tagged reply came: it may or may not be on the server. Check before sending again. */
  | { readonly status: 'unknown'; readonly error: MailmigrateError };

export type PoolEvent =
  | { type: 'connected'; connectionId: number; connectMs: number; open: number }
  | { type: 'disconnected'; connectionId: number; reason: string; inFlight: number }
  | { type: 'connection-cap'; limit: number; reason: string }
  | { type: 'reconnect-failed'; attempt: number; reason: string; delayMs: number }
  | { type: 'throttled'; delayMs: number; reason: string }
  | { type: 'mailbox-created'; mailbox: string }
  | { type: 'batch-split'; mailbox: string; size: number; reason: string };

export interface PoolOptions extends ConnectionOptions {
  /** Connections to open (the pool settles lower if the server refuses some). */
  readonly connections?: number;
  /** Retries of one command after throttling or transient refusals before giving up on it. */
  readonly maxRetries?: number;
  readonly onEvent?: (e: PoolEvent) => void;
  /** Reconnect backoff bounds (ms). */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * How long to keep trying to reconnect when every connection is gone before failing what is left (default 60 s):
   * long enough to ride out a server restart (Dovecot's takes 1–3 s here), short enough not to hang on a dead host.
   */
  readonly reconnectWindowMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Did the server (or its greeting/login) refuse us for having too many connections? */
function isConnectionCap(err: MailmigrateError): boolean {
  const text = err.message;
  return (
    (err instanceof ServerResponseError && err.responseCode === 'UNAVAILABLE') ||
    /\[UNAVAILABLE\]|maximum number of connections|too many (simultaneous )?connections|connection limit/i.test(text) ||
    err.code === 'E_REFUSED_BY_SERVER'
  );
}

export class Pool {
  private readonly conns: Connection[] = [];
  private target: number;
  private closing = false;
  private readonly writableWaiters: Array<() => void> = [];
  private readonly creating = new Map<string, Promise<void>>();
  /** Mailboxes an APPEND has succeeded in: commands to them go freely on every connection. */
  private readonly confirmed = new Set<string>();
  /** The one APPEND probing a not-yet-confirmed mailbox; others wait for it instead of all drawing TRYCREATE. */
  private readonly probing = new Map<string, Promise<unknown>>();
  /** Appends waiting for a probe: they count as load so callers' backpressure still holds. */
  private waiting = 0;
  private reconnecting = 0;
  private connectWaiters: Array<() => void> = [];
  /** Learned limit: the server refused connection limit+1. */
  connectionCap: number | undefined;
  readonly stats = { connects: 0, reconnects: 0, throttled: 0, splits: 0, creates: 0 };

  private constructor(readonly options: PoolOptions) {
    this.target = Math.max(1, options.connections ?? 1);
  }

  /** Opens the first connection (its failure is the caller's: bad login, refused…) and then the rest. */
  static async open(options: PoolOptions): Promise<Pool> {
    const pool = new Pool(options);
    pool.adopt(await Connection.open(options));
    const rest = await Promise.allSettled(Array.from({ length: pool.target - 1 }, () => Connection.open(options)));
    for (const r of rest) {
      if (r.status === 'fulfilled') pool.adopt(r.value);
      else pool.onOpenFailure(toMailmigrateError(r.reason));
    }
    return pool;
  }

  get size(): number {
    return this.conns.length;
  }
  get capabilities() {
    return this.conns[0]?.capabilities;
  }
  /** Commands in flight or queued across all connections. */
  get load(): number {
    let n = this.waiting;
    for (const c of this.conns) n += c.load;
    return n;
  }
  /** How many commands may be outstanding before callers are asked to wait. */
  get capacity(): number {
    let n = 0;
    for (const c of this.conns) n += c.depth;
    return Math.max(1, n);
  }

  /** Resolves when another command can be submitted without growing queues beyond capacity. */
  whenWritable(): Promise<void> {
    if (this.load < this.capacity || this.closing) return Promise.resolve();
    return new Promise((r) => this.writableWaiters.push(r));
  }

  private wakeWriters(): void {
    while (this.writableWaiters.length && (this.load < this.capacity || this.closing)) this.writableWaiters.shift()!();
  }

  private adopt(c: Connection): void {
    this.conns.push(c);
    this.stats.connects++;
    this.options.onEvent?.({ type: 'connected', connectionId: c.id, connectMs: c.connectMs, open: this.conns.length });
    for (const w of this.connectWaiters.splice(0)) w();
    void c.whenClosed().then(() => this.onClosed(c));
  }

  private onOpenFailure(err: MailmigrateError): void {
    if (isConnectionCap(err)) {
      this.connectionCap = this.conns.length;
      this.target = Math.max(1, this.conns.length);
      this.options.onEvent?.({ type: 'connection-cap', limit: this.conns.length, reason: err.message });
    } else {
      this.target = Math.max(1, this.conns.length);
      this.options.onEvent?.({ type: 'reconnect-failed', attempt: 0, reason: err.message, delayMs: 0 });
    }
  }

  private onClosed(c: Connection): void {
    const i = this.conns.indexOf(c);
    if (i >= 0) this.conns.splice(i, 1);
    if (this.closing) return;
    this.options.onEvent?.({ type: 'disconnected', connectionId: c.id, reason: c.bye ?? 'closed', inFlight: c.inFlight });
    void this.refill();
  }

  /** Reopens connections up to the target, with exponential backoff; gives up after a bounded number of tries. */
  private async refill(): Promise<void> {
    if (this.reconnecting >= this.target - this.conns.length) return;
    this.reconnecting++;
    const min = this.options.backoffMinMs ?? 100;
    const max = this.options.backoffMaxMs ?? 10_000;
    const giveUpAt = Date.now() + (this.options.reconnectWindowMs ?? 60_000);
    try {
      for (let attempt = 1; !this.closing && this.conns.length < this.target; attempt++) {
        try {
          const c = await Connection.open(this.options);
          if (this.closing) return void c.destroy(toMailmigrateError(new Error('pool closing')));
          this.stats.reconnects++;
          this.adopt(c);
          return;
        } catch (e) {
          const err = toMailmigrateError(e);
          if (err instanceof AuthError || err instanceof ConfigError || err.retry === 'never' || Date.now() >= giveUpAt) {
            this.options.onEvent?.({ type: 'reconnect-failed', attempt, reason: err.message, delayMs: 0 });
            if (this.conns.length === 0) this.failWaiters();
            return;
          }
          if (isConnectionCap(err) && this.conns.length > 0) {
            this.onOpenFailure(err);
            return;
          }
          // Full jitter (AWS architecture blog): spreads reconnects of many connections in time.
          const delayMs = Math.round(Math.random() * Math.min(max, min * 2 ** attempt));
          this.options.onEvent?.({ type: 'reconnect-failed', attempt, reason: err.message, delayMs });
          await sleep(delayMs);
        }
      }
    } finally {
      this.reconnecting--;
    }
  }

  private deadError: MailmigrateError | undefined;
  private failWaiters(): void {
    this.deadError = new ConnectError('E_NO_CONNECTION', 'no connection to the server could be (re)opened', 'later');
    for (const w of this.connectWaiters.splice(0)) w();
  }

  /** The least-loaded open connection, waiting for a reconnect when none is open. */
  private async pick(): Promise<Connection> {
    for (;;) {
      let best: Connection | undefined;
      for (const c of this.conns) if (!c.closed && (!best || c.load < best.load)) best = c;
      if (best) return best;
      if (this.deadError || this.closing) throw this.deadError ?? new ConnectError('E_POOL_CLOSED', 'pool closed', 'never');
      void this.refill();
      await new Promise<void>((r) => this.connectWaiters.push(r));
    }
  }

  /**
   * Appends `messages` to `mailbox` (one MULTIAPPEND when several and the server offers it) and returns one
   * outcome per message, in order. Never rejects for a per-message problem; rejects only when no connection
   * can be had at all.
   */
  async append(mailbox: string, messages: readonly AppendMessage[], attempt = 0): Promise<MessageOutcome[]> {
    // The first APPEND into a mailbox not yet seen to exist goes alone, pool-wide (mbsync's rule, lifted from
    // one connection to all): if it draws NO [TRYCREATE], one CREATE follows and nothing else was refused.
    for (;;) {
      const probe = this.probing.get(mailbox);
      if (probe) {
        // Wait for the probe even if a CREATE already confirmed the mailbox, so messages keep their order.
        this.waiting++;
        await probe.catch(() => undefined);
        this.waiting--;
        continue; // the probe may have failed for its own reasons (a bad message): then this one probes next
      }
      if (this.confirmed.has(mailbox)) break;
      const p = this.appendNow(mailbox, messages, attempt);
      this.probing.set(mailbox, p);
      try {
        const out = await p;
        if (out.some((o) => o.status === 'appended')) this.confirm(mailbox);
        return out;
      } finally {
        this.probing.delete(mailbox);
        this.wakeWriters();
      }
    }
    return this.appendNow(mailbox, messages, attempt);
  }

  private confirm(mailbox: string): void {
    this.confirmed.add(mailbox);
    for (const c of this.conns) c.confirmMailbox(mailbox);
  }

  private async appendNow(mailbox: string, messages: readonly AppendMessage[], attempt: number): Promise<MessageOutcome[]> {
    const limit = this.capabilities?.appendLimit;
    if (limit !== undefined && messages.some((m) => m.data.length > limit)) {
      // APPENDLIMIT (RFC 7889): refuse locally rather than upload bytes the server has said it will reject.
      if (messages.length === 1) {
        return [{ status: 'failed', error: new BaseError('E_TOO_BIG', `message of ${messages[0]!.data.length} bytes exceeds the server's APPENDLIMIT of ${limit}`, 'never') }];
      }
      return this.splitAndAppend(mailbox, messages, attempt, 'over APPENDLIMIT');
    }
    if (messages.length > 1 && this.capabilities && !this.capabilities.multiappend) {
      return this.splitAndAppend(mailbox, messages, attempt, 'no MULTIAPPEND', true);
    }
    const conn = await this.pick();
    try {
      const res = await conn.append(mailbox, messages);
      return messages.map((_, i) => ({ status: 'appended', uid: res.uids?.[i], uidValidity: res.uidValidity }));
    } catch (e) {
      const err = toMailmigrateError(e);
      return this.recover(mailbox, messages, attempt, err);
    } finally {
      this.wakeWriters();
    }
  }

  private async recover(mailbox: string, messages: readonly AppendMessage[], attempt: number, err: MailmigrateError): Promise<MessageOutcome[]> {
    const maxRetries = this.options.maxRetries ?? 5;
    if (isOutcomeUnknown(err)) return messages.map(() => ({ status: 'unknown', error: err }));
    if (err instanceof ServerResponseError) {
      if (err.responseCode === 'TRYCREATE' && attempt < 2) {
        await this.createOnce(mailbox);
        return this.appendNow(mailbox, messages, attempt + 1);
      }
      if (err.retry === 'later' && attempt < maxRetries) {
        const delayMs = parseBackoffMs(err.text) ?? Math.min(30_000, 250 * 2 ** attempt);
        this.stats.throttled++;
        this.options.onEvent?.({ type: 'throttled', delayMs, reason: err.message });
        await sleep(delayMs);
        return this.appendNow(mailbox, messages, attempt + 1);
      }
      if (messages.length > 1) return this.splitAndAppend(mailbox, messages, attempt, err.message);
      return [{ status: 'failed', error: err }];
    }
    // Never sent (connection closed before its turn): safe to send again on another connection.
    if (err.retry !== 'never' && attempt < maxRetries) return this.appendNow(mailbox, messages, attempt + 1);
    return messages.map(() => ({ status: 'failed', error: err }));
  }

  /** Halves a batch and appends each half; recursion isolates a bad message in log2(B) steps. */
  private async splitAndAppend(mailbox: string, messages: readonly AppendMessage[], attempt: number, reason: string, singles = false): Promise<MessageOutcome[]> {
    this.stats.splits++;
    this.options.onEvent?.({ type: 'batch-split', mailbox, size: messages.length, reason });
    if (singles) return (await Promise.all(messages.map((m) => this.appendNow(mailbox, [m], attempt)))).flat();
    const mid = Math.ceil(messages.length / 2);
    const [a, b] = await Promise.all([
      this.appendNow(mailbox, messages.slice(0, mid), attempt),
      this.appendNow(mailbox, messages.slice(mid), attempt),
    ]);
    return [...a, ...b];
  }

  /** One CREATE per mailbox however many commands drew TRYCREATE at once. */
  private createOnce(mailbox: string): Promise<void> {
    let p = this.creating.get(mailbox);
    if (!p) {
      p = this.pick().then(async (c) => {
        await c.create(mailbox);
        this.confirm(mailbox);
        this.stats.creates++;
        this.options.onEvent?.({ type: 'mailbox-created', mailbox });
      });
      p.catch(() => this.creating.delete(mailbox));
      this.creating.set(mailbox, p);
    }
    return p;
  }

  /** Waits for commands in flight, logs out every connection. */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeWriters();
    for (const w of this.connectWaiters.splice(0)) w();
    await Promise.all(this.conns.slice().map((c) => c.close()));
  }
}
