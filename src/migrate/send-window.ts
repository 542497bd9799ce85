import type { Prepared } from './import-types.js';

// The messages read and placed but not yet handed to the send pipeline (importer.ts), bounded in count and in bytes:
// a window is journalled with one fsync, then sent. Its own small class, not `let` variables of the importer's
// source loop captured by closures: V8 deoptimized that long-lived async function on every run ("not a Smi" at the
// window's byte count) and compiled it whole again (40–120 ms of compile-thread time); the same deopt now lands in
// add(), 73 bytes of bytecode, recompiled in ~2 ms — docs/measurements.md "V8's compiler tiers".
//
// Slow start: the first window is full at `firstItems` messages and each one taken lets the next hold twice as many,
// up to `maxItems`. A first window of maxItems (400 messages with the defaults) kept the server idle while the reader
// read and planned all of them: in a 1000-message run into Dovecot the first APPEND left after 430 messages had been
// read (strace; 152 with the slow start, docs/measurements.md "The first APPEND").
export class SendWindow {
  private items: Prepared[] = [];
  private bytes = 0;
  /** Messages at which the current window is full (slow start: grows to maxItems). */
  private limit: number;

  constructor(
    /** Messages at most before the window is full. */
    private readonly maxItems: number,
    /** Bytes (as sent) at most before the window is full; one message is always taken. */
    private readonly maxBytes: number,
    /** The first window's message count (default: maxItems, no slow start). */
    firstItems = maxItems,
  ) {
    this.limit = Math.max(1, Math.min(maxItems, firstItems));
  }

  /** Messages at which the window now counts as full. */
  get fullAt(): number {
    return this.limit;
  }

  get length(): number {
    return this.items.length;
  }

  /** Adds one message; true when the window is now full and should be sent. */
  add(p: Prepared): boolean {
    this.items.push(p);
    this.bytes += p.append.data.length;
    return this.items.length >= this.limit || this.bytes >= this.maxBytes;
  }

  /** Empties the window and returns what it held, in order; the next window may hold twice as many (slow start). */
  take(): Prepared[] {
    const w = this.items;
    this.items = [];
    this.bytes = 0;
    this.limit = Math.min(this.maxItems, this.limit * 2);
    return w;
  }
}
