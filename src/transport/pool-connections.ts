// The pool's connections and their lifecycle: opening the rest after the first, reconnecting with backoff when one
// dies, settling at the server's connection cap, retiring connections when fewer are wanted, and picking the
// connection each command goes to. What is sent on them, retried or split is the pool's (pool.ts); this file only
// answers "which connection, and is there one at all".
import { AuthError, ConfigError, ConnectError, type MailmigrateError, toMailmigrateError } from '../core/errors.js';
import { abortableSleep } from './abortable-sleep.js';
import { isConnectionCap } from './connection-cap.js';
import type { PoolConnection, PoolEvent, ReconnectOptions } from './pool-types.js';
import type { SlotLedger } from './slot-ledger.js';

/** What the connection set tells the pool, and asks of it. */
export interface PoolConnectionsHooks {
  open(): Promise<PoolConnection>;
  emit(e: PoolEvent): void;
  /** A connection joined (first open or reconnect): bring it up to date (throttle hold, confirmed folders). */
  joined(c: PoolConnection): void;
  /** A connection joined or left: whoever waits to submit may go now. */
  changed(): void;
}

export class PoolConnections {
  private readonly conns: PoolConnection[] = [];
  /** Connections wanted (lowered to what the server allows once it refuses one). */
  target: number;
  /** Set once the pool closes: nothing is reopened, nobody waits any more. */
  closing = false;
  /** Learned limit: the server refused connection limit+1. */
  connectionCap: number | undefined;
  /** Connections being retired after the connection count was lowered: nothing new is sent on them. */
  private readonly retiring = new Set<PoolConnection>();
  private reconnecting = 0;
  private connectWaiters: Array<() => void> = [];
  /** Commands waiting for a connection below the current depth (or allowed into their folder). */
  private slotWaiters: Array<() => void> = [];
  private deadError: MailmigrateError | undefined;

  constructor(
    private readonly options: ReconnectOptions,
    private readonly slots: SlotLedger,
    private readonly hooks: PoolConnectionsHooks,
    private readonly stats: { connects: number; reconnects: number },
  ) {
    this.target = Math.max(1, options.connections ?? 1);
  }

  /** Opens the first connection (its failure is the caller's: bad login, refused…) and then the rest. */
  async openAll(): Promise<void> {
    this.adopt(await this.hooks.open());
    const rest = await Promise.allSettled(Array.from({ length: this.target - 1 }, () => this.hooks.open()));
    for (const r of rest) {
      if (r.status === 'fulfilled') this.adopt(r.value);
      else this.onOpenFailure(toMailmigrateError(r.reason));
    }
  }

  /** Every connection the pool has, retiring ones included. */
  get all(): readonly PoolConnection[] {
    return this.conns;
  }

  /** Commands the connections that are not retiring may hold at the current depth. */
  get capacity(): number {
    let n = 0;
    for (const c of this.conns) if (!this.retiring.has(c)) n += this.slots.depthOf(c);
    return Math.max(1, n);
  }

  /** Wakes everyone waiting for a slot or a connection (closing, aborted): they will see why and stop. */
  wakeAll(): void {
    this.wakeSlots();
    for (const w of this.connectWaiters.splice(0)) w();
  }

  wakeSlots(): void {
    for (const w of this.slotWaiters.splice(0)) w();
  }

  /** Closes every connection (each waits for what it has in flight). */
  async closeAll(): Promise<void> {
    this.closing = true;
    this.wakeAll();
    await Promise.all(this.conns.slice().map((c) => c.close()));
  }

