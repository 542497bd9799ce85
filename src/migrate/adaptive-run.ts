import { type Clock, systemClock } from '../core/clock.js';
import { ADAPT_AFTER_MESSAGES, ADAPT_AFTER_MS, ADAPT_MIN_COMMANDS, DEFAULT_BOUNDS, type SettingsBounds } from '../core/settings.js';
import type { LiteralMode } from '../core/types.js';
import type { AppendSample, Pool, PoolObserver, PoolSettings } from '../transport/pool.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { adapt, type AdaptChange, type AdaptDecision, type AdaptSettings, type FolderWaitSample } from './adapt-policy.js';

// The runtime half of adaptation (issue 16): watches the pool's first seconds (every timing record, every APPEND's
// folder and how many connections shared it), asks the pure policy (adapt-policy.ts) — after ADAPT_AFTER_MESSAGES
// messages or ADAPT_AFTER_MS, whichever comes first — and applies the answer through Pool.reconfigure(), which
// changes only where and when commands not yet sent go (never a command in flight). When a look changed something it
// looks once more at fresh evidence, up to MAX_LOOKS: one problem can hide another (on Courier the continuation stall
// at depth 2 hides the folder lock that two connections at depth 1 then meet). The same rules on new evidence,
// never a throughput comparison between windows: that would flap with the noise of a loaded machine.
// With `enabled: false` (--no-adapt) it still looks, and reports what it would have changed, but changes nothing.
// It plugs into the pool as its observer (PoolOptions.observer), so the importer needs no code for it.

export interface AdaptiveOptions {
  /** false = --no-adapt: keep the given settings (the report still says what adaptation would have chosen). */
  readonly enabled: boolean;
  /** The literal mode the run's connections use (fixed per connection: a change applies to the next run). */
  readonly literalMode: LiteralMode;
  /** The batch size the run starts with (what the importer builds batches of). */
  readonly batch: number;
  readonly bounds?: SettingsBounds;
  readonly afterMessages?: number;
  readonly afterMs?: number;
  readonly minCommands?: number;
  readonly clock?: Clock;
  /** Called once, when the decision is taken (and applied, when enabled). */
  readonly onDecision?: (report: AdaptationReport) => void;
}

export type AdaptationOutcome =
  /** Settings were changed. */
  | 'adapted'
  /** Looked, found nothing to change. */
  | 'unchanged'
  /** --no-adapt: `changes` is what adaptation would have done; nothing was applied. */
  | 'advice'
  /** The run ended before there was enough to judge from. */
  | 'too-short';

/** What was chosen and why: the summary and the --report JSON show it. */
export interface AdaptationReport {
  readonly enabled: boolean;
  readonly outcome: AdaptationOutcome;
  /** Looks taken (each after a window of its own evidence). */
  readonly looks: number;
  /** Messages settled and ms since the first APPEND when the last decision was taken (or at the end, if too short). */
  readonly atMessages: number;
  readonly atMs: number;
  /** Throughput of the observed window, msg/s (0 when nothing settled). */
  readonly messagesPerS: number;
  /** Round trip the decision assumed, ms (the fastest answer of any kind). */
  readonly rttMs: number | undefined;
  readonly before: AdaptSettings;
  readonly after: AdaptSettings;
  readonly changes: readonly AdaptChange[];
  /** Changes the policy chose that this run could not apply (literal mode is fixed per connection). */
  readonly notApplied: readonly AdaptChange[];
  readonly notes: readonly string[];
}

/** Evidence kept while looking: bounded whatever the run's size (the decision needs the first seconds only). */
const MAX_RECORDS = 5000;
const MAX_FOLDER_SAMPLES = 5000;
/** Looks at most: each one that changes something earns another, so a chain of two fixes settles in three. */
export const MAX_LOOKS = 3;

