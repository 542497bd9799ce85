import {
  AbortedError,
  ConnectionClosedError,
  type MailmigrateError,
  MailmigrateError as BaseError,
  ServerResponseError,
  isOutcomeUnknown,
  toMailmigrateError,
} from '../core/errors.js';
import type { AppendMessage } from '../core/types.js';
import { DEFAULT_PLUS_MAX_BYTES } from '../imap/literal-policy.js';
import { classifyResponse } from '../imap/response-policy.js';
import { abortableSleep } from './abortable-sleep.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { DEFAULT_MAX_BYTES_IN_FLIGHT, PoolAdmission } from './pool-admission.js';
import { PoolConnections } from './pool-connections.js';
import { PoolFolders } from './pool-folders.js';
import type { AppendSample, MessageOutcome, PoolConnection, PoolEvent, PoolObserver, PoolOptions, PoolSettings } from './pool-types.js';
import { SlotLedger } from './slot-ledger.js';
import { ThrottleGate } from './throttle-gate.js';
import type { TimingRecord } from './timing.js';

export type { AppendSample, MessageOutcome, PoolConnection, PoolEvent, PoolObserver, PoolOptions, PoolSettings, PoolView } from './pool-types.js';

// Spreads APPEND work over C connections (after undici's Pool over Clients): each command goes to the
// least-loaded open connection; callers wait on whenWritable(), so what is held in memory is bounded in batches and
// bytes (pool-admission.ts).
//
// Throttling is per account, so the gate is pool-wide: when the server asks for quiet (a backoff time, a
// throttling text, UNAVAILABLE/INUSE) every connection is held — no new command starts anywhere — and
// whenWritable() does not resolve, so the caller stops reading its source, until the backoff ends. Every sleep
// (backoff, reconnect) ends early when the caller's AbortSignal fires (SIGINT). The pool also owns the recovery
// rules that need more than one connection: reconnect with backoff, settle at the server's connection cap, retry
// never-sent commands elsewhere, create a mailbox on NO [TRYCREATE], back off when throttled, and split a refused
// MULTIAPPEND batch so that one bad message does not fail its neighbours (RFC 3502 makes the batch atomic, so a
// refusal says nothing of which).
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
//
// Who does what: this file dispatches batches and recovers from refusals; pool-admission.ts admits them;
// pool-folders.ts knows which mailboxes exist and lets the first batch into any other probe alone;
// pool-connections.ts opens, reconnects and retires connections and picks the one each command goes to;
// slot-ledger.ts keeps the depth and connections-per-folder accounting; throttle-gate.ts the server's quiet;
// pool-types.ts the outcomes, events, options and observer the pool's users see.

export class Pool {
  /** Mailboxes known to exist; the one probe and one CREATE for each of the others (pool-folders.ts). */
  private readonly folders: PoolFolders;
  /** Batches submitted through append() and not yet settled, in count and bytes (pool-admission.ts). */
  private readonly admission: PoolAdmission;
  /** Holds every connection (and the caller) while the server asks for quiet. */
  private readonly gate = new ThrottleGate((quiet) => {
    for (const c of this.connections.all) c.hold(quiet);
    if (!quiet) this.wakeWriters();
  });
  private observerFailed = false;
  /** Depth and connections per folder in force, and what each connection holds. */
  private readonly slots: SlotLedger;
  /** The connections, their reconnects and retirement, and which one takes the next command. */
  private readonly connections: PoolConnections;
  private batchLimit: number | undefined;
  private literalPlusMax: number;
  readonly stats = { connects: 0, reconnects: 0, throttled: 0, splits: 0, creates: 0 };

  private readonly connectionOptions: ConnectionOptions;

