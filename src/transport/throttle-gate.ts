// The account's throttle gate: while the server has asked for quiet, everything waits. One per Pool (throttling is
// per account, issue 13), told by the pool when a refusal names a backoff; it tells the pool when to hold and
// release its connections, and lets callers await the end of the quiet.

export class ThrottleGate {
  /** Wall time (Date.now) until which the server asked for quiet; 0 = open. */
  private until = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<() => void> = [];

  /** `onChange(true)` when the quiet starts, `onChange(false)` when it ends. */
  constructor(private readonly onChange: (quiet: boolean) => void) {}

  get quiet(): boolean {
    return this.until > Date.now();
  }

  /** The server asked for delayMs of quiet; a shorter request never cuts a longer quiet short. */
  hold(delayMs: number): void {
    const until = Date.now() + delayMs;
    if (until <= this.until) return;
    const starting = !this.quiet;
    this.until = until;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delayMs);
    if (starting) this.onChange(true);
  }

  /** Ends the quiet now (its time passed, the run was interrupted, or the pool is closing). */
  open(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const wasQuiet = this.until !== 0;
    this.until = 0;
    for (const w of this.waiters.splice(0)) w();
    if (wasQuiet) this.onChange(false);
  }

  /** Resolves when the quiet has passed (at once when open). */
  whenOpen(): Promise<void> {
    if (!this.quiet) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
}
