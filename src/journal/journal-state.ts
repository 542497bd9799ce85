// The journal's in-memory state, rebuilt by replay and kept current by every record written: the last word on each
// (mailbox, id), counts per folder, and the folder checkpoints. Memory per message is what bounds a million-message
// run (issue 14), so the common state — confirmed — lives in a compact per-mailbox table of id digests
// (confirmed-index.ts), and a mailbox's table can be released once the import is done with that folder: what this
// run confirms there afterwards is on disk only, and the table is rebuilt from the file if the folder is asked about
// again (journal.ts, #reload). 'sent' and 'failed' messages — the few a crash or a refusal leaves — stay in Maps
// with their whole records, since reconciliation and the report need every field.
import { ConfirmedIndex, FlagLists } from './confirmed-index.js';
import { digestId, newDigest, type IdDigest } from './id-digest.js';
import type { FailedEntry, FolderCheckpoint, JournalRecord, SentEntry } from './journal-record.js';

export interface JournalCounts {
  confirmed: number;
  /** Sent and not (yet) confirmed or failed. */
  sent: number;
  failed: number;
}

export interface FolderState {
  /** `confirmed` is undefined until the folder's table has been built once: open() does not build tables (a
   *  re-run then holds one folder's confirmations at a time), and counting confirmations needs them (the last record
   *  of an id wins, so a count of records is not a count of messages). 'sent' and 'failed' are always exact. */
  readonly counts: { confirmed: number | undefined; sent: number; failed: number };
  /** Undefined when not loaded (at open) or released: the folder's confirmations are then on disk only. */
  confirmed: ConfirmedIndex | undefined;
  /** Confirmed records of this folder in the file and written since open: at least the number of confirmations a
   *  rebuilt table holds, so a reload sizes the table once (confirmed-index.ts, slotsFor). */
  confirmedRecords: number;
  /** Released once already (journal.ts: a folder looked up again after a release stays held). */
  released?: boolean;
  pinned?: boolean;
}

/** The in-memory key of a 'sent' or 'failed' record: a source id is unique only within its target mailbox. */
export function journalKey(mailbox: string, id: string): string {
  return `${mailbox}\u0000${id}`;
}

export interface State {
  readonly folders: Map<string, FolderState>;
  readonly sent: Map<string, SentEntry>;
  readonly failed: Map<string, FailedEntry>;
  readonly flagLists: FlagLists;
  readonly checkpoints: Map<string, FolderCheckpoint>;
  /** Reused for every digest computed while applying records (one allocation, not one per record). */
  readonly scratch: IdDigest;
}

export function emptyState(): State {
  return {
    folders: new Map(),
    sent: new Map(),
    failed: new Map(),
    flagLists: new FlagLists(),
    checkpoints: new Map(),
    scratch: newDigest(),
  };
}

/** The folder's state; a folder first named now starts loaded and empty — unless `scanning` (open's pass, which
 *  builds no table and leaves the confirmed count unknown until the folder is loaded). */
export function folderOf(state: State, mailbox: string, scanning = false): FolderState {
  let f = state.folders.get(mailbox);
  if (!f) {
    f = scanning
      ? { counts: { confirmed: 0, sent: 0, failed: 0 }, confirmed: undefined, confirmedRecords: 0 }
      : { counts: { confirmed: 0, sent: 0, failed: 0 }, confirmed: new ConfirmedIndex(state.flagLists), confirmedRecords: 0 };
    state.folders.set(mailbox, f);
  }
  return f;
}

/**
 * open()'s pass over the file: keeps 'sent' and 'failed' records and their counts exact, builds no table of
 * confirmations. A folder with a confirmation on disk is left unloaded with an unknown confirmed count; its first
 * look-up loads it (journal.ts, #reload). A folder without any stays loaded, empty and exact.
 */
export function scan(state: State, r: JournalRecord): void {
  if (r.kind === 'checkpoint') {
    state.checkpoints.set(r.entry.mailbox, r.entry);
    return;
  }
  const { mailbox, id } = r.entry;
  const folder = folderOf(state, mailbox, true);
  if (r.kind === 'flags') return;
  const key = journalKey(mailbox, id);
  if (state.sent.delete(key)) folder.counts.sent--;
  if (state.failed.delete(key)) folder.counts.failed--;
  if (r.kind === 'sent') {
    state.sent.set(key, r.entry);
    folder.counts.sent++;
  } else if (r.kind === 'failed') {
    state.failed.set(key, r.entry);
    folder.counts.failed++;
  } else {
    folder.counts.confirmed = undefined;
    folder.confirmedRecords++;
  }
}

