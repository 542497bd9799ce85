import type { FolderCheckpoint } from '../journal/journal.js';

// May a re-run trust the journal's confirmations for one folder? (issue 11: "validate the journal per folder")
// One STATUS per folder decides it, so a clean re-run of a million messages costs one command per folder:
// trusted only when the folder is provably what the journal last saw. Every other case voids the folder's
// confirmations and the folder is reconciled with the server (one bulk FETCH, folder-index.ts).

export interface FolderStatus {
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly messages: number;
}

/** The same folder in the same state: same UIDVALIDITY, nothing added (UIDNEXT) and nothing removed (MESSAGES). */
export function sameStatus(a: FolderStatus | undefined, b: FolderStatus | undefined): boolean {
  return !!a && !!b && a.uidValidity === b.uidValidity && a.uidNext === b.uidNext && a.messages === b.messages;
}

export type FolderVerdict =
  | { readonly trusted: true }
  | { readonly trusted: false; readonly reason: FolderDistrust; readonly detail: string };

export type FolderDistrust = 'recheck' | 'absent' | 'no-checkpoint' | 'unconfirmed' | 'uidvalidity' | 'changed';

export interface FolderCheckInput {
  /** The folder's STATUS now; undefined when the folder does not exist on the server. */
  readonly status: FolderStatus | undefined;
  readonly checkpoint: FolderCheckpoint | undefined;
  /** Messages of this folder the journal has as sent and never confirmed (a run died mid-command). */
  readonly unconfirmed: number;
  /** --recheck: the user asks for reconciliation whatever the journal says. */
  readonly recheck: boolean;
}

export function checkFolder(c: FolderCheckInput): FolderVerdict {
  // The user asked (import --recheck, the fix for a verify that found something missing).
  if (c.recheck) return distrust('recheck', 'reconciliation asked for with --recheck');
  // Deleted (or never created): whatever the journal confirmed there is gone — the wiped-target case.
  if (!c.status) return distrust('absent', 'the folder does not exist on the server');
  // A fresh journal, or no run ever finished with this folder: nothing to trust.
  if (!c.checkpoint) return distrust('no-checkpoint', 'the journal has no checkpoint for this folder');
  // A run died between sending and reading the answer: those messages may or may not be there.
  if (c.unconfirmed > 0) return distrust('unconfirmed', `${c.unconfirmed} message(s) were sent without an answer`);
  // RFC 3501 §2.3.1.1: a new UIDVALIDITY means the folder was re-created; its old UIDs mean nothing.
  if (c.status.uidValidity !== c.checkpoint.uidValidity) {
    return distrust('uidvalidity', `UIDVALIDITY changed (${c.checkpoint.uidValidity} → ${c.status.uidValidity})`);
  }
  // Any APPEND, COPY or EXPUNGE since moves UIDNEXT or MESSAGES: a message the journal confirmed may be gone.
  if (c.status.uidNext !== c.checkpoint.uidNext || c.status.messages !== c.checkpoint.messages) {
    return distrust(
      'changed',
      `the folder changed since the last run (messages ${c.checkpoint.messages} → ${c.status.messages}, UIDNEXT ${c.checkpoint.uidNext} → ${c.status.uidNext})`,
    );
  }
  return { trusted: true };
}

function distrust(reason: FolderDistrust, detail: string): FolderVerdict {
  return { trusted: false, reason, detail };
}
