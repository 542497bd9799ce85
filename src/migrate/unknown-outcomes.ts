import type { Journal } from '../journal/journal.js';
import type { ImportTally } from './import-tally.js';
import type { ImportEvent, Prepared, RunStop } from './import-types.js';
import type { SendPipeline } from './send-pipeline.js';
import { findOnServer, type ServerControl } from './server-lookup.js';

// Unknown outcomes: APPENDs sent whose tagged reply never came (the connection died mid-command). APPEND is not
// idempotent, so such a message may or may not be on the server; sending it again blindly could double it. Each is
// looked up on a fresh view of its folder (server-lookup.ts), ignoring server messages this run already accounted
// for, and only those not there are sent again.

/** Look-up rounds before a message is reported as failed with E_UNKNOWN_OUTCOME. */
const ROUNDS = 3;
/** A folder counts as settled when STATUS (UIDNEXT, MESSAGES) is unchanged for this long at least ... */
const SETTLE_MIN_MS = 1000;
/** ... and at most (the window follows the server's slowest answer, below) ... */
const SETTLE_CAP_MS = 10_000;
/** ... and the whole wait is bounded. */
const SETTLE_MAX_MS = 60_000;

/**
 * How long a folder must stay unchanged to count as settled: longer than the slowest answer the server gave this run
 * (one and a half times it, between 1 and 10 s). A server that takes seconds to store (Courier's folder lock retries
 * in whole seconds: APPENDs waited 1.0–5.2 s with 4 connections into one folder, docs/adaptation.md) can leave a
 * dropped connection's APPEND unstored through a 1 s window, and the look-up would miss it and send it again.
 */
export function settleWindowMs(slowestAnswerMs: number): number {
  return Math.min(SETTLE_CAP_MS, Math.max(SETTLE_MIN_MS, Math.ceil(slowestAnswerMs * 1.5)));
}

/**
 * Waits until no more messages arrive in `mailbox`. Why: dropping a connection does not stop the server's work on
 * what it already received. Seen on Cyrus 3.6 (cyrus-slash, CI and 1 run in ~26): a MULTIAPPEND answered "NO System
 * I/O error" without swallowing its LITERAL+ data, the rest was parsed as commands ("Message-ID: ..." came back as a
 * tagged reply), we dropped the connection with the next APPEND in flight, and Cyrus was still storing that APPEND's
 * three messages when the look-up ran: the last one was not found yet, was sent again, and stored twice
 * (test/reliability/late-store.test.ts replays it on every server).
 */
async function settled(control: ServerControl, mailbox: string, windowMs: number): Promise<void> {
  const started = Date.now();
  let last = await control.folderStatus(mailbox).catch(() => undefined);
  while (Date.now() - started < SETTLE_MAX_MS) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = await control.folderStatus(mailbox).catch(() => undefined);
    if (!now && !last) return; // absent (or unreadable) both times: nothing is arriving there that a look-up could miss
    if (now && last && now.uidNext === last.uidNext && now.messages === last.messages) return;
    last = now;
  }
}

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