/** After open()'s pass: folders that never had a confirmation are exact as they are. */
export function settleScan(state: State): void {
  for (const f of state.folders.values()) {
    if (f.counts.confirmed !== undefined && f.confirmed === undefined) f.confirmed = new ConfirmedIndex(state.flagLists);
  }
}

type Kind = 'c' | 's' | 'x';

/**
 * Applies one record: the last record of a (mailbox, id) wins, except that a 'flags' record only updates a confirmed
 * message and a checkpoint replaces the folder's previous one. In a folder whose table is not in memory, a record
 * about an id that is neither 'sent' nor 'failed' may or may not replace a confirmation: the record is kept (the
 * Maps, the file) and the folder's confirmed count becomes unknown — the next count or look-up rebuilds the table
 * from the file (journal.ts, #reload). So writing never reads the file back.
 */
export function apply(state: State, r: JournalRecord): void {
  if (r.kind === 'checkpoint') {
    state.checkpoints.set(r.entry.mailbox, r.entry);
    return;
  }
  const { mailbox, id } = r.entry;
  const folder = folderOf(state, mailbox);
  const table = folder.confirmed;
  const key = state.sent.size || state.failed.size || r.kind !== 'confirmed' ? journalKey(mailbox, id) : undefined;
  const sentBefore = key === undefined ? undefined : state.sent.get(key);
  let prev: Kind | undefined = sentBefore ? 's' : key !== undefined && state.failed.has(key) ? 'x' : undefined;
  let digest: IdDigest | undefined;
  if (prev === undefined && table) {
    digest = digestId(id, state.scratch);
    if (table.has(digest)) prev = 'c';
  }
  if (r.kind === 'flags') {
    if (prev === 'c') table!.setFlags(digest!, r.entry.flags);
    return;
  }
  // Not in memory and not sent or failed: it may have been confirmed (the file knows).
  if (prev === undefined && !table && r.kind !== 'confirmed') folder.counts.confirmed = undefined;
  if (prev) bump(folder.counts, prev, -1);
  if (prev === 's') state.sent.delete(key!);
  else if (prev === 'x') state.failed.delete(key!);
  switch (r.kind) {
    case 'sent':
      if (prev === 'c') table!.delete(digest!);
      state.sent.set(key!, r.entry);
      bump(folder.counts, 's', 1);
      break;
    case 'failed':
      if (prev === 'c') table!.delete(digest!);
      state.failed.set(key!, r.entry);
      bump(folder.counts, 'x', 1);
      break;
    case 'confirmed':
      folder.confirmedRecords++;
      if (table) {
        digest ??= digestId(id, state.scratch);
        // The raw size comes from the 'sent' record (a confirmation does not repeat it).
        const rawSize = sentBefore ? sentBefore.rawSize : prev === 'c' ? table.get(digest)?.rawSize : undefined;
        table.set(digest, { uid: r.entry.uid, rawSize, flags: r.entry.flags ?? [] });
        bump(folder.counts, 'c', 1);
      } else if (prev !== undefined) bump(folder.counts, 'c', 1);
      else folder.counts.confirmed = undefined; // confirmed once more, or for the first time: the file knows
      break;
  }
}

function bump(counts: FolderState['counts'], kind: Kind, by: 1 | -1): void {
  if (kind === 's') counts.sent += by;
  else if (kind === 'x') counts.failed += by;
  else if (counts.confirmed !== undefined) counts.confirmed += by;
}

/** Forgets everything known of one folder (before it is replayed again from the file). The new table is sized
 *  for the confirmations the replay will bring back: the confirmed records seen (an id confirmed twice counts
 *  twice), but no more than the folder held when a run last finished with it — a folder imported twice over (after
 *  a wipe) would otherwise get a table twice too large. More than that (confirmed since) grows it as before. The
 *  replay counts the records again. */
export function forgetFolder(state: State, mailbox: string): FolderState {
  const f = folderOf(state, mailbox);
  for (const [k, e] of state.sent) if (e.mailbox === mailbox) state.sent.delete(k);
  for (const [k, e] of state.failed) if (e.mailbox === mailbox) state.failed.delete(k);
  f.counts.confirmed = f.counts.sent = f.counts.failed = 0;
  const checkpoint = state.checkpoints.get(mailbox);
  const expected = checkpoint ? Math.min(f.confirmedRecords, checkpoint.messages) : f.confirmedRecords;
  f.confirmedRecords = 0;
  f.confirmed = new ConfirmedIndex(state.flagLists, ConfirmedIndex.slotsFor(expected));
  return f;
}