export class AdaptiveController implements PoolObserver {
  private pool: Pool | undefined;
  private readonly records: TimingRecord[] = [];
  private readonly folderWaits: FolderWaitSample[] = [];
  /** Totals since the first APPEND (for the report). */
  private messages = 0;
  private bytes = 0;
  private firstAt: number | undefined;
  /** The current look's window: counts since the previous decision. */
  private windowCommands = 0;
  private windowMessages = 0;
  private windowStart: number | undefined;
  private looks = 0;
  private readonly changes: AdaptChange[] = [];
  private readonly notApplied: AdaptChange[] = [];
  private notes: string[] = [];
  private lastRttMs: number | undefined;
  private lastAt = { messages: 0, ms: 0, rate: 0 };
  /** No more looks: the last one changed nothing, adaptation is off, or MAX_LOOKS were taken. */
  private done = false;
  private readonly clock: Clock;
  private readonly start: AdaptSettings;

  constructor(
    private readonly options: AdaptiveOptions,
    initial: Omit<AdaptSettings, 'batch' | 'literalMode'>,
  ) {
    this.clock = options.clock ?? systemClock;
    this.start = { ...initial, batch: Math.max(1, options.batch), literalMode: options.literalMode };
  }

  attached(pool: Pool): void {
    this.pool = pool;
    // Read now: once the pool has closed it has no connection to ask.
    this.multiappend = pool.capabilities?.multiappend ?? true;
  }
  private multiappend = true;

  record(r: TimingRecord): void {
    if (this.done || this.records.length >= MAX_RECORDS) return;
    this.records.push(r);
  }

  appendSettled(s: AppendSample): void {
    const now = this.clock.now();
    this.firstAt ??= now;
    this.windowStart ??= now;
    if (s.ok) {
      this.messages += s.messages;
      this.bytes += s.bytes;
      this.windowMessages += s.messages;
    }
    if (this.done) return;
    this.windowCommands++;
    if (s.record && this.folderWaits.length < MAX_FOLDER_SAMPLES) {
      const p = derivePhases(s.record);
      // The server's part of the command: the wait for '+' (a folder lock can hold it) and for the reply.
      if (p.recvWaitMs !== undefined) this.folderWaits.push({ connectionsInFolder: s.connectionsInFolder, waitMs: p.continuationWaitMs + p.recvWaitMs });
    }
    const elapsed = now - this.windowStart;
    const enough = this.windowCommands >= (this.options.minCommands ?? ADAPT_MIN_COMMANDS);
    if (enough && (this.windowMessages >= (this.options.afterMessages ?? ADAPT_AFTER_MESSAGES) || elapsed >= (this.options.afterMs ?? ADAPT_AFTER_MS))) {
      this.decide();
    }
  }

  /** What was chosen and why, over every look so far; 'too-short' when the run ended before the first. */
  report(): AdaptationReport {
    const after = this.current();
    if (this.looks === 0) {
      return {
        enabled: this.options.enabled, outcome: 'too-short', looks: 0, atMessages: this.messages, atMs: this.elapsed(), messagesPerS: this.rate(),
        rttMs: roundTripMs(this.records, this.pool?.connectTimes ?? []), before: this.startSettings(), after, changes: [], notApplied: [],
        notes: [`not enough to judge from: ${this.windowCommands} APPEND command(s) settled, ${this.options.minCommands ?? ADAPT_MIN_COMMANDS} needed`],
      };
    }
    const outcome: AdaptationOutcome = !this.options.enabled ? (this.changes.length ? 'advice' : 'unchanged') : this.changes.length ? 'adapted' : this.notApplied.length ? 'advice' : 'unchanged';
    return {
      enabled: this.options.enabled, outcome, looks: this.looks, atMessages: this.lastAt.messages, atMs: this.lastAt.ms, messagesPerS: this.lastAt.rate,
      rttMs: this.lastRttMs, before: this.startSettings(), after, changes: [...this.changes], notApplied: [...this.notApplied], notes: [...this.notes],
    };
  }

  /** The settings the run started with, as the pool reports them (batch 1 without MULTIAPPEND). */
  private startSettings(): AdaptSettings {
    this.initial ??= this.pool ? this.current() : undefined;
    return this.initial ?? this.start;
  }
  private initial: AdaptSettings | undefined;

