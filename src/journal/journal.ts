import { close as closeCb, closeSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, JournalError } from '../core/errors.js';
import { openAppendNoFollow } from '../core/safe-file.js';
import { fileIo, type JournalIo } from './journal-io.js';
import { acquireLock, releaseLock } from './journal-lock.js';
import {
  encodeCheckpoint,
  encodeConfirmed,
  encodeFailed,
  encodeFlags,
  encodeHeader,
  encodeSent,
  type ConfirmedEntry,
  type FailedEntry,
  type FlagsEntry,
  type FolderCheckpoint,
  type JournalHeader,
  type JournalRecord,
  type SentEntry,
  type StoredHeader,
} from './journal-record.js';
import { replayJournal } from './journal-replay.js';

export type { ConfirmedEntry, FailedEntry, FlagsEntry, FolderCheckpoint, JournalHeader, SentEntry, StoredHeader } from './journal-record.js';
export { accountJournalPath, journalDirectory } from './journal-path.js';
export { fileIo, type JournalIo } from './journal-io.js';

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
// Group commit: concurrent recordSent calls while a write+fsync runs are merged into the next one, so N
// connections cost about one fdatasync per round, not one per message.
// Any write or sync error fails the journal for good: the pending promises reject with JournalError and every
// later call throws it, so the importer stops sending before it could lose track of a message.

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

export interface JournalCounts {
  confirmed: number;
  /** Sent and not (yet) confirmed or failed. */
  sent: number;
  failed: number;
}

/** What the journal knows of one (mailbox, id). */
export type JournalLookup =
  | { state: 'confirmed'; uid: number | undefined; rawSize: number | undefined; flags: readonly string[] }
  | { state: 'sent'; entry: SentEntry }
  | { state: 'failed'; entry: FailedEntry };

export interface JournalStats {
  writes: number;
  syncs: number;
  bytes: number;
}

/** What open() cut from the end of the file: a line whose write never completed. */
export interface JournalRepair {
  droppedBytes: number;
  /** 1-based number of the line that was dropped. */
  line: number;
}

const closeAsync = promisify(closeCb);

/** In-memory state per (mailbox, id). A confirmed message keeps only what a re-run needs: its UID (for a flag
 *  update), its raw source size (to skip by id safely) and the flags it was stored with. */
interface ConfirmedState {
  readonly kind: 'c';
  uid: number | undefined;
  rawSize: number | undefined;
  flags: readonly string[];
}
type IdState = ConfirmedState | ({ readonly kind: 's' } & SentEntry) | ({ readonly kind: 'x' } & FailedEntry);

const NO_FLAGS: readonly string[] = Object.freeze([]);

/** The in-memory key of a message record: a source id is unique only within its target mailbox. */
export function journalKey(mailbox: string, id: string): string {
  return `${mailbox}\u0000${id}`;
}

interface State {
  ids: Map<string, IdState>;
  counts: JournalCounts;
  perFolder: Map<string, JournalCounts>;
  checkpoints: Map<string, FolderCheckpoint>;
}

interface Waiter {
  resolve(): void;
  reject(err: JournalError): void;
}

export class Journal {
  readonly path: string;
  /** Set when open() cut a torn last line (the previous run died mid-write). */
  readonly repaired: JournalRepair | undefined;
  /** The header as stored (its `created` is when the first run started). */
  readonly header: StoredHeader;

  readonly #fd: number;
  readonly #lockPath: string;
  readonly #io: JournalIo;
  readonly #fsync: boolean;
  readonly #batchMs: number;
  readonly #batchEntries: number;
  readonly #state: State;
  readonly #stats: JournalStats = { writes: 0, syncs: 0, bytes: 0 };

