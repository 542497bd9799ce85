import { close as closeCb } from 'node:fs';
import { promisify } from 'node:util';
import { ConfigError, JournalError } from '../core/errors.js';
import type { ConfirmedIndex } from './confirmed-index.js';
import { digestId } from './id-digest.js';
import { fileIo, type JournalIo } from './journal-io.js';
import { errText, openJournalFile, type JournalRepair } from './journal-file.js';
import { releaseLock } from './journal-lock.js';
import {
  encodeCheckpoint,
  encodeConfirmed,
  encodeConfirmedGroups,
  encodeFailed,
  encodeFlags,
  encodeSent,
  encodeSentGroups,
  decodeLine,
  type ConfirmedEntry,
  type JournalRecord,
  type FailedEntry,
  type FlagsEntry,
  type FolderCheckpoint,
  type JournalHeader,
  type SentEntry,
  type StoredHeader,
} from './journal-record.js';
import { replayJournal } from './journal-replay.js';
import { JournalWriter, type JournalStats } from './journal-writer.js';
import { apply, forgetFolder, journalKey, type JournalCounts, type State } from './journal-state.js';

export { journalKey, type JournalCounts } from './journal-state.js';
export type { JournalStats } from './journal-writer.js';

export type { ConfirmedEntry, FailedEntry, FlagsEntry, FolderCheckpoint, JournalHeader, SentEntry, StoredHeader } from './journal-record.js';
export { accountJournalPath, journalDirectory } from './journal-path.js';
export { fileIo, type JournalIo } from './journal-io.js';
export type { JournalRepair } from './journal-file.js';

// The resume journal (issues 4 and 11). It is an accelerator checked against the server, never the authority: one
// journal per account, message records keyed by (mailbox, source id), and per-folder checkpoints (UIDVALIDITY,
// UIDNEXT, MESSAGES from STATUS) that let a re-run trust a folder's confirmations only while the folder is provably
// unchanged (src/migrate/folder-check.ts). The importer's protocol, and why it cannot duplicate after kill -9:
//  1. `await recordSent(group)` BEFORE the group's APPENDs are written to the socket. The promise resolves only
//     once the lines are written and fdatasync'd, so anything that may be on the server is 'sent' on disk
//     (mbsync fsyncs its journal before propagating messages for the same reason).
//  2. `recordConfirmed(...)` when the tagged OK comes: buffered, written in batches (size or timer). Losing some
//     in a crash only costs a look-up on the re-run, never a duplicate.
//  3. On a re-run `lookup(mailbox, id)`: 'confirmed' in a folder whose checkpoint still matches → skip without
//     reading; a folder with 'sent' records or a checkpoint that no longer matches is reconciled with the server.
//  4. `recordFailed(...)` for a permanent per-message refusal. A failed message is NOT skipped on the next run: it
//     is tried again (the server may have been fixed); failed() lists them.
// The last record of a (mailbox, id) wins: a message re-sent after the server lost it is 'sent' again until its new
// confirmation. A 'flags' record only updates the flags of a confirmed message.
// Opening, locking, replaying and repairing the file live in journal-file.ts; group commit and the failure rule in
// journal-writer.ts; the in-memory state and replay's apply() in journal-state.ts; the line format in
// journal-record.ts.
// Memory (issue 14): confirmations are held per folder in compact tables, built when the folder is first asked about
// (open() builds none), and release(mailbox) drops a folder's table once the import is done with it — so a first
// import of a million messages keeps no per-message state for the folders behind it, and a re-run holds one folder's
// confirmations at a time. Asked about a released folder again, the journal rebuilds its table from the file.

export interface JournalOptions {
  /** How long buffered confirmations may wait before they are written (default 100 ms). */
  batchMs?: number;
  /** Buffered lines that trigger a write without waiting for the timer (default 512). */
  batchEntries?: number;
  /** fdatasync after each write (default true). Off only for benchmarks: a crash may then lose 'sent' records. */
  fsync?: boolean;
  /** Replaces the file operations; tests count syncs and inject errors with it. */
  io?: JournalIo;
}

/** What the journal knows of one (mailbox, id). */
export type JournalLookup =
  | { state: 'confirmed'; uid: number | undefined; rawSize: number | undefined; flags: readonly string[] }
  | { state: 'sent'; entry: SentEntry }
  | { state: 'failed'; entry: FailedEntry };

const closeAsync = promisify(closeCb);

export class Journal {
  readonly path: string;
  /** Set when open() cut a torn last line (the previous run died mid-write). */
  readonly repaired: JournalRepair | undefined;
  /** The header as stored (its `created` is when the first run started). */
  readonly header: StoredHeader;

