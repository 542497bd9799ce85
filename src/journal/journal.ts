import { close as closeCb, closeSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, JournalError } from '../core/errors.js';
import { openAppendNoFollow } from '../core/safe-file.js';
import { fileIo, type JournalIo } from './journal-io.js';
import { acquireLock, releaseLock } from './journal-lock.js';
import {
  encodeConfirmed,
  encodeFailed,
  encodeHeader,
  encodeSent,
  type ConfirmedEntry,
  type FailedEntry,
  type JournalHeader,
  type JournalRecord,
  type SentEntry,
  type StoredHeader,
} from './journal-record.js';
import { replayJournal } from './journal-replay.js';

export type { ConfirmedEntry, FailedEntry, JournalHeader, SentEntry, StoredHeader } from './journal-record.js';
export { defaultJournalPath, journalDirectory, type JournalTarget } from './journal-path.js';
export { fileIo, type JournalIo } from './journal-io.js';

// The resume journal (issue 4). The importer's protocol, and why it cannot duplicate a message after kill -9:
//  1. `await recordSent(group)` BEFORE the group's APPENDs are written to the socket. The promise resolves only
//     once the lines are written and fdatasync'd, so anything that may be on the server is 'sent' on disk
//     (mbsync fsyncs its journal before propagating messages for the same reason).
//  2. `recordConfirmed(...)` when the tagged OK comes: buffered, written in batches (size or timer). Losing some
//     in a crash only costs a look-up on the re-run, never a duplicate.
//  3. On a re-run `status(id)`: 'confirmed' → skip; 'sent' → search the server (Message-ID + size, or the
//     fingerprint) before sending again; undefined → send.
//  4. `recordFailed(...)` for a permanent per-message refusal. A failed message is NOT skipped on the next run:
//     status() reports undefined so it is tried again (the server may have been fixed); failed() lists them.
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

/** In-memory state per id. CONFIRMED is a constant so a million confirmed ids cost only their keys. */
const CONFIRMED = 1;
type IdState = typeof CONFIRMED | SentEntry | FailedEntry;

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
  readonly #ids: Map<string, IdState>;
  readonly #counts: JournalCounts;
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
    ids: Map<string, IdState>,
    counts: JournalCounts,
    options: JournalOptions,
  ) {
    this.path = path;
    this.#fd = fd;
    this.#lockPath = lockPath;
    this.header = header;
    this.repaired = repaired;
    this.#ids = ids;
    this.#counts = counts;
    this.#io = options.io ?? fileIo;
    this.#fsync = options.fsync ?? true;
    this.#batchMs = options.batchMs ?? 100;
    this.#batchEntries = options.batchEntries ?? 512;
  }

  /**
   * Opens (creating it and its directory if needed) and replays the journal at `path`.
   * Rejects with JournalError when the file belongs to another source/target, has a corrupt line before the last,
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
      const ids = new Map<string, IdState>();
      const counts: JournalCounts = { confirmed: 0, sent: 0, failed: 0 };
      const result = replayJournal(
        fd,
        path,
        (h) => {
          if (h.source !== header.source || h.target !== header.target) {
            throw new JournalError(
              path,
              `belongs to another import (source ${JSON.stringify(h.source)}, target ${JSON.stringify(h.target)}; ` +
                `this run: source ${JSON.stringify(header.source)}, target ${JSON.stringify(header.target)})`,
            );
          }
        },
        (r) => apply(ids, counts, r),
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
          stored = { version: 1, source: header.source, target: header.target, created: created.toISOString() };
          io.syncSync(fd);
          syncDirectory(dir); // so the new file's name survives a power cut, not just its data
        } else if (repaired) {
          io.syncSync(fd);
        }
      } catch (err) {
        throw new JournalError(path, `cannot write: ${errText(err)}`, { cause: err });
      }
      return new Journal(path, fd, lockPath, stored, repaired, ids, counts, options);
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      releaseLock(lockPath);
      throw err;
    }
  }

  get counts(): JournalCounts {
    return { ...this.#counts };
  }

  /** Bytes, writes and syncs since open (for reports and benchmarks). */
  get stats(): JournalStats {
    return { ...this.#stats };
  }

  status(id: string): 'confirmed' | 'sent' | undefined {
    const s = this.#ids.get(id);
    if (s === undefined) return undefined;
    if (s === CONFIRMED) return 'confirmed';
    return 'code' in s ? undefined : 'sent';
  }

  /** Sent but never confirmed nor failed: each must be looked up on the server before it is sent again. */
  unconfirmed(): SentEntry[] {
    const out: SentEntry[] = [];
    for (const s of this.#ids.values()) if (s !== CONFIRMED && !('code' in s)) out.push({ ...s });
    return out;
  }

  /** Messages whose last record is a permanent failure (they are retried on the next run). */
  failed(): FailedEntry[] {
    const out: FailedEntry[] = [];
    for (const s of this.#ids.values()) if (s !== CONFIRMED && 'code' in s) out.push({ ...s });
    return out;
  }

  /** Resolves once these intents are on disk; only then may their messages be written to the socket. */
  recordSent(entries: readonly SentEntry[]): Promise<void> {
    const bad = this.#unusable();
    if (bad) return Promise.reject(bad);
    for (const e of entries) {
      this.#buf.push(encodeSent(e));
      apply(this.#ids, this.#counts, { kind: 'sent', entry: { ...e } });
    }
    return this.#waitDurable();
  }

  /** Buffered; written in batches. Throws the journal's failure if it has failed. */
  recordConfirmed(entries: readonly ConfirmedEntry[]): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    for (const e of entries) {
      this.#buf.push(encodeConfirmed(e));
      apply(this.#ids, this.#counts, { kind: 'confirmed', entry: e });
    }
    this.#scheduleBatch();
  }

  /** A permanent refusal (e.g. NO without TRYCREATE for this message). `reason` must not contain secrets. */
  recordFailed(id: string, code: string, reason: string): void {
    const bad = this.#unusable();
    if (bad) throw bad;
    const entry: FailedEntry = { id, code, reason };
    this.#buf.push(encodeFailed(entry));
    apply(this.#ids, this.#counts, { kind: 'failed', entry });
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

/** Applies one record to the in-memory state. 'confirmed' is final: no later record downgrades it. */
function apply(ids: Map<string, IdState>, counts: JournalCounts, r: JournalRecord): void {
  const prev = ids.get(r.entry.id);
  if (prev === CONFIRMED) return;
  const prevKind = prev === undefined ? undefined : 'code' in prev ? 'failed' : 'sent';
  if (prevKind === 'sent') counts.sent--;
  else if (prevKind === 'failed') counts.failed--;
  switch (r.kind) {
    case 'sent':
      counts.sent++;
      ids.set(r.entry.id, r.entry);
      break;
    case 'confirmed':
      counts.confirmed++;
      ids.set(r.entry.id, CONFIRMED);
      break;
    case 'failed':
      counts.failed++;
      ids.set(r.entry.id, r.entry);
      break;
  }
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