  private elapsed(): number {
    return this.firstAt === undefined ? 0 : this.clock.now() - this.firstAt;
  }

  private rate(): number {
    const ms = this.elapsed();
    return ms > 0 ? (this.messages * 1000) / ms : 0;
  }

  private current(): AdaptSettings {
    const p: PoolSettings | undefined = this.pool?.settings;
    if (!p) return this.start;
    // Without MULTIAPPEND the run sends one message per command whatever batch was asked for.
    const multiappend = this.multiappend;
    return {
      pipelineDepth: p.pipelineDepth,
      connections: p.connections,
      connectionsPerFolder: p.connectionsPerFolder,
      batch: multiappend ? (p.batch ?? this.start.batch) : 1,
      literalMode: this.start.literalMode,
    };
  }

  private decide(): void {
    const pool = this.pool;
    this.startSettings();
    const before = this.current();
    const rttMs = roundTripMs(this.records, pool?.connectTimes ?? []);
    const caps = pool?.capabilities;
    const decision: AdaptDecision = adapt({
      records: this.records,
      folderWaits: this.folderWaits,
      capabilities: { literalPlus: caps?.literalPlus ?? false, literalMinus: caps?.literalMinus ?? false, multiappend: caps?.multiappend ?? false },
      rttMs,
      meanMessageBytes: this.messages > 0 ? this.bytes / this.messages : undefined,
      current: before,
      bounds: this.options.bounds ?? DEFAULT_BOUNDS,
      connectionCap: pool?.connectionCap,
      maxBytesInFlight: pool?.options.maxBytesInFlight,
    });
    this.looks++;
    this.lastRttMs = rttMs;
    this.lastAt = { messages: this.messages, ms: this.elapsed(), rate: this.rate() };
    this.notes = decision.notes;
    // A literal mode is fixed per connection: reported for the next run, never applied to this one.
    const applicable = decision.changes.filter((c) => c.setting !== 'literalMode');
    for (const c of decision.changes) if (c.setting === 'literalMode' && !this.notApplied.some((x) => x.setting === c.setting)) this.notApplied.push(c);
    if (!this.options.enabled) {
      // --no-adapt: one look, reported as advice; nothing changes, so another look would say the same.
      this.changes.push(...decision.changes);
      this.finish();
      return;
    }
    if (pool && applicable.length > 0) {
      const s = decision.settings;
      pool.reconfigure({ pipelineDepth: s.pipelineDepth, connections: s.connections, connectionsPerFolder: s.connectionsPerFolder, batch: s.batch });
      this.changes.push(...applicable);
    }
    if (applicable.length === 0 || this.looks >= MAX_LOOKS) this.finish();
    else {
      // Look again at evidence gathered under the new settings only.
      this.records.length = 0;
      this.folderWaits.length = 0;
      this.windowCommands = 0;
      this.windowMessages = 0;
      this.windowStart = undefined;
    }
    try {
      this.options.onDecision?.(this.report());
    } catch {
      // The caller's display failed; the decision stands and report() still has it.
    }
  }

  private finish(): void {
    this.done = true;
    // The evidence is no longer needed: let it go.
    this.records.length = 0;
    this.folderWaits.length = 0;
    if (!this.options.enabled) {
      try {
        this.options.onDecision?.(this.report());
      } catch {
        // As above.
      }
    }
  }
}

/**
 * The round trip, from what the run saw: no reply (tagged or '+') can come sooner than one round trip after its
 * command left, so the fastest of them is the round trip plus the least the server ever took. The TCP connect time
 * is the fallback only: through a local relay or proxy it measures the hop to the relay, not the path.
 */
export function roundTripMs(records: readonly TimingRecord[], connectTimes: readonly number[]): number | undefined {
  let best = Infinity;
  for (const r of records) {
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined && w > 0) best = Math.min(best, w);
    for (const [flushed, cont] of r.syncWaits) if (cont > flushed) best = Math.min(best, cont - flushed);
  }
  if (best < Infinity) return best;
  const c = connectTimes.filter((x) => x > 0);
  return c.length ? Math.min(...c) : undefined;
}
