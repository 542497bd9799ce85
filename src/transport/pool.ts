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
import type { TimingRecord } from './timing.js';

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
//
// Settings that change while running (issue 16: adapt to the server met). The pool, not the connection, keeps each
// connection at the current pipeline depth: a command is handed to a connection only while that connection holds
// fewer than `depth` commands (in flight or queued in it); otherwise it waits here, counted, never sent. Lowering the
// depth therefore lets what is in flight finish and sends nothing new until a connection is below the new depth;
// raising it (up to maxPipelineDepth, the depth connections were opened with) lets waiting commands go at once.
// Connections per folder limit how many connections may have APPENDs into one folder at the same time (servers
// that lock a folder per APPEND, Courier: 0.9–4 s waits). Fewer connections retire idle ones with LOGOUT once
// they hold nothing; more are opened like reconnects. A smaller batch size splits submitted batches; a larger one
// is for the caller to read (batchSize) when it builds the next batch. No command is dropped, sent twice or
// settled twice by any of this: the only thing that changes is which connection a not-yet-sent command goes to,
// and when.

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
  /** Settings changed while running (reconfigure), each with the reason the caller gave. */
  | { type: 'reconfigured'; changes: ReadonlyArray<{ setting: string; from: unknown; to: unknown }> }
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

/** One APPEND the pool sent, once it settled: what an adaptation controller learns folder-lock waits from. */
export interface AppendSample {
  readonly mailbox: string;
  readonly connectionId: number;
  /** Connections with an APPEND into this mailbox in flight when this one was handed out (itself included). */
  readonly connectionsInFolder: number;
  readonly messages: number;
  readonly bytes: number;
  /** The command's timing record (undefined when it failed before one was written). */
  readonly record: TimingRecord | undefined;
  readonly ok: boolean;
}

/**
 * Watches the pool's work and may reconfigure it (the adaptation controller, src/migrate/adaptive-run.ts). Called
 * guarded: an observer that throws is reported once ('observer-failed') and the pool's work goes on.
 */
export interface PoolObserver {
  /** The pool is open (its first connections are up): keep it to read its settings and reconfigure it. */
  attached?(pool: Pool): void;
  /** Every timing record of every command (APPEND and the connection's own: CAPABILITY, LOGIN …). */
  record?(r: TimingRecord): void;
  appendSettled?(s: AppendSample): void;
}

/** What reconfigure() may change while the pool runs. */
export interface PoolSettings {
  readonly pipelineDepth: number;
  readonly connections: number;
  /** undefined = no limit. */
  readonly connectionsPerFolder: number | undefined;
  /** Largest batch the pool sends as one command (larger submitted batches are split); undefined = as submitted. */
  readonly batch: number | undefined;
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
  /**
   * The depth connections are opened with, so reconfigure() can raise the pool's depth up to it (default:
   * pipelineDepth). The pool keeps each connection at its current depth whatever this says.
   */
  readonly maxPipelineDepth?: number;
  /** Connections that may append into one folder at the same time (default: no limit). */
  readonly connectionsPerFolder?: number;
  readonly observer?: PoolObserver;
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
  /**
   * Current pipeline depth: commands a connection may hold (in flight or queued in it) before the next waits here.
   * undefined (no pipelineDepth given): each connection's own depth.
   */
  private depthNow: number | undefined;
  private perFolder: number | undefined;
  private batchLimit: number | undefined;
  /** APPENDs in flight per mailbox, per connection (for connections per folder and the folder-lock samples). */
  private readonly inFolder = new Map<string, Map<PoolConnection, number>>();
  /** Commands waiting for a connection below the current depth (or allowed into their folder). */
  private slotWaiters: Array<() => void> = [];
  /** Connections being retired after the connection count was lowered: nothing new is sent on them. */
  private readonly retiring = new Set<PoolConnection>();
  /** APPENDs the pool handed to each connection (claimed in pick()) and not yet settled. */
  private readonly handed = new Map<PoolConnection, number>();
  private reconnecting = 0;
  private connectWaiters: Array<() => void> = [];
  /** Learned limit: the server refused connection limit+1. */
  connectionCap: number | undefined;
  readonly stats = { connects: 0, reconnects: 0, throttled: 0, splits: 0, creates: 0 };