  readonly #fd: number;
  readonly #lockPath: string;
  readonly #state: State;
  /** Format 3 group records; a format 2 journal is appended to in its own format (journal-record.ts). */
  readonly #compact: boolean;
  readonly #writer: JournalWriter;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(
    path: string,
    fd: number,
    lockPath: string,
    header: StoredHeader,
    repaired: JournalRepair | undefined,
    state: State,
    options: JournalOptions,
  ) {
    this.path = path;
    this.#fd = fd;
    this.#lockPath = lockPath;
    this.header = header;
    this.repaired = repaired;
    this.#state = state;
    this.#compact = header.version >= 3;
    this.#writer = new JournalWriter(path, fd, options.io ?? fileIo, {
      fsync: options.fsync ?? true,
      batchMs: options.batchMs ?? 100,
      batchEntries: options.batchEntries ?? 512,
    });
  }

  /**
   * Opens (creating it and its directory if needed) and replays the journal at `path`.
   * Rejects with JournalError when the file belongs to another account, has a corrupt line before the last,
   * is held by another live run, or cannot be read or written.
   */
  static async open(path: string, header: JournalHeader, options: JournalOptions = {}): Promise<Journal> {
    if (options.batchMs !== undefined && !(options.batchMs >= 0)) throw new ConfigError('journal.batchMs', 'must be ≥ 0');
    if (options.batchEntries !== undefined && !(options.batchEntries >= 1)) {
      throw new ConfigError('journal.batchEntries', 'must be ≥ 1');
    }
    const f = openJournalFile(path, header, options.io ?? fileIo);
    return new Journal(path, f.fd, f.lockPath, f.header, f.repaired, f.state, options);
  }

  /** Counts over every folder. A folder whose confirmations were never loaded is read from the file to count them
   *  (and let go again): a report-time call, not one for the import's hot path. */
  get counts(): JournalCounts {
    const total = { confirmed: 0, sent: 0, failed: 0 };
    for (const m of this.#state.folders.keys()) {
      const c = this.#exactCounts(m, false);
      total.confirmed += c.confirmed;
      total.sent += c.sent;
      total.failed += c.failed;
    }
    return total;
  }

  /** Counts of one target mailbox (loads its confirmations if they were never loaded: a look-up follows). */
  folderCounts(mailbox: string): JournalCounts {
    return this.#exactCounts(mailbox, true);
  }

  #exactCounts(mailbox: string, keep: boolean): JournalCounts {
    const f = this.#state.folders.get(mailbox);
    if (!f) return { confirmed: 0, sent: 0, failed: 0 };
    if (f.counts.confirmed === undefined) {
      this.#reload(mailbox);
      if (!keep) f.confirmed = undefined;
    }
    return { confirmed: f.counts.confirmed ?? 0, sent: f.counts.sent, failed: f.counts.failed };
  }

  /** The folder's state when a run last finished with it, if any. */
  checkpoint(mailbox: string): FolderCheckpoint | undefined {
    const c = this.#state.checkpoints.get(mailbox);
    return c ? { ...c } : undefined;
  }

  /** Bytes, writes and syncs since open (for reports and benchmarks). */
  get stats(): JournalStats {
    return this.#writer.stats;
  }

  lookup(mailbox: string, id: string): JournalLookup | undefined {
    const st = this.#state;
    if (st.sent.size || st.failed.size) {
      const key = journalKey(mailbox, id);
      const s = st.sent.get(key);
      if (s) return { state: 'sent', entry: { ...s } };
      const x = st.failed.get(key);
      if (x) return { state: 'failed', entry: { ...x } };
    }
    const f = st.folders.get(mailbox);
    if (!f) return undefined;
    if (!f.confirmed && f.released) f.pinned = true;
    const table = f.confirmed ?? this.#reload(mailbox);
    const c = table.get(digestId(id, st.scratch));
    return c ? { state: 'confirmed', uid: c.uid, rawSize: c.rawSize, flags: c.flags } : undefined;
  }

  /**
   * The import is done with this folder for now: its confirmations leave memory (they stay in the file). Asking about
   * the folder again rebuilds them from the file, so this is a hint about memory, never a change of what is known.
   */
  release(mailbox: string): void {
    const f = this.#state.folders.get(mailbox);
    // A folder asked about again after a release stays held: each reload reads the whole file, so a source that
    // went back and forth between folders must not pay one read per message.
    if (!f || f.pinned) return;
    f.confirmed = undefined;
    f.released = true;
  }

  /** Folders whose confirmations are in memory now (for tests and benchmarks of the memory bound). */
  get heldFolders(): string[] {
    return [...this.#state.folders].filter(([, f]) => f.confirmed !== undefined).map(([m]) => m);
  }

  /** Sent but never confirmed nor failed (in one mailbox, or all): their folders must be reconciled. */
  unconfirmed(mailbox?: string): SentEntry[] {
    const out: SentEntry[] = [];
    for (const s of this.#state.sent.values()) if (mailbox === undefined || s.mailbox === mailbox) out.push({ ...s });
    return out;
  }

  /** Messages whose last record is a permanent failure (they are retried on the next run). */
  failed(): FailedEntry[] {
    return [...this.#state.failed.values()].map((x) => ({ ...x }));
  }

  /** Resolves once these intents are on disk; only then may their messages be written to the socket. */
  recordSent(entries: readonly SentEntry[]): Promise<void> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    this.#writer.add(this.#compact ? encodeSentGroups(entries) : entries.map(encodeSent), entries.length);
    for (const e of entries) this.#apply({ kind: 'sent', entry: { ...e } });
    return this.#writer.waitDurable();
  }

  /** Buffered; written in batches. Throws the journal's failure if it has failed. */
  recordConfirmed(entries: readonly ConfirmedEntry[]): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#writer.add(this.#compact ? encodeConfirmedGroups(entries) : entries.map(encodeConfirmed), entries.length);
    for (const e of entries) this.#apply({ kind: 'confirmed', entry: e });
    this.#writer.scheduleBatch();
  }

  /** The flags a confirmed message now has on the server (after a cutover pass updated them). Buffered. */
  recordFlags(entries: readonly FlagsEntry[]): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#writer.add(entries.map(encodeFlags), entries.length);
    for (const e of entries) this.#apply({ kind: 'flags', entry: e });
    this.#writer.scheduleBatch();
  }

  /** What a folder looks like now that this run is done with it. Buffered; flush() makes it durable. */
  recordCheckpoint(c: FolderCheckpoint): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#writer.add([encodeCheckpoint(c)], 1);
    this.#apply({ kind: 'checkpoint', entry: c });
    this.#writer.scheduleBatch();
  }

  /** A permanent refusal (e.g. NO without TRYCREATE for this message). `reason` must not contain secrets. */
  recordFailed(entry: FailedEntry): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#writer.add([encodeFailed(entry)], 1);
    this.#apply({ kind: 'failed', entry: { ...entry } });
    this.#writer.scheduleBatch();
  }

  /** Everything recorded so far written and synced. */
  flush(): Promise<void> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    if (this.#writer.idle) return Promise.resolve();
    return this.#writer.waitDurable();
  }

  /** Flushes, closes the file and releases the lock. Rejects with the journal's failure if it failed. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Two callers (the importer's finally and a SIGINT handler) must not close the fd twice.
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    let failure: unknown;
    try {
      await this.flush();
    } catch (err) {
      failure = err;
    }
    // A failed write loop may still be finishing; wait so the fd is never closed under it.
    while (this.#writer.running) await new Promise((r) => setImmediate(r));
    this.#closed = true;
    this.#writer.stop();
    try {
      await closeAsync(this.#fd);
    } catch (err) {
      failure ??= new JournalError(this.path, `cannot close: ${errText(err)}`, { cause: err });
    }
    releaseLock(this.#lockPath);
    if (failure) throw failure;
  }

  /**
   * For a second SIGINT: writes and syncs what is buffered, synchronously, then releases the lock. If an
   * asynchronous write is still in flight the fd is left open (closing it could let the pending write land in a
   * file opened later with the same number); the process is about to exit anyway. Throws JournalError if the
   * buffered lines cannot be written.
   */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    const failure = this.#writer.drainSync();
    releaseLock(this.#lockPath);
    if (failure) throw failure;
  }

  #apply(r: JournalRecord): void {
    apply(this.#state, r);
  }

  /**
   * Rebuilds one released folder's state from the file, then from the lines the writer has not finished writing
   * (in order: a line both in the file and still pending is applied twice, which changes nothing — the last record
   * of an id wins, and the same record twice leaves the same state). A line still being written shows in the file as
   * a torn tail and is skipped there; it is among the pending lines. Group lines of other folders are skipped
   * without being parsed (journal-replay.ts), so a reload reads the file but decodes only this folder's records.
   */
  #reload(mailbox: string): ConfirmedIndex {
    const state = this.#state;
    const folder = forgetFolder(state, mailbox);
    const mine = (r: JournalRecord): void => {
      if (r.entry.mailbox === mailbox) apply(state, r);
    };
    replayJournal(this.#fd, this.path, () => undefined, mine, { mailbox });
    for (const line of this.#writer.pendingLines()) {
      for (const r of decodeLine(line.endsWith('\n') ? line.slice(0, -1) : line) ?? []) mine(r);
    }
    return folder.confirmed!;
  }

  #unusable(): JournalError | undefined {
    if (this.#writer.failure) return this.#writer.failure;
    if (this.#closed) return new JournalError(this.path, 'is closed');
    return undefined;
  }

}
