import {
  AbortedError,
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
import { classifyResponse } from '../imap/response-policy.js';
import type { Capabilities } from '../imap/capabilities.js';
import { type AppendResult, Connection, type ConnectionOptions } from './connection.js';
import { ThrottleGate } from './throttle-gate.js';

// Spreads APPEND work over C connections (after undici's Pool over Clients): each command goes to the
// least-loaded open connection; callers wait on whenWritable() so that what is held in memory is bounded by
// what the pool holds: at most C × depth batches AND at most maxBytesInFlight bytes of messages (one batch is
// always admitted, however large). A batch counts from append() until its outcome, so a retry sleeping on the
// server's backoff still counts (issue 13: uncounted sleepers let 5,001 appends out while the server asked for
// 2 s of quiet).
//
// Throttling is per account, so the gate is pool-wide: when the server asks for quiet (a backoff time, a
// throttling text, UNAVAILABLE/INUSE) every connection is held — no new command starts anywhere — and
// whenWritable() does not resolve, so the caller stops reading its source, until the backoff ends. Every sleep
// (backoff, reconnect) ends early when the caller's AbortSignal fires (SIGINT). The pool also owns the recovery rules that need more than one
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
  | { type: 'batch-split'; mailbox: string; size: number; reason: string }
  /** The server sent [ALERT] text (RFC 3501 §7.1: it must be shown to the user). */
  | { type: 'alert'; connectionId: number; text: string }
  /** A timing observer (--trace writer, onRecord) threw; the command settled regardless. Sent once per pool. */
  | { type: 'observer-failed'; reason: string };

/** What the pool needs of a connection; Connection in production, a fake in the pool's unit tests. */
export interface PoolConnection {
  readonly id: number;
  readonly capabilities: Capabilities;
  readonly closed: boolean;
  readonly bye: string | undefined;
  readonly inFlight: number;
  readonly load: number;
  readonly depth: number;
  readonly connectMs: number;
  append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult>;
  create(mailbox: string): Promise<void>;
  confirmMailbox(mailbox: string): void;
  /** Holds (true) or releases new commands on this connection (the throttle gate). */
  hold(held: boolean): void;
  close(): Promise<void>;
  destroy(err: MailmigrateError): void;
  whenClosed(): Promise<void>;
}

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
  /**
   * Bytes of messages the pool may hold (submitted, not yet settled) before whenWritable() waits. Default 16 MiB:
   * far above the bandwidth-delay product of any link an import runs over (100 Mbit/s × 50 ms = 625 KB), so it
   * costs no throughput, while by count alone (2 connections × depth 2 × batches of 50) 1.5 MB messages could hold
   * 300 MB. One batch is always admitted whatever its size, so a single large message still goes. Measured
   * (docs/pool-memory.md): 200 × 1.5 MB messages into Dovecot, peak RSS 314 → 241 MB.
   */
  readonly maxBytesInFlight?: number;
  /** Ends backoff and reconnect sleeps early (SIGINT); sleeping batches then fail with E_ABORTED, never sent. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Folders known to exist on the server (from LIST, or created by the caller): their first batch may be
   * pipelined at once instead of probing alone. The same as calling markFolderKnown() for each.
   */
  readonly knownFolders?: Iterable<string>;
  /** Opens one connection; tests pass fakes. Default Connection.open. */
  readonly connect?: (options: ConnectionOptions) => Promise<PoolConnection>;
}

