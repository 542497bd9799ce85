// Which connection may take the next APPEND (issue 16: settings that change while running). The pool, not the
// connection, keeps each connection at the current pipeline depth and each folder within its connection limit: a
// command is claimed for a connection here before it is handed over, so concurrent picks cannot all take the same
// free slot, and released when it settles. Lowering a limit sends nothing new until a connection is below it;
// what is in flight finishes where it is.
import type { PoolConnection } from './pool-types.js';

export class SlotLedger {
  /**
   * Current pipeline depth: commands a connection may hold (in flight or queued in it) before the next waits.
   * undefined (no pipelineDepth given): each connection's own depth.
   */
  depth: number | undefined;
  /** Connections that may have APPENDs into one folder at the same time; undefined = no limit. */
  perFolder: number | undefined;
  /** APPENDs handed to each connection (claimed) and not yet settled. */
  private readonly handed = new Map<PoolConnection, number>();
  /** APPENDs in flight per mailbox, per connection. */
  private readonly inFolder = new Map<string, Map<PoolConnection, number>>();

  constructor(depth: number | undefined, perFolder: number | undefined) {
    this.depth = depth === undefined ? undefined : Math.max(1, depth);
    this.perFolder = perFolder === undefined ? undefined : Math.max(1, perFolder);
  }

  /** What a connection holds: its own count, or what was handed to it and has not settled, if more. */
  loadOf(c: PoolConnection): number {
    return Math.max(c.load, this.handed.get(c) ?? 0);
  }

  /** The depth a connection is kept at now (never above the depth it was opened with). */
  depthOf(c: PoolConnection): number {
    return Math.max(1, Math.min(c.depth, this.depth ?? c.depth));
  }

  hasRoom(c: PoolConnection): boolean {
    return this.loadOf(c) < this.depthOf(c);
  }

  /**
   * Connections a new APPEND into `mailbox` may use, or undefined when any may (no limit, or room for another). At
   * the limit only those already in the folder may; above it (the limit was lowered while more were in) none, until
   * enough have left. Letting every connection already in the folder go on, as this did, kept the folder shared after
   * the folder-lock rule had asked for one connection: on a server that polls its lock (Courier), the connection
   * waiting for the lock was starved by the one still sending (test/migrate/adaptive-folder-lock.test.ts).
   */
  allowedFor(mailbox: string): Set<PoolConnection> | undefined {
    if (this.perFolder === undefined) return undefined;
    const users = this.inFolder.get(mailbox);
    if (!users || users.size < this.perFolder) return undefined;
    return users.size > this.perFolder ? new Set() : new Set(users.keys());
  }

  /** Connections with an APPEND into `mailbox` in flight (at least 1: the caller's own). */
  connectionsIn(mailbox: string): number {
    return this.inFolder.get(mailbox)?.size ?? 1;
  }

  claim(mailbox: string, c: PoolConnection): void {
    this.handed.set(c, (this.handed.get(c) ?? 0) + 1);
    let users = this.inFolder.get(mailbox);
    if (!users) this.inFolder.set(mailbox, (users = new Map()));
    users.set(c, (users.get(c) ?? 0) + 1);
  }

  release(mailbox: string, c: PoolConnection): void {
    const n = (this.handed.get(c) ?? 1) - 1;
    if (n > 0) this.handed.set(c, n);
    else this.handed.delete(c);
    const users = this.inFolder.get(mailbox);
    if (!users) return;
    const m = (users.get(c) ?? 1) - 1;
    if (m > 0) users.set(c, m);
    else users.delete(c);
    if (users.size === 0) this.inFolder.delete(mailbox);
  }
}
