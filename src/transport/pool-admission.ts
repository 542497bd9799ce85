// What the pool admits: batches submitted through Pool.append() count from submission until their outcome — sending,
// queued, waiting for a folder probe, or sleeping on the server's backoff (issue 13: uncounted sleepers let 5,001
// appends out while the server asked for 2 s of quiet) — and a caller may submit another only below the pool's
// capacity in batches AND below maxBytesInFlight in bytes, and not while the server asks for quiet. One batch is
// always admitted, however large, so a single big message still goes.

/** 16 MiB: far above the bandwidth-delay product of any link an import runs over (100 Mbit/s × 50 ms = 625 KB), so it
 *  costs no throughput; by count alone 1.5 MB messages could hold 300 MB (docs/pool-memory.md: 314 → 241 MB). */
export const DEFAULT_MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

export interface AdmissionLimits {
  /** Closing or aborted: every waiter goes at once, to see why and stop. */
  ending(): boolean;
  /** The server asks for quiet. */
  throttled(): boolean;
  /** Batches the connections may hold at the current depth. */
  capacity(): number;
  readonly maxBytes: number;
}

export class PoolAdmission {
  readonly #waiters: Array<() => void> = [];
  /** Batches submitted and not yet settled. */
  active = 0;
  /** Their bytes. */
  activeBytes = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  enter(bytes: number): void {
    this.active++;
    this.activeBytes += bytes;
  }

  leave(bytes: number): void {
    this.active--;
    this.activeBytes -= bytes;
    this.wake();
  }

  /** Resolves when another batch may be submitted (see the header). */
  whenWritable(): Promise<void> {
    if (this.#writable()) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Something changed (quiet ended, depth raised, a connection joined): lets in whoever now may go. */
  wake(): void {
    while (this.#waiters.length && this.#writable()) this.#waiters.shift()!();
  }

  #writable(): boolean {
    if (this.limits.ending()) return true;
    if (this.limits.throttled()) return false;
    if (this.active === 0) return true;
    return this.active < this.limits.capacity() && this.activeBytes < this.limits.maxBytes;
  }
}
