import { type Clock, systemClock } from '../core/clock.js';
import { ADAPT_AFTER_MESSAGES, ADAPT_AFTER_MS, ADAPT_MIN_COMMANDS, DEFAULT_BOUNDS, type SettingsBounds } from '../core/settings.js';
import type { LiteralMode } from '../core/types.js';
import type { AppendSample, Pool, PoolObserver, PoolSettings } from '../transport/pool.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { adapt, type AdaptChange, type AdaptDecision, type AdaptSettings, type FolderWaitSample } from './adapt-policy.js';

// The runtime half of adaptation (issue 16): watches the pool's first seconds (every timing record, every APPEND's
// folder and how many connections shared it), asks the pure policy (adapt-policy.ts) once — after
// ADAPT_AFTER_MESSAGES messages or ADAPT_AFTER_MS, whichever comes first — and applies the answer through
// Pool.reconfigure(), which changes only where and when commands not yet sent go (never a command in flight).
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
  /** Messages settled and ms since the first APPEND when the decision was taken (or at the end, if too short). */
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

export class AdaptiveController implements PoolObserver {
  private pool: Pool | undefined;
  private readonly records: TimingRecord[] = [];
  private readonly folderWaits: FolderWaitSample[] = [];
  private messages = 0;
  private bytes = 0;
  private commands = 0;
  private firstAt: number | undefined;
  private decided: AdaptationReport | undefined;
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
  }

  record(r: TimingRecord): void {
    if (this.decided || this.records.length >= MAX_RECORDS) return;
    this.records.push(r);
  }

  appendSettled(s: AppendSample): void {
    if (this.decided) return;
    this.firstAt ??= this.clock.now();
    this.commands++;
    if (s.ok) {
      this.messages += s.messages;
      this.bytes += s.bytes;
    }
    if (s.record && this.folderWaits.length < MAX_FOLDER_SAMPLES) {
      const p = derivePhases(s.record);
      // The server's part of the command: the wait for '+' (a folder lock can hold it) and for the reply.
      if (p.recvWaitMs !== undefined) this.folderWaits.push({ connectionsInFolder: s.connectionsInFolder, waitMs: p.continuationWaitMs + p.recvWaitMs });
    }
    const elapsed = this.clock.now() - this.firstAt;
    const enough = this.commands >= (this.options.minCommands ?? ADAPT_MIN_COMMANDS);
    if (enough && (this.messages >= (this.options.afterMessages ?? ADAPT_AFTER_MESSAGES) || elapsed >= (this.options.afterMs ?? ADAPT_AFTER_MS))) {
      this.decide();
    }
  }

  /** What was chosen and why; 'too-short' when the run ended before a decision. */
  report(): AdaptationReport {
    if (this.decided) return this.decided;
    const current = this.current();
    return {
      enabled: this.options.enabled, outcome: 'too-short', atMessages: this.messages, atMs: this.elapsed(), messagesPerS: this.rate(),
      rttMs: roundTripMs(this.records, this.pool?.connectTimes ?? []), before: current, after: current, changes: [], notApplied: [],
      notes: [`not enough to judge from: ${this.commands} APPEND command(s) settled, ${this.options.minCommands ?? ADAPT_MIN_COMMANDS} needed`],
    };
  }

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
    const multiappend = this.pool?.capabilities?.multiappend ?? true;
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
    const applicable = decision.changes.filter((c) => c.setting !== 'literalMode');
    const notApplied = decision.changes.filter((c) => c.setting === 'literalMode');
    let outcome: AdaptationOutcome = decision.changes.length === 0 ? 'unchanged' : this.options.enabled ? 'adapted' : 'advice';
    let after = before;
    if (this.options.enabled && pool && applicable.length > 0) {
      const s = decision.settings;
      const applied = pool.reconfigure({
        pipelineDepth: s.pipelineDepth,
        connections: s.connections,
        connectionsPerFolder: s.connectionsPerFolder,
        batch: s.batch,
      });
      after = { ...before, ...applied, batch: applied.batch ?? before.batch, literalMode: before.literalMode };
    } else if (this.options.enabled && applicable.length === 0 && notApplied.length > 0) outcome = 'advice';
    this.decided = {
      enabled: this.options.enabled, outcome, atMessages: this.messages, atMs: this.elapsed(), messagesPerS: this.rate(), rttMs,
      before, after, changes: this.options.enabled ? applicable : decision.changes, notApplied: this.options.enabled ? notApplied : [],
      notes: decision.notes,
    };
    // The evidence is no longer needed: let it go.
    this.records.length = 0;
    this.folderWaits.length = 0;
    try {
      this.options.onDecision?.(this.decided);
    } catch {
      // The caller's display failed; the decision stands and report() still has it.
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