  /** Lines not yet handed to the kernel, and the callers waiting for them to be durable. */
  #buf: string[] = [];
  #waiters: Waiter[] = [];
  #running = false; // the write loop owns the fd
  #startScheduled = false;
  #flushRequested = false;
  #timer: NodeJS.Timeout | undefined;
  #failure: JournalError | undefined;
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
    this.#io = options.io ?? fileIo;
    this.#fsync = options.fsync ?? true;
    this.#batchMs = options.batchMs ?? 100;
    this.#batchEntries = options.batchEntries ?? 512;
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
    const io = options.io ?? fileIo;
    const dir = dirname(path);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new JournalError(path, `cannot create directory ${dir}: ${errText(err)}`, { cause: err });
    }
    const lockPath = acquireLock(path);
    let fd: number | undefined;
    try {
      try {
        fd = openAppendNoFollow(path, { option: 'journal' }); // not through a link planted in a shared directory
        // The journal names mailboxes and Message-IDs: private metadata. Tighten a file someone loosened.
        if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
      } catch (err) {
        throw new JournalError(path, `cannot open: ${errText(err)}`, { cause: err });
      }
      const state: State = { ids: new Map(), counts: { confirmed: 0, sent: 0, failed: 0 }, perFolder: new Map(), checkpoints: new Map() };
      const result = replayJournal(
        fd,
        path,
        (h) => {
          if (h.account !== header.account) {
            throw new JournalError(path, `belongs to another account (${JSON.stringify(h.account)}; this run: ${JSON.stringify(header.account)})`);
          }
        },
        (r) => apply(state, r),
      );
      let repaired: JournalRepair | undefined;
      let stored = result.header;
      try {
        if (result.tornBytes > 0) {
          ftruncateSync(fd, result.validEnd);
          repaired = { droppedBytes: result.tornBytes, line: result.lines + 1 };
        }
        if (stored === undefined) {
          const created = new Date();
          io.writeSync(fd, Buffer.from(encodeHeader(header, created), 'utf8'));
          stored = { version: 2, account: header.account, created: created.toISOString() };
          io.syncSync(fd);
          syncDirectory(dir); // so the new file's name survives a power cut, not just its data
        } else if (repaired) {
          io.syncSync(fd);
        }
      } catch (err) {
        throw new JournalError(path, `cannot write: ${errText(err)}`, { cause: err });
      }
      return new Journal(path, fd, lockPath, stored, repaired, state, options);
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      releaseLock(lockPath);
      throw err;
    }
  }

  get counts(): JournalCounts {
    return { ...this.#state.counts };
  }

  /** Counts of one target mailbox. */
  folderCounts(mailbox: string): JournalCounts {
    return { ...(this.#state.perFolder.get(mailbox) ?? { confirmed: 0, sent: 0, failed: 0 }) };
  }

  /** The folder's state when a run last finished with it, if any. */
  checkpoint(mailbox: string): FolderCheckpoint | undefined {
    const c = this.#state.checkpoints.get(mailbox);
    return c ? { ...c } : undefined;
  }

  /** Bytes, writes and syncs since open (for reports and benchmarks). */
  get stats(): JournalStats {
    return { ...this.#stats };
  }

  lookup(mailbox: string, id: string): JournalLookup | undefined {
    const s = this.#state.ids.get(journalKey(mailbox, id));
    if (s === undefined) return undefined;
    switch (s.kind) {
      case 'c':
        return { state: 'confirmed', uid: s.uid, rawSize: s.rawSize, flags: s.flags };
      case 's':
        return { state: 'sent', entry: stripKind(s) };
      case 'x':
        return { state: 'failed', entry: stripKind(s) };
    }
  }

  /** Sent but never confirmed nor failed (in one mailbox, or all): their folders must be reconciled. */
  unconfirmed(mailbox?: string): SentEntry[] {
    const out: SentEntry[] = [];
    for (const s of this.#state.ids.values()) {
      if (s.kind === 's' && (mailbox === undefined || s.mailbox === mailbox)) out.push(stripKind(s));
    }
    return out;
  }

  /** Messages whose last record is a permanent failure (they are retried on the next run). */
  failed(): FailedEntry[] {
    const out: FailedEntry[] = [];
    for (const s of this.#state.ids.values()) if (s.kind === 'x') out.push(stripKind(s));
    return out;
  }

  /** Resolves once these intents are on disk; only then may their messages be written to the socket. */
  recordSent(entries: readonly SentEntry[]): Promise<void> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    for (const e of entries) {
      this.#buf.push(encodeSent(e));
      apply(this.#state, { kind: 'sent', entry: { ...e } });
    }
    return this.#waitDurable();
  }

  /** Buffered; written in batches. Throws the journal's failure if it has failed. */
  recordConfirmed(entries: readonly ConfirmedEntry[]): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    for (const e of entries) {
      this.#buf.push(encodeConfirmed(e));
      apply(this.#state, { kind: 'confirmed', entry: e });
    }
    this.#scheduleBatch();
  }

  /** The flags a confirmed message now has on the server (after a cutover pass updated them). Buffered. */
  recordFlags(entries: readonly FlagsEntry[]): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    for (const e of entries) {
      this.#buf.push(encodeFlags(e));
      apply(this.#state, { kind: 'flags', entry: e });
    }
    this.#scheduleBatch();
  }

  /** What a folder looks like now that this run is done with it. Buffered; flush() makes it durable. */
  recordCheckpoint(c: FolderCheckpoint): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#buf.push(encodeCheckpoint(c));
    apply(this.#state, { kind: 'checkpoint', entry: c });
    this.#scheduleBatch();
  }

  /** A permanent refusal (e.g. NO without TRYCREATE for this message). `reason` must not contain secrets. */
  recordFailed(entry: FailedEntry): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    this.#buf.push(encodeFailed(entry));
    apply(this.#state, { kind: 'failed', entry: { ...entry } });
    this.#scheduleBatch();
  }

  /** Everything recorded so far written and synced. */
  flush(): Promise<void> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    if (this.#buf.length === 0 && !this.#running) return Promise.resolve();
    return this.#waitDurable();
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
    while (this.#running) await new Promise((r) => setImmediate(r));
    this.#closed = true;
    this.#clearTimer();
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
    this.#clearTimer();
    const lines = this.#buf;
    const waiters = this.#waiters;
    this.#buf = [];
    this.#waiters = [];
    let failure = this.#failure;
    if (!failure && lines.length > 0) {
      try {
        const data = Buffer.from(lines.join(''), 'utf8');
        this.#io.writeSync(this.#fd, data);
        if (this.#fsync) this.#io.syncSync(this.#fd);
        this.#stats.writes++;
        this.#stats.bytes += data.length;
        if (this.#fsync) this.#stats.syncs++;
      } catch (err) {
        failure = this.#fail(err);
      }
    }
    for (const w of waiters) failure ? w.reject(failure) : w.resolve();
    if (!this.#running) {
      try {
        closeSync(this.#fd);
      } catch {
        // best effort: the process is exiting
      }
    }
    releaseLock(this.#lockPath);
    if (failure) throw failure;
  }

  #unusable(): JournalError | undefined {
    if (this.#failure) return this.#failure;
    if (this.#closed) return new JournalError(this.path, 'is closed');
    return undefined;
  }

  #waitDurable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  #scheduleBatch(): void {
    if (this.#buf.length >= this.#batchEntries) this.#kick();
    else this.#armTimer();
  }

  #armTimer(): void {
    if (this.#timer || this.#closed) return;
    // unref: a pending batch of confirmations must not keep the process alive; close()/flush() write it.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#batchMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Requests a write. Starting from idle waits one setImmediate so callers from the same I/O round share it. */
  #kick(): void {
    this.#flushRequested = true;
    if (this.#running || this.#startScheduled) return;
    this.#startScheduled = true;
    setImmediate(() => {
      this.#startScheduled = false;
      if (!this.#running && !this.#closed) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#failure && !this.#closed) {
        const due = this.#waiters.length > 0 || this.#flushRequested || this.#buf.length >= this.#batchEntries;
        if (!due || (this.#buf.length === 0 && this.#waiters.length === 0)) break;
        this.#flushRequested = false;
        this.#clearTimer();
        const lines = this.#buf;
        const waiters = this.#waiters;
        this.#buf = [];
        this.#waiters = [];
        // Waiters whose lines went out in an earlier round of this loop are already durable.
        if (lines.length > 0) {
          const data = Buffer.from(lines.join(''), 'utf8');
          try {
            await this.#io.write(this.#fd, data);
            this.#stats.writes++;
            this.#stats.bytes += data.length;
            if (this.#fsync) {
              await this.#io.sync(this.#fd);
              this.#stats.syncs++;
            }
          } catch (err) {
            const failure = this.#fail(err);
            for (const w of waiters) w.reject(failure);
            return;
          }
        }
        for (const w of waiters) w.resolve();
      }
      if (this.#buf.length > 0 && !this.#failure) this.#armTimer();
    } finally {
      this.#running = false;
    }
  }

  /** Marks the journal failed for good and rejects everyone waiting. */
  #fail(err: unknown): JournalError {
    if (!this.#failure) {
      this.#failure = new JournalError(
        this.path,
        `cannot write (${errText(err)}); stopping before any message could go unrecorded`,
        { cause: err },
      );
      this.#clearTimer();
      const waiting = this.#waiters;
      this.#waiters = [];
      this.#buf = [];
      for (const w of waiting) w.reject(this.#failure);
    }
    return this.#failure;
  }
}

/** Applies one record to the in-memory state: the last record of a (mailbox, id) wins, except that a 'flags'
 *  record only updates a confirmed message and a checkpoint replaces the folder's previous one. */
function apply(state: State, r: JournalRecord): void {
  if (r.kind === 'checkpoint') {
    state.checkpoints.set(r.entry.mailbox, r.entry);
    return;
  }
  const key = journalKey(r.entry.mailbox, r.entry.id);
  const prev = state.ids.get(key);
  if (r.kind === 'flags') {
    if (prev?.kind === 'c') prev.flags = r.entry.flags.length ? [...r.entry.flags] : NO_FLAGS;
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
        flags: e.flags?.length ? [...e.flags] : NO_FLAGS,
      });
      break;
    }
    case 'failed':
      state.ids.set(key, { kind: 'x', ...r.entry });
      break;
  }
  bump(state.counts, folder, state.ids.get(key)!.kind, 1);
}

function bump(total: JournalCounts, folder: JournalCounts, kind: IdState['kind'], by: 1 | -1): void {
  const field = kind === 'c' ? 'confirmed' : kind === 's' ? 'sent' : 'failed';
  total[field] += by;
  folder[field] += by;
}

function stripKind<T extends { kind: string }>(s: T): Omit<T, 'kind'> {
  const { kind: _kind, ...rest } = s;
  return rest;
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the file's own data is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function errText(err: unknown): string {
  // Node's errno messages read "ENOSPC: no space left on device, write": the code first, then what failed.
  const e = err as Error | undefined;
  return e && typeof e.message === 'string' ? e.message : String(err);
}
