import { sameStatus } from './folder-check.js';
import type { ServerControl } from './server-lookup.js';

// Waiting for a folder to stop changing before asking what it holds (issue 11). A connection that died — dropped by
// us on a timeout, cut by the network, or a client killed with SIGKILL — does not stop the server's work on what it
// had already received: it may store those messages after the client gave up. A look-up (unknown outcomes) or a
// reconciliation (a re-run after a crash) that reads the folder before that would miss them and send them again.

/** A folder counts as settled when STATUS (UIDNEXT, MESSAGES) is unchanged for this long at least ... */
const SETTLE_MIN_MS = 1000;
/** ... and at most (the window follows the server's slowest answer, below) ... */
const SETTLE_CAP_MS = 10_000;
/** ... and the whole wait is bounded. */
const SETTLE_MAX_MS = 60_000;

/** The window for a folder a previous run left with messages sent and never answered (a crash, kill -9): this run
 *  has no measure of the server yet, so it takes one that covers Courier's folder-lock waits (1–3 s with two
 *  connections into one folder, docs/adaptation.md). Only such folders wait, once, at the start. */
export const AFTER_CRASH_WINDOW_MS = 3000;

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
export async function settled(control: ServerControl, mailbox: string, windowMs: number): Promise<void> {
  const started = Date.now();
  let last = await control.folderStatus(mailbox).catch(() => undefined);
  while (Date.now() - started < SETTLE_MAX_MS) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = await control.folderStatus(mailbox).catch(() => undefined);
    if (!now && !last) return; // absent (or unreadable) both times: nothing is arriving there that a look-up could miss
    if (sameStatus(now, last)) return;
    last = now;
  }
}