  /**
   * The least-loaded open connection, waiting for a reconnect when none is open. For an APPEND (`mailbox` given)
   * only a connection below the current depth and allowed into the folder (connections per folder) will do,
   * waiting for one when all are full; the choice is claimed before this returns (see SlotLedger), so concurrent
   * picks cannot all take the same free slot. The caller releases it with release(). Without `mailbox` (CREATE, a
   * control command) any open connection will do and nothing is claimed.
   */
  async pick(mailbox?: string): Promise<PoolConnection> {
    const limited = mailbox !== undefined;
    for (;;) {
      let open = 0;
      let best: PoolConnection | undefined;
      const allowed = limited ? this.slots.allowedFor(mailbox) : undefined;
      for (const c of this.conns) {
        if (c.closed || this.retiring.has(c)) continue;
        open++;
        // Waiting for a late answer (Connection.overdue): it takes nothing new. No replacement is opened either:
        // the server is not keeping up with what it has (Courier queues a new connection behind the same folder
        // lock), and a dead path is given up after the late-answer wait, which reopens as any loss does.
        if (c.overdue) continue;
        if (limited && !this.closing && !this.slots.hasRoom(c)) continue;
        if (allowed && !allowed.has(c)) continue;
        if (!best || this.slots.loadOf(c) < this.slots.loadOf(best)) best = c;
      }
      if (best) {
        if (limited) this.slots.claim(mailbox, best);
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
  release(mailbox: string, c: PoolConnection): void {
    this.slots.release(mailbox, c);
    this.wakeSlots();
    this.retireIfIdle(c);
  }

  /** Wants n connections: retires the surplus (each logs out once it holds nothing) or opens more, within the cap. */
  setTarget(n: number): void {
    const want = Math.max(1, Math.min(Math.floor(n), this.connectionCap ?? Infinity));
    // Retiring ones count as gone; bring back the newest first if more are wanted again.
    for (const c of [...this.retiring].reverse()) {
      if (this.conns.length - this.retiring.size >= want) break;
      this.retiring.delete(c);
    }
    this.target = want;
    const usable = this.conns.filter((c) => !c.closed && !this.retiring.has(c));
    if (usable.length > want) {
      // Retire the surplus (the newest first).
      for (const c of usable.slice(want).reverse()) {
        this.retiring.add(c);
        this.retireIfIdle(c);
      }
    } else {
      for (let i = usable.length + this.reconnecting; i < want; i++) void this.refill();
    }
  }

  private retireIfIdle(c: PoolConnection): void {
    if (!this.retiring.has(c) || this.slots.loadOf(c) > 0 || this.closing) return;
    // Its LOGOUT is exclusive (waits for nothing: the connection holds nothing). onClosed() removes it without
    // reopening, since the target no longer counts it.
    void c.close().catch(() => undefined);
  }

  private adopt(c: PoolConnection): void {
    this.conns.push(c);
    this.hooks.joined(c);
    this.stats.connects++;
    this.hooks.emit({ type: 'connected', connectionId: c.id, connectMs: c.connectMs, open: this.conns.length });
    for (const w of this.connectWaiters.splice(0)) w();
    this.wakeSlots();
    this.hooks.changed();
    void c.whenClosed().then(() => this.onClosed(c));
  }

  private onOpenFailure(err: MailmigrateError): void {
    if (isConnectionCap(err)) {
      this.connectionCap = this.conns.length;
      this.target = Math.max(1, this.conns.length);
      this.hooks.emit({ type: 'connection-cap', limit: this.conns.length, reason: err.message });
    } else {
      this.target = Math.max(1, this.conns.length);
      this.hooks.emit({ type: 'reconnect-failed', attempt: 0, reason: err.message, delayMs: 0 });
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
    this.hooks.emit({ type: 'disconnected', connectionId: c.id, reason: c.bye ?? 'closed', inFlight: c.inFlight });
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
          const c = await this.hooks.open();
          if (this.closing) return void c.destroy(toMailmigrateError(new Error('pool closing')));
          this.stats.reconnects++;
          this.adopt(c);
          return;
        } catch (e) {
          const err = toMailmigrateError(e);
          if (err instanceof AuthError || err instanceof ConfigError || err.retry === 'never' || Date.now() >= giveUpAt) {
            this.hooks.emit({ type: 'reconnect-failed', attempt, reason: err.message, delayMs: 0 });
            if (this.conns.length === 0) this.failWaiters();
            return;
          }
          if (isConnectionCap(err) && this.conns.length > 0) {
            this.onOpenFailure(err);
            return;
          }
          // Full jitter (AWS architecture blog): spreads reconnects of many connections in time.
          const delayMs = Math.round(Math.random() * Math.min(max, min * 2 ** attempt));
          this.hooks.emit({ type: 'reconnect-failed', attempt, reason: err.message, delayMs });
          if (!(await abortableSleep(delayMs, this.options.signal))) {
            if (this.conns.length === 0) this.failWaiters();
            return;
          }
        }
      }
    } finally {
      this.reconnecting--;
    }
  }

  private failWaiters(): void {
    this.deadError = new ConnectError('E_NO_CONNECTION', 'no connection to the server could be (re)opened', 'later');
    for (const w of this.connectWaiters.splice(0)) w();
  }
}
