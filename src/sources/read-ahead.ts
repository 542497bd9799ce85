// Read-ahead over a source: starts read() for the next messages while the caller works on the current one.
// Measured here (ext4, 2 vCPU): one read() at a time is bound by thread-pool round trips, ~5,000 small files/s;
// 16 in flight, ~31,000/s. Order is kept, and bytes in flight are capped so memory stays bounded.
import type { NormalizedMessage, SourceMessage } from '../core/types.js';
import { SourceError, toMailmigrateError } from '../core/errors.js';
import { FileMessage } from './file-message.js';
import type { SkippedPath, SourceItem } from './source.js';

export type ReadItem =
  | { readonly kind: 'message'; readonly message: SourceMessage; readonly normalized: NormalizedMessage }
  | { readonly kind: 'rejected'; readonly error: SourceError; readonly message?: SourceMessage | undefined }
  | ({ readonly kind: 'skipped' } & SkippedPath);

/** What `admit` may answer to end the walk (the items not yet asked about are never read). */
export const STOP_READING: unique symbol = Symbol('stop reading');

/** The item to read and yield (the one asked about, or another), undefined to leave it, or STOP_READING. */
export type Admitted = SourceItem | undefined | typeof STOP_READING;

export interface ReadAheadOptions {
  /**
   * Asked about each item before it is read, in order, one at a time. Synchronous in the common case: a decision
   * per message made here is no async generator of its own between the source and the read-ahead (issue 14: an
   * iteration level costs a few promises per message).
   */
  readonly admit?: ((item: SourceItem) => Admitted | Promise<Admitted>) | undefined;
  /** Messages read ahead at most (default 16). */
  readonly depth?: number | undefined;
  /** Raw bytes of messages being read ahead at most (default 64 MiB); one message is always allowed. */
  readonly maxBytes?: number | undefined;
}

type Settled = { ok: true; value: NormalizedMessage } | { ok: false; error: unknown };

// Settled into a value at once: a rejection waiting in the queue must not count as unhandled. Module-level
// functions, not closures made per message (one read per message of every import).
const fulfilled = (value: NormalizedMessage): Settled => ({ ok: true, value });
const rejected = (error: unknown): Settled => ({ ok: false, error });

interface Slot {
  readonly item: SourceItem;
  /** A read on its way, or (read synchronously: FileMessage.readNow) its outcome already. */
  readonly result: Promise<Settled> | Settled | undefined;
  readonly size: number;
}

/** Starts reading a message: settled at once when its source reads it on this thread anyway (no promise). */
function startRead(message: SourceMessage): Promise<Settled> | Settled {
  if (message instanceof FileMessage) {
    try {
      const value = message.readNow();
      if (value) return { ok: true, value };
    } catch (error) {
      return { ok: false, error };
    }
  }
  return message.read().then(fulfilled, rejected);
}

// The per-message steps are plain functions, not code inside the async generator below: V8 compiles a long-lived
// async generator whole (and again after a deopt), so what runs per message stays out of it (issue 14,
// docs/measurements.md "V8's compiler tiers").

/** Starts reading `item` if it is a message and queues it; returns the bytes it adds to what is in flight. */
function enqueue(queue: Slot[], item: SourceItem): number {
  if (item.kind !== 'message') {
    queue.push({ item, result: undefined, size: 0 });
    return 0;
  }
  const size = item.message.size;
  queue.push({ item, result: startRead(item.message), size });
  return size;
}

/** A read's outcome as the item yielded: the message with its bytes, or 'rejected' with a SourceError. */
function toReadItem(message: SourceMessage, s: Settled): ReadItem {
  if (s.ok) return { kind: 'message', message, normalized: s.value };
  const error = s.error instanceof SourceError ? s.error : new SourceError(message.origin, toMailmigrateError(s.error).message, 'E_SOURCE_UNREADABLE', { cause: s.error });
  return { kind: 'rejected', error, message };
}

/**
 * Yields the items of `items` in order with each message already read; a read() failure becomes a 'rejected'
 * item carrying the message, so the caller can count it.
 */
export async function* readAhead(items: AsyncIterable<SourceItem>, options: ReadAheadOptions = {}): AsyncGenerator<ReadItem> {
  const depth = Math.max(1, options.depth ?? 16);
  const maxBytes = Math.max(1, options.maxBytes ?? 64 * 1024 * 1024);
  const admit = options.admit;
  const it = items[Symbol.asyncIterator]();
  const queue: Slot[] = [];
  let inFlight = 0;
  let done = false; // the source ended
  let stopped = false; // admit said STOP_READING
  try {
    for (;;) {
      while (!done && !stopped && queue.length < depth && (queue.length === 0 || inFlight < maxBytes)) {
        const r = await it.next();
        if (r.done) {
          done = true;
          break;
        }
        let item: SourceItem = r.value;
        if (admit) {
          const a = admit(item);
          const admitted = a instanceof Promise ? await a : a;
          if (admitted === STOP_READING) {
            stopped = true;
            break;
          }
          if (admitted === undefined) continue;
          item = admitted;
        }
        inFlight += enqueue(queue, item);
      }
      const slot = queue.shift();
      if (!slot) return;
      inFlight -= slot.size;
      if (slot.item.kind !== 'message') {
        yield slot.item; // 'rejected' and 'skipped' pass through in order
        continue;
      }
      yield toReadItem(slot.item.message, slot.result instanceof Promise ? await slot.result : slot.result!);
    }
  } finally {
    if (!done) await it.return?.();
  }
}
