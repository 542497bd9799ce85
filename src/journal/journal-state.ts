// The journal's in-memory state, rebuilt by replay and kept current by every record written: per (mailbox, id) the
// last word on a message, counts per folder, and the folder checkpoints. Memory per message is what bounds a
// million-message run: a confirmed message keeps its UID, its raw size and a shared flag list, nothing else.
import type { FailedEntry, FolderCheckpoint, JournalRecord, SentEntry } from './journal-record.js';

export interface JournalCounts {
  confirmed: number;
  /** Sent and not (yet) confirmed or failed. */
  sent: number;
  failed: number;
}

/** In-memory state per (mailbox, id). A confirmed message keeps only what a re-run needs: its UID (for a flag
 *  update), its raw source size (to skip by id safely) and the flags it was stored with. */
export interface ConfirmedState {
  readonly kind: 'c';
  uid: number | undefined;
  rawSize: number | undefined;
  flags: readonly string[];
}
export type IdState = ConfirmedState | ({ readonly kind: 's' } & SentEntry) | ({ readonly kind: 'x' } & FailedEntry);

const NO_FLAGS: readonly string[] = Object.freeze([]);

/** The in-memory key of a message record: a source id is unique only within its target mailbox. */
export function journalKey(mailbox: string, id: string): string {
  return `${mailbox}\u0000${id}`;
}

export interface State {
  ids: Map<string, IdState>;
  /** One frozen array per distinct flag list: a million confirmed messages share a handful of lists. */
  flagLists: Map<string, readonly string[]>;
  counts: JournalCounts;
  perFolder: Map<string, JournalCounts>;
  checkpoints: Map<string, FolderCheckpoint>;
}


/** Applies one record to the in-memory state: the last record of a (mailbox, id) wins, except that a 'flags'
 *  record only updates a confirmed message and a checkpoint replaces the folder's previous one. */
export function apply(state: State, r: JournalRecord): void {
  if (r.kind === 'checkpoint') {
    state.checkpoints.set(r.entry.mailbox, r.entry);
    return;
  }
  const key = journalKey(r.entry.mailbox, r.entry.id);
  const prev = state.ids.get(key);
  if (r.kind === 'flags') {
    if (prev?.kind === 'c') prev.flags = flagListOf(state, r.entry.flags);
    return;
  }
  let folder = state.perFolder.get(r.entry.mailbox);
  if (!folder) state.perFolder.set(r.entry.mailbox, (folder = { confirmed: 0, sent: 0, failed: 0 }));
  if (prev) bump(state.counts, folder, prev.kind, -1);
  switch (r.kind) {
    case 'sent':
      state.ids.set(key, { kind: 's', ...r.entry });
      break;
    case 'confirmed': {
      const e = r.entry;
      state.ids.set(key, {
        kind: 'c',
        uid: e.uid,
        // The raw size comes from the 'sent' record (a confirmation does not repeat it).
        rawSize: prev?.kind === 's' ? prev.rawSize : prev?.kind === 'c' ? prev.rawSize : undefined,
        flags: flagListOf(state, e.flags),
      });
      break;
    }
    case 'failed':
      state.ids.set(key, { kind: 'x', ...r.entry });
      break;
  }
  bump(state.counts, folder, state.ids.get(key)!.kind, 1);
}

/** The shared frozen copy of a flag list (see State.flagLists). */
function flagListOf(state: State, flags: readonly string[] | undefined): readonly string[] {
  if (!flags || flags.length === 0) return NO_FLAGS;
  const key = flags.join('\u0000');
  let list = state.flagLists.get(key);
  if (!list) state.flagLists.set(key, (list = Object.freeze([...flags])));
  return list;
}

function bump(total: JournalCounts, folder: JournalCounts, kind: IdState['kind'], by: 1 | -1): void {
  const field = kind === 'c' ? 'confirmed' : kind === 's' ? 'sent' : 'failed';
  total[field] += by;
  folder[field] += by;
}

export function stripKind<T extends { kind: string }>(s: T): Omit<T, 'kind'> {
  const { kind: _kind, ...rest } = s;
  return rest;
}


export function emptyState(): State {
  return { ids: new Map(), flagLists: new Map(), counts: { confirmed: 0, sent: 0, failed: 0 }, perFolder: new Map(), checkpoints: new Map() };
}
