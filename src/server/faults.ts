// Fault switches for tests, settable at start (ServerOptions.faults) and at run time (server.faults.set()).
// Each switch mimics a behaviour seen on real servers (facts.md "Peer tools"): Zimbra drops after 5 errors in a
// row, Microsoft 365 throttles with a suggested backoff, Dovecot caps connections per user+IP, and so on.
// Per-connection counters (bytes, commands) count from the connection's start, whenever the switch was set.

/** Fail matching commands with a chosen status and response code. */
export interface FailRule {
  /** Upper-case verbs ('APPEND', 'UID FETCH', ...); default ['APPEND']. */
  verbs?: string[];
  status?: 'NO' | 'BAD';
  /** Response code without brackets: 'TRYCREATE', 'OVERQUOTA', 'LIMIT', 'UNAVAILABLE', ... */
  code?: string;
  text?: string;
  /** How many commands to fail, counted across all connections; default: all. */
  times?: number;
  /** After the reply, send `* BYE` and close (Microsoft 365 does after throttling). */
  thenBye?: boolean;
}

export interface FaultOptions {
  /** Wait before each `+` continuation. */
  continuationDelayMs?: number;
  /** Wait before each tagged reply (after the command ran). */
  taggedDelayMs?: number;
  /** Only these verbs get taggedDelayMs; default all. */
  delayVerbs?: string[];
  /** Destroy the connection once it has received this many bytes (the bytes after are never seen). */
  dropAfterBytes?: number;
  /** Destroy the connection when command N+1 arrives, without running or answering it. */
  dropAfterCommands?: number;
  /** With dropAfterCommands: run command N+1 first, then drop without answering (outcome unknown to the client). */
  dropAfterRunning?: boolean;
  /** Send `* BYE [UNAVAILABLE]` instead of answering command N+1, then close. */
  byeAfterCommands?: number;
  /** Greet with `* BYE [UNAVAILABLE]` and close (a server refusing service). */
  byeOnGreeting?: boolean;
  /** NO/BAD with a response code for matching commands. */
  fail?: FailRule;
  /** `NO Request is throttled. Suggested Backoff Time: N ms` (Microsoft 365 wording). */
  throttle?: { backoffMs: number; verbs?: string[]; times?: number; thenBye?: boolean };
  /** Stop answering (and running) anything from command N+1 on; 0 = at once, greeting included for new connections. */
  stallAfterCommands?: number;
  /** After this many NO/BAD replies in a row, `* BYE` and close (Zimbra drops after 5). */
  disconnectAfterErrors?: number;
}

export class Faults {
  private opts: FaultOptions;
  private failUsed = 0;
  private throttleUsed = 0;

  constructor(initial: FaultOptions = {}) {
    this.opts = { ...initial };
  }

  /** Merges switches in; `undefined` values turn a switch off. Counters of `times` restart when that rule is set. */
  set(partial: FaultOptions): void {
    if ('fail' in partial) this.failUsed = 0;
    if ('throttle' in partial) this.throttleUsed = 0;
    this.opts = { ...this.opts, ...partial };
  }

  clear(): void {
    this.opts = {};
    this.failUsed = 0;
    this.throttleUsed = 0;
  }

  get current(): Readonly<FaultOptions> {
    return this.opts;
  }

  /** True if any switch is on; lets the hot path skip every other check. */
  get active(): boolean {
    for (const k in this.opts) if ((this.opts as Record<string, unknown>)[k] !== undefined) return true;
    return false;
  }

  /** The failure to answer `verb` with, consuming one use; undefined when none applies. */
  takeFailure(verb: string): { status: 'NO' | 'BAD'; code?: string; text: string; thenBye: boolean } | undefined {
    const t = this.opts.throttle;
    if (t && (t.verbs ?? ['APPEND']).includes(verb) && (t.times === undefined || this.throttleUsed < t.times)) {
      this.throttleUsed++;
      return { status: 'NO', text: `Request is throttled. Suggested Backoff Time: ${t.backoffMs} ms`, thenBye: !!t.thenBye };
    }
    const f = this.opts.fail;
    if (f && (f.verbs ?? ['APPEND']).includes(verb) && (f.times === undefined || this.failUsed < f.times)) {
      this.failUsed++;
      const r = { status: f.status ?? 'NO', text: f.text ?? 'Command failed (fault injected)', thenBye: !!f.thenBye };
      return f.code ? { ...r, code: f.code } : r;
    }
    return undefined;
  }

  taggedDelayFor(verb: string): number {
    const ms = this.opts.taggedDelayMs ?? 0;
    if (ms <= 0) return 0;
    return !this.opts.delayVerbs || this.opts.delayVerbs.includes(verb) ? ms : 0;
  }
}