const DEFAULT_MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/** Sleeps ms; resolves false at once (and early) when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

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
  private readonly conns: PoolConnection[] = [];
  private target: number;
  private closing = false;
  private readonly writableWaiters: Array<() => void> = [];
  private readonly creating = new Map<string, Promise<void>>();
  /** Mailboxes an APPEND has succeeded in: commands to them go freely on every connection. */
  private readonly confirmed = new Set<string>();
  /** The one APPEND probing a not-yet-confirmed mailbox; others wait for it instead of all drawing TRYCREATE. */
  private readonly probing = new Map<string, Promise<unknown>>();
  /** Batches submitted through append() and not yet settled (sending, queued, waiting for a probe, sleeping). */
  private active = 0;
  /** Their bytes. */
  private activeBytes = 0;
  /** Holds every connection (and the caller) while the server asks for quiet. */
  private readonly gate = new ThrottleGate((quiet) => {
    for (const c of this.conns) c.hold(quiet);
    if (!quiet) this.wakeWriters();
  });
  private observerFailed = false;
  private reconnecting = 0;
  private connectWaiters: Array<() => void> = [];
  /** Learned limit: the server refused connection limit+1. */
  connectionCap: number | undefined;
  readonly stats = { connects: 0, reconnects: 0, throttled: 0, splits: 0, creates: 0 };

  private readonly connectionOptions: ConnectionOptions;

  private constructor(readonly options: PoolOptions) {
    this.target = Math.max(1, options.connections ?? 1);
    for (const f of options.knownFolders ?? []) this.confirmed.add(f);
    this.connectionOptions = {
      ...options,
      onAlert: (text, connectionId) => {
        options.onAlert?.(text, connectionId);
        this.emit({ type: 'alert', connectionId, text });
      },
      onObserverError: (err, r) => {
        options.onObserverError?.(err, r);
        if (this.observerFailed) return;
        this.observerFailed = true;
        this.emit({ type: 'observer-failed', reason: toMailmigrateError(err).message });
      },
    };
    options.signal?.addEventListener('abort', () => this.onAbort(), { once: true });
  }

  private openConnection(): Promise<PoolConnection> {
    return (this.options.connect ?? Connection.open)(this.connectionOptions);
  }

  /** Events go to the caller's handler, guarded: a throwing handler cannot break recovery. */
  private emit(e: PoolEvent): void {
    try {
      this.options.onEvent?.(e);
    } catch {
      // The caller's event handler failed; the pool's work goes on.
    }
  }

  /** Opens the first connection (its failure is the caller's: bad login, refused…) and then the rest. */
  static async open(options: PoolOptions): Promise<Pool> {
    const pool = new Pool(options);
    pool.adopt(await pool.openConnection());
    const rest = await Promise.allSettled(Array.from({ length: pool.target - 1 }, () => pool.openConnection()));
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
  /** Batches the pool holds: in flight, queued, waiting for a probe or sleeping on a backoff. */
  get load(): number {
    return this.active;
  }
  /** Bytes of the messages in those batches. */
  get loadBytes(): number {
    return this.activeBytes;
  }
  /** True while the server's requested quiet lasts: nothing is sent on any connection. */
  get throttled(): boolean {
    return this.gate.quiet;
  }

  /**
   * The folder exists on the server (the caller listed or created it): batches to it are pipelined at once on
   * every connection instead of the first one probing alone for NO [TRYCREATE].
   */
  markFolderKnown(path: string): void {
    this.confirm(path);
  }
  /** How many commands may be outstanding before callers are asked to wait. */
  get capacity(): number {
    let n = 0;
    for (const c of this.conns) n += c.depth;
    return Math.max(1, n);
  }

  /**
   * Resolves when another batch can be submitted: below capacity in batches and in bytes, and the server is not
   * asking for quiet. The caller awaits it before reading more of its source. Resolves at once when closing or
   * aborted, so the caller's loop can see why and stop.
   */
  whenWritable(): Promise<void> {
    if (this.writable()) return Promise.resolve();
    return new Promise((r) => this.writableWaiters.push(r));
  }

  private writable(): boolean {
    if (this.closing || this.options.signal?.aborted) return true;
    if (this.throttled) return false;
    if (this.active === 0) return true;
    return this.active < this.capacity && this.activeBytes < (this.options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT);
  }

  private wakeWriters(): void {
    while (this.writableWaiters.length && this.writable()) this.writableWaiters.shift()!();
  }

  /** Resolves when the server's requested quiet has passed (at once when not throttled, aborted or closing). */
  private afterQuiet(): Promise<void> {
    if (this.closing || this.options.signal?.aborted) return Promise.resolve();
    return this.gate.whenOpen();
  }

  private onAbort(): void {
    // Sleepers end early; connections are released so in-flight work and LOGOUT can finish.
    this.gate.open();
    this.wakeWriters();
    for (const w of this.connectWaiters.splice(0)) w();
  }

  private adopt(c: PoolConnection): void {
    this.conns.push(c);
    if (this.throttled) c.hold(true);
    // A reconnected (or late) connection must know the folders already confirmed, or it would probe them again.
    for (const f of this.confirmed) c.confirmMailbox(f);
    this.stats.connects++;
    this.emit({ type: 'connected', connectionId: c.id, connectMs: c.connectMs, open: this.conns.length });
    for (const w of this.connectWaiters.splice(0)) w();
    void c.whenClosed().then(() => this.onClosed(c));
  }

  private onOpenFailure(err: MailmigrateError): void {
    if (isConnectionCap(err)) {
      this.connectionCap = this.conns.length;
      this.target = Math.max(1, this.conns.length);
      this.emit({ type: 'connection-cap', limit: this.conns.length, reason: err.message });
    } else {
      this.target = Math.max(1, this.conns.length);
      this.emit({ type: 'reconnect-failed', attempt: 0, reason: err.message, delayMs: 0 });
    }
  }

  private onClosed(c: PoolConnection): void {
    const i = this.conns.indexOf(c);
    if (i >= 0) this.conns.splice(i, 1);
    if (this.closing) return;
    this.emit({ type: 'disconnected', connectionId: c.id, reason: c.bye ?? 'closed', inFlight: c.inFlight });
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
          const c = await this.openConnection();
          if (this.closing) return void c.destroy(toMailmigrateError(new Error('pool closing')));
          this.stats.reconnects++;
          this.adopt(c);
          return;
        } catch (e) {
          const err = toMailmigrateError(e);
          if (err instanceof AuthError || err instanceof ConfigError || err.retry === 'never' || Date.now() >= giveUpAt) {
            this.emit({ type: 'reconnect-failed', attempt, reason: err.message, delayMs: 0 });
            if (this.conns.length === 0) this.failWaiters();
            return;
          }
          if (isConnectionCap(err) && this.conns.length > 0) {
            this.onOpenFailure(err);
            return;
          }
          // Full jitter (AWS architecture blog): spreads reconnects of many connections in time.
          const delayMs = Math.round(Math.random() * Math.min(max, min * 2 ** attempt));
          this.emit({ type: 'reconnect-failed', attempt, reason: err.message, delayMs });
          if (!(await sleep(delayMs, this.options.signal))) {
            if (this.conns.length === 0) this.failWaiters();
            return;
          }
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
  private async pick(): Promise<PoolConnection> {
    for (;;) {
      let best: PoolConnection | undefined;
      for (const c of this.conns) if (!c.closed && (!best || c.load < best.load)) best = c;
      if (best) return best;
      if (this.deadError || this.closing || this.options.signal?.aborted) throw this.deadError ?? new ConnectError('E_POOL_CLOSED', 'pool closed', 'never');
      void this.refill();
      await new Promise<void>((r) => this.connectWaiters.push(r));
    }
  }

  /**
   * Appends `messages` to `mailbox` (one MULTIAPPEND when several and the server offers it) and returns one
   * outcome per message, in order. Never rejects for a per-message problem; rejects only when no connection
   * can be had at all.
   */
  async append(mailbox: string, messages: readonly AppendMessage[]): Promise<MessageOutcome[]> {
    let bytes = 0;
    for (const m of messages) bytes += m.data.length;
    this.active++;
    this.activeBytes += bytes;
    try {
      return await this.appendFirst(mailbox, messages);
    } finally {
      this.active--;
      this.activeBytes -= bytes;
      this.wakeWriters();
    }
  }

  private async appendFirst(mailbox: string, messages: readonly AppendMessage[]): Promise<MessageOutcome[]> {
    const attempt = 0;
    // The first APPEND into a mailbox not yet seen to exist goes alone, pool-wide (mbsync's rule, lifted from
    // one connection to all): if it draws NO [TRYCREATE], one CREATE follows and nothing else was refused.
    for (;;) {
      const probe = this.probing.get(mailbox);
      if (probe) {
        // Wait for the probe even if a CREATE already confirmed the mailbox, so messages keep their order.
        await probe.catch(() => undefined);
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
    // Nothing new goes out while the server asks for quiet (the connections are held too; this keeps the
    // batches here, counted, instead of queued inside a connection).
    await this.afterQuiet();
    if (this.options.signal?.aborted) return messages.map(() => ({ status: 'failed', error: abortedError() }));
    let conn: PoolConnection;
    try {
      conn = await this.pick();
    } catch (e) {
      if (this.options.signal?.aborted) return messages.map(() => ({ status: 'failed', error: abortedError() }));
      throw e;
    }
    try {
      const res = await conn.append(mailbox, messages);
      return messages.map((_, i) => ({ status: 'appended', uid: res.uids?.[i], uidValidity: res.uidValidity }));
    } catch (e) {
      const err = toMailmigrateError(e);
      return this.recover(mailbox, messages, attempt, err);
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
        const policy = classifyResponse(err.status, err.responseCode, err.text);
        const delayMs = policy.backoffMs ?? Math.min(30_000, 250 * 2 ** attempt);
        if (policy.throttle) {
          // The account is throttled, not this message: quiet on every connection (see the header comment).
          this.stats.throttled++;
          this.emit({ type: 'throttled', delayMs, reason: err.message });
          this.gate.hold(delayMs);
          await this.afterQuiet();
        } else if (!(await sleep(delayMs, this.options.signal))) {
          return messages.map(() => ({ status: 'failed', error: abortedError() }));
        }
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
    this.emit({ type: 'batch-split', mailbox, size: messages.length, reason });
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
        this.emit({ type: 'mailbox-created', mailbox });
      });
      p.catch(() => this.creating.delete(mailbox));
      this.creating.set(mailbox, p);
    }
    return p;
  }

  /** Waits for commands in flight, logs out every connection. */
  async close(): Promise<void> {
    this.closing = true;
    this.gate.open();
    this.wakeWriters();
    for (const w of this.connectWaiters.splice(0)) w();
    await Promise.all(this.conns.slice().map((c) => c.close()));
  }
}

/** A batch that was never sent because the run was interrupted during a backoff: safe to send in a later run. */
function abortedError(): MailmigrateError {
  return new AbortedError('not sent: interrupted while waiting for the server\'s backoff');
}
