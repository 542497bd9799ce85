import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SourceError } from '../core/errors.js';
import type { NormalizedMessage } from '../core/types.js';
import { fsError } from './fs-walk.js';
import { normalizedFrom } from './normalize.js';
import type { ReadRequest, ReadResponse } from './read-worker.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './source.js';

/**
 * Reads, normalizes and fingerprints whole-file messages (Maildir, .eml) on worker threads. Measured: `import` is
 * CPU-bound on its main thread (file syscalls, LF→CRLF, SHA-256 were ~35 % of it), so moving that work to another
 * core raises throughput wherever a core is free. Order is the caller's business (readAhead awaits in order).
 * Hand-written: the npm worker-pool packages add a task queue and serialization we do not need for one message
 * type, and cannot transfer the bytes without a copy.
 */
export class ReadPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (m: NormalizedMessage & { mtimeMs: number }) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private turn = 0;
  private failed: Error | undefined;

  /** Messages the readers asked about (wants()) so far. */
  private asked = 0;

  /**
   * `warmUp`: the first this-many messages are left to the calling thread (wants() is false) and no thread is
   * started for them. A worker costs ~0.12 s of CPU to start (a V8 isolate and the read-worker module: a small
   * import took 0.781 s of CPU with two workers against 0.535 s with none, `node scripts/run-cost.mjs`), and it
   * takes over ~35 % of the main thread's ~480 µs per message: two workers pay for themselves after ~1,400 messages.
   * A run of a few hundred messages never starts them; a large one reads its first thousand on the main thread.
   */
  constructor(
    readonly threads: number,
    private readonly warmUp = DEFAULT_WARM_UP_MESSAGES,
  ) {}

  /** Threads started so far (0 until the warm-up has passed or read() was called). */
  get started(): number {
    return this.workers.length;
  }

  /** Whether the next message should be read here (true) or on the calling thread (false, during the warm-up). */
  wants(): boolean {
    return ++this.asked > this.warmUp;
  }

  private start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(WORKER_URL);
      w.unref();
      w.on('message', (r: ReadResponse) => this.settle(r));
      w.on('error', (err) => this.fail(err));
      this.workers.push(w);
    }
  }

  /**
   * Threads worth starting: one per core beyond two (the main thread's and one for the server or the OS), at most 4.
   * Measured on this 2-core machine: a worker gave no gain (5000 messages into Dovecot 1.61 s vs 1.62 s; 30,000 into
   * the in-process server 5.5 s either way) because the second core is already busy, so on 2 cores the default is
   * the main thread. On more cores the file reads, LF→CRLF and SHA-256 (~35 % of the main thread) can run in parallel.
   */
  static defaultThreads(): number {
    if (!readPoolAvailable()) return 0;
    return Math.max(0, Math.min(4, availableParallelism() - 2));
  }

  /** Reads `path` (opened as safe-read.ts does), at most `maxBytes`; `origin` names it in errors. */
  read(path: string, origin: string, maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES): Promise<NormalizedMessage & { mtimeMs: number }> {
    if (this.failed) return Promise.reject(this.failed);
    this.start();
    const id = this.nextId++;
    const w = this.workers[this.turn++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, path, origin, maxBytes } satisfies ReadRequest);
    });
  }

  private settle(r: ReadResponse): void {
    const p = this.waiting.get(r.id);
    if (!p) return;
    this.waiting.delete(r.id);
    if (r.ok) {
      const n = normalizedFrom(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), r.messageId, r.hasNul, r.warnings, r.headerEnd, r.fingerprint);
      p.resolve(Object.assign(n, { mtimeMs: r.mtimeMs }));
    } else if (r.errno) {
      p.reject(fsError(r.path, Object.assign(new Error(r.message), { code: r.errno })));
    } else {
      p.reject(new SourceError(r.path, r.message, r.code));
    }
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Messages a run reads on its own thread before the pool's threads start (see the constructor). */
export const DEFAULT_WARM_UP_MESSAGES = 1000;

/** The compiled worker next to this module (dist/). From TypeScript sources it does not exist: see `available`. */
const WORKER_URL = new URL('./read-worker.js', import.meta.url);

/** Whether worker reads can run here (false when running from .ts sources under a TS loader, as in dev tests). */
export function readPoolAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}
