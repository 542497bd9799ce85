import type { Journal } from '../journal/journal.js';
import type { ImportTally } from './import-tally.js';
import type { ImportEvent, Prepared, RunStop } from './import-types.js';
import type { SendPipeline } from './send-pipeline.js';
import { settled, settleWindowMs } from './folder-settle.js';
import { findOnServer, type ServerControl } from './server-lookup.js';

// Unknown outcomes: APPENDs sent whose tagged reply never came (the connection died mid-command). APPEND is not
// idempotent, so such a message may or may not be on the server; sending it again blindly could double it. Each is
// looked up on a fresh view of its folder (server-lookup.ts), ignoring server messages this run already accounted
// for, and only those not there are sent again.

/** Look-up rounds before a message is reported as failed with E_UNKNOWN_OUTCOME. */
const ROUNDS = 3;
export async function resolveUnknownOutcomes(d: {
  readonly control: ServerControl;
  readonly journal: Journal;
  readonly pipeline: SendPipeline;
  readonly tally: ImportTally;
  readonly stop: RunStop;
  readonly onEvent?: ((e: ImportEvent) => void) | undefined;
}): Promise<void> {
  const { pipeline, tally } = d;
  let found = 0;
  let missing = 0;
  for (let round = 0; round < ROUNDS && pipeline.unknown.length && !d.stop.fatal; round++) {
    const list = pipeline.unknown;
    pipeline.unknown = [];
    const again: Prepared[] = [];
    let lookupFailed = false;
    const windowMs = settleWindowMs(tally.slowestAnswerMs);
    for (const mailbox of new Set(list.map((p) => p.append.mailbox))) await settled(d.control, mailbox, windowMs);
    for (const p of list) {
      let uid: number | undefined;
      try {
        uid = await findOnServer(d.control, p.append.mailbox, p.messageId, p.append.data, (u) => p.run.claimed.has(u));
      } catch {
        // The lookup itself failed (control connection lost, server restarting): the message may be there, so it
        // stays unknown for the next round — sending it now could double it.
        pipeline.unknown.push(p);
        lookupFailed = true;
        continue;
      }
      if (uid !== undefined) {
        p.run.claimed.add(uid);
        d.journal.recordConfirmed([{ id: p.id, uid, mailbox: p.append.mailbox, flags: p.append.flags }]);
        p.run.counts.appended++;
        tally.appended(p.append.data.length);
        tally.unknownResolved++;
        found++;
      } else {
        again.push(p);
        missing++;
      }
    }
    const inflight = new Set<Promise<void>>();
    if (again.length) await pipeline.dispatch(again, inflight);
    await Promise.all(inflight);
    if (lookupFailed) await new Promise((r) => setTimeout(r, 500 * (round + 1)));
  }
  if (found || missing) d.onEvent?.({ type: 'resume-checked', found, missing });
  for (const p of pipeline.unknown) {
    p.run.counts.failed++;
    tally.fail(p.message.origin, { code: 'E_UNKNOWN_OUTCOME', message: `no answer from the server after ${ROUNDS} attempts; re-run to check and resend` });
    tally.report();
  }
}