  private readonly connectionOptions: ConnectionOptions;

  private constructor(readonly options: PoolOptions) {
    this.target = Math.max(1, options.connections ?? 1);
    this.depthNow = options.pipelineDepth === undefined ? undefined : Math.max(1, options.pipelineDepth);
    this.perFolder = options.connectionsPerFolder === undefined ? undefined : Math.max(1, options.connectionsPerFolder);
    for (const f of options.knownFolders ?? []) this.confirmed.add(f);
    this.connectionOptions = {
      ...options,
      ...(options.pipelineDepth !== undefined || options.maxPipelineDepth !== undefined
        ? { pipelineDepth: Math.max(options.pipelineDepth ?? 1, options.maxPipelineDepth ?? 0) }
        : {}),
      onRecord: (r) => {
        // The caller's observer first (as before); a throw from either reaches the queue's guard (onObserverError).
        options.onRecord?.(r);
        options.observer?.record?.(r);
      },
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

  /** Calls the observer, guarded: a throwing observer is reported once and the pool's work goes on. */
  private observe(call: (o: PoolObserver) => void): void {
    const o = this.options.observer;
    if (!o) return;
    try {
      call(o);
    } catch (err) {
      if (this.observerFailed) return;
      this.observerFailed = true;
      this.emit({ type: 'observer-failed', reason: toMailmigrateError(err).message });
    }
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
    pool.observe((o) => o.attached?.(pool));
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
    for (const c of this.conns) if (!this.retiring.has(c)) n += this.depthOf(c);
    return Math.max(1, n);
  }

  /** The depth a connection is kept at now. */
  private depthOf(c: PoolConnection): number {
    return Math.max(1, Math.min(c.depth, this.depthNow ?? c.depth));
  }

  /** The settings in force now (they change through reconfigure()). */
  get settings(): PoolSettings {
    const depth = this.depthNow ?? this.conns[0]?.depth ?? 1;
    return { pipelineDepth: depth, connections: this.target, connectionsPerFolder: this.perFolder, batch: this.batchLimit };
  }

  /** The batch size callers should build next batches with, when one was set (reconfigure); else undefined. */
  get batchSize(): number | undefined {
    return this.batchLimit;
  }

  /** TCP (and implicit TLS) connect time of each open connection, ms: each is at least one round trip. */
  get connectTimes(): number[] {
    return this.conns.map((c) => c.connectMs);
  }

  /**
   * Changes settings while running. Safe at any moment: commands in flight finish where they are; only commands
   * not yet handed to a connection are affected (see the header comment). The depth is bounded by the depth the
   * connections were opened with (maxPipelineDepth); connections by the server's cap once learned.
   */
  reconfigure(change: Partial<PoolSettings>): PoolSettings {
    const before = this.settings;
    if (change.pipelineDepth !== undefined) {
      const max = Math.max(this.options.maxPipelineDepth ?? 0, this.options.pipelineDepth ?? 1, 1);
      this.depthNow = Math.min(max, Math.max(1, Math.floor(change.pipelineDepth)));
    }
    if ('connectionsPerFolder' in change) {
      this.perFolder = change.connectionsPerFolder === undefined ? undefined : Math.max(1, Math.floor(change.connectionsPerFolder));
    }
    if ('batch' in change) this.batchLimit = change.batch === undefined ? undefined : Math.max(1, Math.floor(change.batch));
    if (change.connections !== undefined) this.setConnections(change.connections);
    const after = this.settings;
    const changes = (Object.keys(after) as Array<keyof PoolSettings>)
      .filter((k) => before[k] !== after[k])
      .map((k) => ({ setting: k, from: before[k], to: after[k] }));
    if (changes.length) this.emit({ type: 'reconfigured', changes });
    this.wakeSlots();
    this.wakeWriters();
    return after;
  }

  private setConnections(n: number): void {
    const want = Math.max(1, Math.min(Math.floor(n), this.connectionCap ?? Infinity));
    // Retiring ones count as gone; bring back the newest first if more are wanted again.
    for (const c of [...this.retiring].reverse()) {
      if (this.conns.length - this.retiring.size >= want) break;
      this.retiring.delete(c);
    }
    this.target = want;
    const usable = this.conns.filter((c) => !c.closed && !this.retiring.has(c));
    if (usable.length > want) {
      // Retire the surplus (the newest first); each logs out once it holds nothing.
      for (const c of usable.slice(want).reverse()) {
        this.retiring.add(c);
        this.retireIfIdle(c);
      }
    } else {
      for (let i = usable.length + this.reconnecting; i < want; i++) void this.refill();
    }
  }

  private retireIfIdle(c: PoolConnection): void {
    if (!this.retiring.has(c) || this.loadOf(c) > 0 || this.closing) return;
    // Its LOGOUT is exclusive (waits for nothing: the connection holds nothing). onClosed() removes it without
    // reopening, since the target no longer counts it.
    void c.close().catch(() => undefined);
  }

  private wakeSlots(): void {
    for (const w of this.slotWaiters.splice(0)) w();
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
    this.wakeSlots();
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
    this.wakeSlots();
    this.wakeWriters();
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
    this.wakeSlots();
    // Retired on purpose (fewer connections): not a loss to report or reopen. Had it died with work in it, that work
    // failed through the connection's own paths (unknown outcome or never sent) like anywhere else.
    if (this.retiring.delete(c)) return;
    if (this.closing) return;
    this.emit({ type: 'disconnected', connectionId: c.id, reason: c.bye ?? 'closed', inFlight: c.inFlight });
    void this.refill();
  }

  /** Reopens connections up to the target, with exponential backoff; gives up after a bounded number of tries. */
  private async refill(): Promise<void> {
    if (this.reconnecting >= this.target - (this.conns.length - this.retiring.size)) return;
    this.reconnecting++;
    const min = this.options.backoffMinMs ?? 100;
    const max = this.options.backoffMaxMs ?? 10_000;
    const giveUpAt = Date.now() + (this.options.reconnectWindowMs ?? 60_000);
    try {
      for (let attempt = 1; !this.closing && this.conns.length - this.retiring.size < this.target; attempt++) {
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

  /**
   * The least-loaded open connection, waiting for a reconnect when none is open. For an APPEND (`mailbox` given)
   * only a connection below the current depth and allowed into the folder (connections per folder) will do,
   * waiting for one when all are full; the choice is claimed before this returns (handed-out count, folder
   * membership), so concurrent picks cannot all take the same free slot. The caller releases it with release().
   * Without `mailbox` (CREATE, a control command) any open connection will do and nothing is claimed.
   */
  private async pick(mailbox?: string): Promise<PoolConnection> {
    const limited = mailbox !== undefined;
    for (;;) {
      let open = 0;
      let best: PoolConnection | undefined;
      const allowed = limited ? this.allowedFor(mailbox) : undefined;
      for (const c of this.conns) {
        if (c.closed || this.retiring.has(c)) continue;
        open++;
        if (limited && !this.closing && this.loadOf(c) >= this.depthOf(c)) continue;
        if (allowed && !allowed.has(c)) continue;
        if (!best || this.loadOf(c) < this.loadOf(best)) best = c;
      }
      if (best) {
        if (limited) {
          this.handed.set(best, (this.handed.get(best) ?? 0) + 1);
          this.enterFolder(mailbox, best);
        }
        return best;
      }
      if (open > 0 && !this.closing && !this.options.signal?.aborted) {
        await new Promise<void>((r) => this.slotWaiters.push(r));
        continue;
      }
      if (open === 0) {
        // Only retiring connections left (the others died): take them back rather than wait for a reconnect.
        let taken = false;
        for (const c of this.retiring) {
          if (c.closed) continue;
          this.retiring.delete(c);
          taken = true;
        }
        if (taken) continue;
      }
      if (this.deadError || this.closing || this.options.signal?.aborted) throw this.deadError ?? new ConnectError('E_POOL_CLOSED', 'pool closed', 'never');
      void this.refill();
      await new Promise<void>((r) => this.connectWaiters.push(r));
    }
  }

  /** Undoes pick()'s claim once the APPEND settled (or failed), and wakes commands waiting for a slot. */
  private release(mailbox: string, c: PoolConnection): void {
    const n = (this.handed.get(c) ?? 1) - 1;
    if (n > 0) this.handed.set(c, n);
    else this.handed.delete(c);
    this.leaveFolder(mailbox, c);
    this.wakeSlots();
    this.retireIfIdle(c);
  }

  /** What a connection holds: its own count, or what the pool handed it and has not seen settle, if more. */
  private loadOf(c: PoolConnection): number {
    return Math.max(c.load, this.handed.get(c) ?? 0);
  }

  /** Connections a new APPEND into `mailbox` may use, or undefined when any may (no limit, or room for another). */
  private allowedFor(mailbox: string): Set<PoolConnection> | undefined {
    if (this.perFolder === undefined) return undefined;
    const users = this.inFolder.get(mailbox);
    if (!users || users.size < this.perFolder) return undefined;
    return new Set(users.keys());
  }

  private enterFolder(mailbox: string, c: PoolConnection): void {
    let users = this.inFolder.get(mailbox);
    if (!users) this.inFolder.set(mailbox, (users = new Map()));
    users.set(c, (users.get(c) ?? 0) + 1);
  }

  private leaveFolder(mailbox: string, c: PoolConnection): void {
    const users = this.inFolder.get(mailbox);
    if (!users) return;
    const n = (users.get(c) ?? 1) - 1;
    if (n > 0) users.set(c, n);
    else users.delete(c);
    if (users.size === 0) this.inFolder.delete(mailbox);
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
      const limit = this.batchLimit;
      if (limit !== undefined && messages.length > limit) {
        // A smaller batch size was set while this batch was being built: send it as batches of the new size, in
        // order (the first probes an unconfirmed folder alone, as any batch would).
        const parts: Array<Promise<MessageOutcome[]>> = [];
        for (let i = 0; i < messages.length; i += limit) parts.push(this.appendFirst(mailbox, messages.slice(i, i + limit)));
        return (await Promise.all(parts)).flat();
      }
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
      conn = await this.pick(mailbox);
    } catch (e) {
      if (this.options.signal?.aborted) return messages.map(() => ({ status: 'failed', error: abortedError() }));
      throw e;
    }
    const connectionsInFolder = this.inFolder.get(mailbox)?.size ?? 1;
    let record: TimingRecord | undefined;
    let ok = false;
    try {
      const res = await conn.append(mailbox, messages);
      record = res.record;
      ok = true;
      return messages.map((_, i) => ({ status: 'appended', uid: res.uids?.[i], uidValidity: res.uidValidity }));
    } catch (e) {
      const err = toMailmigrateError(e);
      if (err instanceof ServerResponseError) record = err.timing as TimingRecord | undefined;
      return this.recover(mailbox, messages, attempt, err);
    } finally {
      this.release(mailbox, conn);
      if (record || ok) {
        let bytes = 0;
        for (const m of messages) bytes += m.data.length;
        const sample: AppendSample = { mailbox, connectionId: conn.id, connectionsInFolder, messages: messages.length, bytes, record, ok };
        this.observe((o) => o.appendSettled?.(sample));
      }
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
    this.wakeSlots();
    for (const w of this.connectWaiters.splice(0)) w();
    await Promise.all(this.conns.slice().map((c) => c.close()));
  }
}

/** A batch that was never sent because the run was interrupted during a backoff: safe to send in a later run. */
function abortedError(): MailmigrateError {
  return new AbortedError('not sent: interrupted while waiting for the server\'s backoff');
}
