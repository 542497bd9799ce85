import { JournalError, toMailmigrateError } from '../core/errors.js';
import type { Journal } from '../journal/journal.js';
import type { MessageOutcome, Pool } from '../transport/pool.js';
import type { LaneGate } from './folder-lanes.js';
import type { ImportTally } from './import-tally.js';
import type { Prepared, RunStop } from './import-types.js';

// The send half of an import: a window of prepared messages is journalled as 'sent' with one fsync, then goes out
// as MULTIAPPEND batches per mailbox over the pool; each outcome is journalled as it comes back. The order is the
// exactly-once rule: a message's 'sent' record is durable before any byte of it goes to the server (mbsync does the
// same), so after a crash its folder is known to need reconciliation. Outcomes whose reply was lost are kept in
// `unknown` for unknown-outcomes.ts.

export class SendPipeline {
  /** Sent, reply lost (connection closed mid-command): on the server or not, nobody knows yet. */
  unknown: Prepared[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly journal: Journal,
    /** MULTIAPPEND size (1 = plain APPEND). */
    private readonly batch: number,
    private readonly tally: ImportTally,
    private readonly stop: RunStop,
  ) {}

  /**
   * Journals the window's intents with one fsync, then sends it; each batch's promise joins `inflight`. `lane`: the
   * share of the pool of the folder lane the window comes from (folder-lanes.ts), when a source is read in lanes.
   */
  async dispatch(window: Prepared[], inflight: Set<Promise<void>>, lane?: LaneGate): Promise<void> {
    const pool = this.pool;
    try {
      await this.journal.recordSent(
        window.map((p) => ({
          id: p.id,
          mailbox: p.append.mailbox,
          messageId: p.messageId,
          size: p.append.data.length,
          rawSize: p.message.size,
          fingerprint: p.fingerprint,
        })),
      );
    } catch (e) {
      // Without a durable intent we could not tell, after a crash, whether these reached the server: stop.
      this.stop.fatal = e instanceof JournalError ? e : toMailmigrateError(e);
      return;
    }
    const byBox = new Map<string, Prepared[]>();
    for (const p of window) {
      const list = byBox.get(p.append.mailbox) ?? [];
      list.push(p);
      byBox.set(p.append.mailbox, list);
    }
    // The pool's batch size when adaptation changed it (src/migrate/adaptive-run.ts), else the run's.
    const batch = Math.max(1, pool.batchSize ?? this.batch);
    for (const [box, list] of byBox) {
      for (let i = 0; i < list.length; i += batch) {
        const taken = lane?.take();
        if (taken) await taken;
        await pool.whenWritable();
        // Journalled as 'sent' but not sent: a re-run reconciles their folder and sends them then.
        if (this.stop.halted) {
          lane?.leave();
          return;
        }
        const group = list.slice(i, i + batch);
        const sent = pool
          .append(box, group.map((g) => g.append))
          .then(
            (outcomes) => this.settle(group, outcomes),
            (e) => this.settle(group, group.map(() => ({ status: 'failed', error: toMailmigrateError(e) }) as const)),
          );
        const p = lane ? sent.finally(() => lane.leave()) : sent;
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }
  }

  private settle(group: Prepared[], outcomes: MessageOutcome[]): void {
    const confirmed: Array<{ id: string; uid?: number; uidValidity?: number; mailbox: string; flags: readonly string[] }> = [];
    outcomes.forEach((o, i) => {
      const p = group[i]!;
      if (o.status === 'appended') {
        confirmed.push({ id: p.id, uid: o.uid, uidValidity: o.uidValidity, mailbox: p.append.mailbox, flags: p.append.flags });
        if (o.uid !== undefined) p.run.claimed.add(o.uid);
        p.run.counts.appended++;
        this.tally.appended(p.append.data.length);
      } else if (o.status === 'unknown') {
        this.unknown.push(p);
      } else {
        // Never sent (Ctrl-C came first): not a failure. Its 'sent' record makes the next run reconcile the folder.
        if (o.error.code === 'E_ABORTED') return;
        // The response policy maps code-less quota texts (Cyrus' "NO Over quota") to E_OVERQUOTA too.
        if (o.error.code === 'E_OVERQUOTA') this.stop.halted ??= o.error;
        p.run.counts.failed++;
        this.tally.fail(p.message.origin, o.error);
        try {
          this.journal.recordFailed({ id: p.id, mailbox: p.append.mailbox, code: o.error.code, reason: o.error.message });
        } catch (e) {
          this.stop.fatal ??= toMailmigrateError(e);
        }
        this.tally.report();
      }
    });
    try {
      if (confirmed.length) this.journal.recordConfirmed(confirmed);
    } catch (e) {
      this.stop.fatal ??= toMailmigrateError(e);
    }
    this.tally.report();
  }
}
