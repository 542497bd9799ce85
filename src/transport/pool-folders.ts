// Which mailboxes the pool knows to exist, and the one probe and one CREATE for each it does not (split from
// pool.ts, which dispatches batches and recovers from refusals).
//
// The first APPEND into a mailbox not yet seen to exist goes alone, pool-wide (mbsync's rule, lifted from one
// connection to all): if it draws NO [TRYCREATE], one CREATE follows and nothing else was refused. The migration
// tells the pool which folders it listed or created (markKnown), so their first batches are pipelined at once.
import type { MessageOutcome, PoolConnection } from './pool-types.js';

export class PoolFolders {
  /** Mailboxes known to exist: an APPEND succeeded, a CREATE did, or the caller listed them. */
  private readonly confirmed = new Set<string>();
  /** The one APPEND probing a not-yet-confirmed mailbox; others wait for it instead of all drawing TRYCREATE. */
  private readonly probing = new Map<string, Promise<unknown>>();
  private readonly creating = new Map<string, Promise<void>>();

  /** `connections()`: every open connection, told of each confirmed mailbox (it sends to it without probing). */
  constructor(
    known: Iterable<string>,
    private readonly connections: () => Iterable<PoolConnection>,
  ) {
    for (const f of known) this.confirmed.add(f);
  }

  /** Tells a connection that joins (a reconnect, a late one) what is confirmed, or it would probe them again. */
  joined(c: PoolConnection): void {
    for (const f of this.confirmed) c.confirmMailbox(f);
  }

  markKnown(mailbox: string): void {
    this.confirmed.add(mailbox);
    for (const c of this.connections()) c.confirmMailbox(mailbox);
  }

  /** Runs `send` for a batch into `mailbox`: alone while the mailbox is unconfirmed, freely once it is. */
  async first(mailbox: string, send: () => Promise<MessageOutcome[]>): Promise<MessageOutcome[]> {
    for (;;) {
      const probe = this.probing.get(mailbox);
      if (probe) {
        // Wait for the probe even if a CREATE already confirmed the mailbox, so messages keep their order.
        await probe.catch(() => undefined);
        continue; // the probe may have failed for its own reasons (a bad message): then this one probes next
      }
      if (this.confirmed.has(mailbox)) break;
      const p = send();
      this.probing.set(mailbox, p);
      try {
        const out = await p;
        if (out.some((o) => o.status === 'appended')) this.markKnown(mailbox);
        return out;
      } finally {
        this.probing.delete(mailbox);
      }
    }
    return send();
  }

  /** One CREATE per mailbox however many commands drew TRYCREATE at once; a failed one may be tried again. */
  createOnce(mailbox: string, create: () => Promise<void>): Promise<void> {
    let p = this.creating.get(mailbox);
    if (!p) {
      p = create().then(() => this.markKnown(mailbox));
      p.catch(() => this.creating.delete(mailbox));
      this.creating.set(mailbox, p);
    }
    return p;
  }
}
