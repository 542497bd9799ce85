import type { Prepared } from './import-types.js';

// The messages read and placed but not yet handed to the send pipeline (importer.ts), bounded in count and in bytes:
// a window is journalled with one fsync, then sent. Its own small class, not `let` variables of the importer's
// source loop captured by closures: V8 deoptimized that long-lived async function on every run ("not a Smi" at the
// window's byte count) and compiled it whole again (40–120 ms of compile-thread time); the same deopt now lands in
// add(), 73 bytes of bytecode, recompiled in ~2 ms — docs/measurements.md "V8's compiler tiers".

export class SendWindow {
  private items: Prepared[] = [];
  private bytes = 0;

  constructor(
    /** Messages at most before the window is full (resize() sets it anew between windows). */
    private maxItems: number,
    /** Bytes (as sent) at most before the window is full; one message is always taken. */
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Adds one message; true when the window is now full and should be sent. */
  add(p: Prepared): boolean {
    this.items.push(p);
    this.bytes += p.append.data.length;
    return this.items.length >= this.maxItems || this.bytes >= this.maxBytes;
  }

  /** The next windows hold at most `maxItems` messages (the pool's batch size changed). */
  resize(maxItems: number): void {
    this.maxItems = Math.max(1, maxItems);
  }

  /** Empties the window and returns what it held, in order. */
  take(): Prepared[] {
    const w = this.items;
    this.items = [];
    this.bytes = 0;
    return w;
  }
}