  private constructor(readonly options: PoolOptions) {
    this.slots = new SlotLedger(options.pipelineDepth, options.connectionsPerFolder);
    this.literalPlusMax = options.literalPlusMaxBytes ?? DEFAULT_PLUS_MAX_BYTES;
    this.admission = new PoolAdmission({
      ending: () => this.connections.closing || options.signal?.aborted === true,
      throttled: () => this.throttled,
      capacity: () => this.capacity,
      maxBytes: options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT,
    });
    this.connections = new PoolConnections(options, this.slots, {
      open: () => (options.connect ?? Connection.open)(this.connectionOptions),
      emit: (e) => this.emit(e),
      joined: (c) => {
        if (this.throttled) c.hold(true);
        // A connection opened after the limit was raised (a reconnect, a new one) gets the limit in force.
        c.setLiteralPlusMax?.(this.literalPlusMax);
        this.folders.joined(c);
      },
      changed: () => this.wakeWriters(),
    }, this.stats);
    this.folders = new PoolFolders(options.knownFolders ?? [], () => this.connections.all);
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
      onOverdue: (n) => {
        options.onOverdue?.(n);
        this.emit({ type: 'overdue', ...n });
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
    await pool.connections.openAll();
    pool.observe((o) => o.attached?.(pool));
    return pool;
  }

  get size(): number {
    return this.connections.all.length;
  }
  get capabilities() {
    return this.connections.all[0]?.capabilities;
  }
  /** Learned limit: the server refused connection limit+1. */
  get connectionCap(): number | undefined {
    return this.connections.connectionCap;
  }
  /** Batches the pool holds: in flight, queued, waiting for a probe or sleeping on a backoff. */
  get load(): number {
    return this.admission.active;
  }
  /** Bytes of the messages in those batches. */
  get loadBytes(): number {
    return this.admission.activeBytes;
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
    this.folders.markKnown(path);
  }
  /** How many commands may be outstanding before callers are asked to wait. */
  get capacity(): number {
    return this.connections.capacity;
  }

  /** The settings in force now (they change through reconfigure()). */
  get settings(): PoolSettings {
    const depth = this.slots.depth ?? this.connections.all[0]?.depth ?? 1;
    return { pipelineDepth: depth, connections: this.connections.target, connectionsPerFolder: this.slots.perFolder, batch: this.batchLimit, literalPlusMaxBytes: this.literalPlusMax };
  }

  /** The batch size callers should build next batches with, when one was set (reconfigure); else undefined. */
  get batchSize(): number | undefined {
    return this.batchLimit;
  }

  /** TCP (and implicit TLS) connect time of each open connection, ms: each is at least one round trip. */
  get connectTimes(): number[] {
    return this.connections.all.map((c) => c.connectMs);
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
      this.slots.depth = Math.min(max, Math.max(1, Math.floor(change.pipelineDepth)));
    }
    if ('connectionsPerFolder' in change) {
      this.slots.perFolder = change.connectionsPerFolder === undefined ? undefined : Math.max(1, Math.floor(change.connectionsPerFolder));
    }
    if ('batch' in change) this.batchLimit = change.batch === undefined ? undefined : Math.max(1, Math.floor(change.batch));
    if (change.connections !== undefined) this.connections.setTarget(change.connections);
    if (change.literalPlusMaxBytes !== undefined && change.literalPlusMaxBytes > 0) {
      this.literalPlusMax = Math.floor(change.literalPlusMaxBytes);
      for (const c of this.connections.all) c.setLiteralPlusMax?.(this.literalPlusMax);
    }
    const after = this.settings;
    const changes = (Object.keys(after) as Array<keyof PoolSettings>)
      .filter((k) => before[k] !== after[k])
      .map((k) => ({ setting: k, from: before[k], to: after[k] }));
    if (changes.length) this.emit({ type: 'reconfigured', changes });
    this.connections.wakeSlots();
    this.wakeWriters();
    return after;
  }

  /**
   * Resolves when another batch can be submitted: below capacity in batches and in bytes, and the server is not
   * asking for quiet. The caller awaits it before reading more of its source. Resolves at once when closing or
   * aborted, so the caller's loop can see why and stop.
   */
  whenWritable(): Promise<void> {
    return this.admission.whenWritable();
  }

  private wakeWriters(): void {
    this.admission.wake();
  }

  /** Resolves when the server's requested quiet has passed (at once when not throttled, aborted or closing). */
  private afterQuiet(): Promise<void> {
    if (this.connections.closing || this.options.signal?.aborted) return Promise.resolve();
    return this.gate.whenOpen();
  }

  private onAbort(): void {
    // Sleepers end early; connections are released so in-flight work and LOGOUT can finish.
    this.gate.open();
    this.wakeWriters();
    this.connections.wakeAll();
    // A connection waiting for a late answer (Connection.overdue) would hold an interrupted run for up to
    // lateAnswerMs: it is given up instead. Its APPENDs end with an unknown outcome, which the journal keeps as sent
    // and never answered, so the next run waits for the folder to settle and looks them up before sending anything.
    for (const c of this.connections.all) {
      if (c.overdue) c.destroy(new ConnectionClosedError('interrupted while waiting for the server\'s late answer', c.inFlight));
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
    this.admission.enter(bytes);
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
      this.admission.leave(bytes);
    }
  }

  private appendFirst(mailbox: string, messages: readonly AppendMessage[]): Promise<MessageOutcome[]> {
    return this.folders.first(mailbox, () => this.appendNow(mailbox, messages, 0));
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
      conn = await this.connections.pick(mailbox);
    } catch (e) {
      if (this.options.signal?.aborted) return messages.map(() => ({ status: 'failed', error: abortedError() }));
      throw e;
    }
    const connectionsInFolder = this.slots.connectionsIn(mailbox);
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
      this.connections.release(mailbox, conn);
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
        await this.folders.createOnce(mailbox, () => this.create(mailbox));
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
        } else if (!(await abortableSleep(delayMs, this.options.signal))) {
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

  /** CREATE on any connection (pool-folders.ts makes it one per mailbox). */
  private async create(mailbox: string): Promise<void> {
    const c = await this.connections.pick();
    await c.create(mailbox);
    this.stats.creates++;
    this.emit({ type: 'mailbox-created', mailbox });
  }

  /** Waits for commands in flight, logs out every connection. */
  async close(): Promise<void> {
    this.connections.closing = true;
    this.gate.open();
    this.wakeWriters();
    await this.connections.closeAll();
  }
}

/** A batch that was never sent because the run was interrupted during a backoff: safe to send in a later run. */
function abortedError(): MailmigrateError {
  return new AbortedError('not sent: interrupted while waiting for the server\'s backoff');
}
