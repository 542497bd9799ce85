import { closeSync } from 'node:fs';
import { JournalError } from '../core/errors.js';
import type { JournalIo } from './journal-io.js';

// The journal's group commit: lines are buffered, and one loop writes and fdatasyncs them — concurrent recordSent
// calls while a write+fsync runs are merged into the next one, so N connections cost about one fdatasync per round,
// not one per message. Any write or sync error fails the writer for good: the waiting promises reject with
// JournalError and every later call throws it, so the importer stops sending before it could lose track of a
// message. Split from journal.ts (issue 13): this file owns the descriptor's writes; journal.ts owns the records,
// the state and the file's lifecycle (lock, open, close).

export interface JournalStats {
  writes: number;
  syncs: number;
  bytes: number;
}

export interface WriterOptions {
  readonly fsync: boolean;
  readonly batchMs: number;
  /** Buffered entries (messages, not lines: a format 3 group line holds many) that trigger a write. */
  readonly batchEntries: number;
}

interface Waiter {
  resolve(): void;
  reject(err: JournalError): void;
}

export class JournalWriter {
  readonly #path: string;
  readonly #fd: number;
  readonly #io: JournalIo;
  readonly #fsync: boolean;
  readonly #batchMs: number;
  readonly #batchEntries: number;
  readonly #stats: JournalStats = { writes: 0, syncs: 0, bytes: 0 };

  /** Lines not yet handed to the kernel, the entries they hold, and the callers waiting for them to be durable. */
  #buf: string[] = [];
  #bufEntries = 0;
  /** Lines handed to the kernel by the write in flight (they may be in the file in part). */
  #writing: readonly string[] = [];
  #waiters: Waiter[] = [];
  #running = false; // the write loop owns the fd
  #startScheduled = false;
  #flushRequested = false;
  #timer: NodeJS.Timeout | undefined;
  #failure: JournalError | undefined;
  #closed = false;

  constructor(path: string, fd: number, io: JournalIo, options: WriterOptions) {
    this.#path = path;
    this.#fd = fd;
    this.#io = io;
    this.#fsync = options.fsync;
    this.#batchMs = options.batchMs;
    this.#batchEntries = options.batchEntries;
  }

  get stats(): JournalStats {
    return { ...this.#stats };
  }

  get failure(): JournalError | undefined {
    return this.#failure;
  }

  /** The write loop holds the descriptor (an asynchronous write or sync is in flight). */
  get running(): boolean {
    return this.#running;
  }

  /** Nothing buffered and nothing being written. */
  get idle(): boolean {
    return this.#buf.length === 0 && !this.#running;
  }

  /** Lines not known to be in the file yet, oldest first: the write in flight, then the buffer. */
  pendingLines(): string[] {
    return [...this.#writing, ...this.#buf];
  }

  /** Buffers lines that hold `entries` records; the caller then waits (waitDurable) or schedules (scheduleBatch). */
  add(lines: readonly string[], entries: number): void {
    for (const l of lines) this.#buf.push(l);
    this.#bufEntries += entries;
  }

  /** No more asynchronous writes start (the journal is closing); the timer is cleared. */
  stop(): void {
    this.#closed = true;
    this.clearTimer();
  }

  /**
   * For a second SIGINT: stops, then writes and syncs what is buffered synchronously and settles every waiter.
   * Closes the fd unless an asynchronous write still holds it (closing it could let the pending write land in a file
   * opened later with the same number; the process is about to exit anyway). Returns the failure, if any.
   */
  drainSync(): JournalError | undefined {
    this.stop();
    const lines = this.#buf;
    const waiters = this.#waiters;
    this.#buf = [];
    this.#bufEntries = 0;
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
        failure = this.fail(err);
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
    return failure;
  }

  /** Resolves once everything added so far is written (and synced); rejects with the journal's failure. */
  waitDurable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Buffered lines go out when a batch fills, else after batchMs. */
  scheduleBatch(): void {
    if (this.#bufEntries >= this.#batchEntries) this.#kick();
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

  clearTimer(): void {
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
        const due = this.#waiters.length > 0 || this.#flushRequested || this.#bufEntries >= this.#batchEntries;
        if (!due || (this.#buf.length === 0 && this.#waiters.length === 0)) break;
        this.#flushRequested = false;
        this.clearTimer();
        const lines = this.#buf;
        const waiters = this.#waiters;
        this.#buf = [];
        this.#bufEntries = 0;
        this.#waiters = [];
        // Waiters whose lines went out in an earlier round of this loop are already durable.
        if (lines.length > 0) {
          const data = Buffer.from(lines.join(''), 'utf8');
          this.#writing = lines;
          try {
            await this.#io.write(this.#fd, data);
            this.#stats.writes++;
            this.#stats.bytes += data.length;
            if (this.#fsync) {
              await this.#io.sync(this.#fd);
              this.#stats.syncs++;
            }
          } catch (err) {
            const failure = this.fail(err);
            for (const w of waiters) w.reject(failure);
            return;
          } finally {
            this.#writing = [];
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
  fail(err: unknown): JournalError {
    if (!this.#failure) {
      this.#failure = new JournalError(
        this.#path,
        `cannot write (${errText(err)}); stopping before any message could go unrecorded`,
        { cause: err },
      );
      this.clearTimer();
      const waiting = this.#waiters;
      this.#waiters = [];
      this.#buf = [];
      this.#bufEntries = 0;
      for (const w of waiting) w.reject(this.#failure);
    }
    return this.#failure;
  }
}

function errText(err: unknown): string {
  // Node's errno messages read "ENOSPC: no space left on device, write": the code first, then what failed.
  const e = err as Error | undefined;
  return e && typeof e.message === 'string' ? e.message : String(err);
}
