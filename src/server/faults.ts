// Fault switches for tests, settable at start (ServerOptions.faults) and at run time (server.faults.set()).
// Each switch mimics a behaviour seen on real servers (docs/measurements.md "Peer tools"): Zimbra drops after 5 errors in a
// row, Microsoft 365 throttles with a suggested backoff, Dovecot caps connections per user+IP, and so on.
// Per-connection counters (bytes, commands) count from the connection's start, whenever the switch was set.
// The switches reach a session only through its hooks (session-hooks.ts): while no switch is on, the server gives
// sessions the plain hooks and none of this code runs.
import { mailboxArg, type Reply } from './command-context.js';
import type { CommandOverride, SessionHooks } from './session-hooks.js';

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
  /**
   * A lock per folder, as Courier takes one for each APPEND into a maildir: a command of `verbs` (default APPEND)
   * holds its folder's lock while it runs and `holdMs` after; one that finds the folder locked tries again every
   * `retryMs` until it is free. Courier measured here (docs/adaptation.md): two connections into one folder, most
   * APPENDs a few ms, a few waiting whole seconds — its lock retry — which cost 62 % of the time spent waiting.
   */
  folderLock?: { holdMs: number; retryMs: number; verbs?: string[] };
}

export class Faults {
  private opts: FaultOptions;
  private failUsed = 0;
  private throttleUsed = 0;
  private on = false;
  private readonly listeners = new Set<(active: boolean) => void>();
  /** Folders whose lock (folderLock) a command holds now, shared by every session of this server. */
  private readonly lockedFolders = new Set<string>();
  /** The hooks that apply these switches to a session (session-hooks.ts); one object for all sessions. */
  readonly hooks: SessionHooks;

  constructor(initial: FaultOptions = {}) {
    this.opts = { ...initial };
    this.on = anySet(this.opts);
    this.hooks = faultHooks(this);
  }

  /** Merges switches in; `undefined` values turn a switch off. Counters of `times` restart when that rule is set. */
  set(partial: FaultOptions): void {
    if ('fail' in partial) this.failUsed = 0;
    if ('throttle' in partial) this.throttleUsed = 0;
    this.opts = { ...this.opts, ...partial };
    this.changed();
  }

  clear(): void {
    this.opts = {};
    this.failUsed = 0;
    this.throttleUsed = 0;
    this.changed();
  }

  get current(): Readonly<FaultOptions> {
    return this.opts;
  }

  /** True if any switch is on. */
  get active(): boolean {
    return this.on;
  }

  /** Called with `active` after every set()/clear(): the server re-hooks its live sessions. */
  onChange(listener: (active: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.on = anySet(this.opts);
    for (const l of this.listeners) l(this.on);
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

  /**
   * Takes `folder`'s lock, polling every retryMs while another command holds it (Courier's lock is polled, not
   * queued: who gets it next is luck). The switch turned off while waiting lets the command through. Every holder
   * gives the lock back holdMs after its command ran, so a wait ends.
   */
  async lockFolder(folder: string): Promise<() => Promise<void>> {
    for (let rule = this.opts.folderLock; rule && this.lockedFolders.has(folder); rule = this.opts.folderLock) {
      await sleep(rule.retryMs);
    }
    this.lockedFolders.add(folder);
    return async () => {
      const holdMs = this.opts.folderLock?.holdMs ?? 0;
      if (holdMs > 0) await sleep(holdMs);
      this.lockedFolders.delete(folder);
    };
  }

  taggedDelayFor(verb: string): number {
    const ms = this.opts.taggedDelayMs ?? 0;
    if (ms <= 0) return 0;
    return !this.opts.delayVerbs || this.opts.delayVerbs.includes(verb) ? ms : 0;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function anySet(o: FaultOptions): boolean {
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

/** The fault switches as session hooks. Reads the switches at each call, so set() applies to live sessions. */
function faultHooks(faults: Faults): SessionHooks {
  return {
    greeting() {
      const f = faults.current;
      if (f.stallAfterCommands === 0) return 'stall';
      return f.byeOnGreeting ? 'bye' : 'greet';
    },
    received(chunk, bytesBefore) {
      const limit = faults.current.dropAfterBytes;
      if (limit === undefined) return { chunk, thenDrop: false };
      const room = limit - bytesBefore;
      if (room <= 0) return 'drop';
      // The bytes after the limit are never seen, as when a connection dies mid-transfer.
      return chunk.length >= room ? { chunk: chunk.subarray(0, room), thenDrop: true } : { chunk, thenDrop: false };
    },
    command(cmd, n): CommandOverride | undefined {
      const f = faults.current;
      if (f.stallAfterCommands !== undefined && n > f.stallAfterCommands) return { kind: 'stall' };
      if (f.byeAfterCommands !== undefined && n > f.byeAfterCommands) {
        return { kind: 'bye', code: 'UNAVAILABLE', text: 'Server going away (fault injected)' };
      }
      if (f.dropAfterCommands !== undefined && n > f.dropAfterCommands) return { kind: 'drop', runFirst: !!f.dropAfterRunning };
      const failure = faults.takeFailure(cmd.verb);
      if (!failure) return undefined;
      const reply: Reply = failure.code
        ? { status: failure.status, code: failure.code, text: failure.text }
        : { status: failure.status, text: failure.text };
      return { kind: 'reply', reply, thenBye: failure.thenBye };
    },
    continuationDelayMs: () => faults.current.continuationDelayMs ?? 0,
    taggedDelayMs: (verb) => faults.taggedDelayFor(verb),
    closeAfterErrors(errorsInRow) {
      const limit = faults.current.disconnectAfterErrors;
      return limit !== undefined && errorsInRow >= limit;
    },
    lock(cmd) {
      const rule = faults.current.folderLock;
      if (!rule || !(rule.verbs ?? ['APPEND']).includes(cmd.verb)) return undefined;
      let folder: string;
      try {
        folder = mailboxArg(cmd.args[0]);
      } catch {
        return undefined; // the command itself answers for a name it cannot use
      }
      return faults.lockFolder(folder);
    },
  };
}
