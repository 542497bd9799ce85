import { type Clock, systemClock } from '../core/clock.js';
import { ADAPT_AFTER_MESSAGES, ADAPT_AFTER_MS, ADAPT_LOOK_BATCH, ADAPT_MIN_COMMANDS, DEFAULT_BOUNDS, PATH_ASSUMED_BYTES_PER_MS, type SettingsBounds } from '../core/settings.js';
import { DEFAULT_PLUS_MAX_BYTES } from '../imap/literal-policy.js';
import type { AppendSample, Pool, PoolObserver, PoolSettings } from '../transport/pool.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { DEFAULT_MAX_BYTES_IN_FLIGHT } from '../transport/pool-admission.js';
import { adapt, type AdaptChange, type AdaptDecision, type AdaptSettings, type FolderWaitSample, folderLockChange, LOCK_STALL_MIN_MS } from './adapt-policy.js';
import { pathStartChange, startChange, startFolderChange } from './adapt-start.js';
import { judgeTrial, nextTrial, TRIAL_MARGIN, TRIAL_MIN_COMMANDS, TRIAL_MIN_MS, type TrialStep } from './adapt-climb.js';
import type { AdaptationOutcome, AdaptationReport, AdaptiveOptions, AdaptTrial } from './adaptation-report.js';

// The runtime half of adaptation (issue 16): watches the pool's first seconds (every timing record, every APPEND's
// folder and how many connections shared it), asks the pure policy (adapt-policy.ts) — after ADAPT_AFTER_MESSAGES
// messages or ADAPT_AFTER_MS, whichever comes first — and applies the answer through Pool.reconfigure(), which
// changes only where and when commands not yet sent go (never a command in flight). When a look changed something it
// looks once more at fresh evidence, up to MAX_LOOKS: one problem can hide another (on Courier the continuation stall
// at depth 2 hides the folder lock that two connections at depth 1 then meet). When the rules have nothing left, it
// hill-climbs (adapt-climb.ts): a neighbouring setting for one window, kept only when ≥ 10 % faster than the window
// before, undone otherwise, at most MAX_TRIALS of them — every trial in the report with both measurements. Over a
// long path (a fastest reply ≥ PATH_RTT_MS) a look needs only PATH_MIN_COMMANDS commands.
// With `enabled: false` (--no-adapt) it still looks, and reports what it would have changed, but changes nothing.
// It plugs into the pool as its observer (PoolOptions.observer), so the importer needs no code for it.

export type { AdaptationOutcome, AdaptationReport, AdaptiveOptions, AdaptTrial } from './adaptation-report.js';

/** Evidence kept while looking: bounded whatever the run's size (the decision needs the first seconds only). */
const MAX_RECORDS = 5000;
const MAX_FOLDER_SAMPLES = 5000;
/** Looks at most: each one that changes something earns another, so a chain of two fixes settles in three. */
export const MAX_LOOKS = 3;
/**
 * Over a long path a look needs fewer commands: the window rule needs only the round trip and the server's time per
 * command, and every command before it runs at the short window's rate. Over the 40 ms relay with MULTIAPPEND 50,
 * ADAPT_MIN_COMMANDS (20) meant 1000 messages — half of a 2000-message run — before the first look. Two (the first
 * command of each default connection) rather than 4: the first commands carry 4–5 synchronizing literals each, and
 * the second on a connection waits behind them, so 4 meant ~1.1 s into the run; with 2 the LITERAL+ limit rises
 * ~400 ms sooner and the 5000-message import through the relay took 1.89 against 2.08 s (medians of 4,
 * docs/adaptation.md "A tree of folders over a path"). A later look corrects what two commands misjudged.
 */
export const PATH_MIN_COMMANDS = 2;
/** A round trip at least this long counts as a path (a loaded loopback's fastest reply stays well under it). */
export const PATH_RTT_MS = 10;
/** Trials start no sooner than this after the first APPEND: the lock watch gets the time to see what a folder shared
 *  by 2 connections does (Courier's lock waits came every 1–2 s) before a trial would give it more. */
export const TRIAL_START_MS = 3000;

export class AdaptiveController implements PoolObserver {
  private pool: Pool | undefined;
  private readonly records: TimingRecord[] = [];
  /** Kept over every look (a lock wait of seconds often settles in the look after the one it began in). */
  private readonly folderWaits: FolderWaitSample[] = [];
  /** Totals since the first APPEND (for the report). */
  private messages = 0;
  private bytes = 0;
  private firstAt: number | undefined;
  /** The current look's (or trial's) window: counts since the previous decision. */
  private windowCommands = 0;
  private windowMessages = 0;
  private windowBytes = 0;
  private windowStart: number | undefined;
  /** Commands sent under the previous settings still to settle before a trial window starts counting. */
  private settleLeft = 0;
  private looks = 0;
  private readonly changes: AdaptChange[] = [];
  private readonly notApplied: AdaptChange[] = [];
  private notes: string[] = [];
  private readonly trialNotes: string[] = [];
  private lastRttMs: number | undefined;
  /** The fastest answer so far (kept as records arrive, so the path check costs nothing per command). */
  private minReplyMs = Infinity;
  private lastAt = { messages: 0, ms: 0, rate: 0 };
  /** Rules first ('looking'), then the hill-climb ('trial'), then nothing more ('done'). */
  private phase: 'looking' | 'trial' | 'done' = 'looking';
  private depthPinned = false;
  private readonly tried: TrialStep[] = [];
  private readonly trials: AdaptTrial[] = [];
  private trial: { step: TrialStep; base: number } | undefined;
  private baseRate = 0;
  /** Waiting for TRIAL_START_MS before the first trial. */
  private trialPending: AdaptSettings | undefined | null = null;
  private longestSharedWaitMs = 0;
  private readonly clock: Clock;
  private readonly start: AdaptSettings;

  constructor(
    private readonly options: AdaptiveOptions,
    initial: Omit<AdaptSettings, 'batch' | 'literalMode' | 'literalPlusMaxBytes'>,
  ) {
    this.clock = options.clock ?? systemClock;
    this.start = { ...initial, batch: Math.max(1, options.batch), literalMode: options.literalMode, literalPlusMaxBytes: DEFAULT_PLUS_MAX_BYTES };
  }

  attached(pool: Pool): void {
    this.pool = pool;
    // Read now: once the pool has closed it has no connection to ask.
    this.multiappend = pool.capabilities?.multiappend ?? true;
    // Changes taken before the pool was opened (AdaptiveOptions.before): the report's "before" is what was given.
    const early = this.options.before ?? [];
    if (early.length > 0) {
      this.initial = { ...this.current(), ...Object.fromEntries(early.map((c) => [c.setting, c.from])) };
      this.changes.push(...early);
    }
    const caps = pool.capabilities;
    if (caps && this.options.fromCapabilities !== false) {
      const before = this.startSettings();
      const have = { literalPlus: caps.literalPlus, literalMinus: caps.literalMinus, multiappend: caps.multiappend };
      const change = startChange(have, before);
      if (change) {
        // With --no-adapt it is advice like any other change.
        if (this.options.enabled) pool.reconfigure({ pipelineDepth: 1 });
        this.changes.push(change);
        this.depthPinned = true;
      }
      const folderChange = startFolderChange(have, before);
      if (folderChange) {
        // Before the first APPEND, so no folder is ever shared; with --no-adapt, advice only.
        if (this.options.enabled) pool.reconfigure({ connectionsPerFolder: 1 });
        this.changes.push(folderChange);
      }
    }
    // Over a path (the login already took PATH_RTT_MS or more: its timing records reach record() before this), the
    // LITERAL+ limit from the round trip and an assumed bandwidth until the first look measures it (pathStartChange).
    if (this.minReplyMs >= PATH_RTT_MS && this.minReplyMs < Infinity && caps) {
      const before = this.startSettings();
      const have = { literalPlus: caps.literalPlus, literalMinus: caps.literalMinus, multiappend: caps.multiappend };
      const change = pathStartChange(have, before, this.minReplyMs, this.options.assumedPathBytesPerMs ?? PATH_ASSUMED_BYTES_PER_MS, pool.options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT);
      if (change) {
        // With --no-adapt it is advice like any other change.
        if (this.options.enabled) {
          pool.reconfigure({ literalPlusMaxBytes: change.to as number });
          this.literalAssumed = true;
        }
        this.changes.push(change);
      }
    }
    // Small commands while the rules look (ADAPT_LOOK_BATCH: their evidence is counted in commands); the run's own
    // batch once they are done (endLookBatch). --no-adapt changes nothing, this included.
    const look = Math.min(ADAPT_LOOK_BATCH, this.start.batch);
    if (this.options.enabled && this.multiappend && look < this.start.batch) {
      this.startSettings(); // the report's "before" is the run's own batch
      this.lookBatch = look;
      pool.reconfigure({ batch: look });
    }
  }
  private multiappend = true;
  /** The LITERAL+ limit in force was assumed from the login's round trip (pathStartChange); the first look measures it. */
  private literalAssumed = false;
  /** The batch the looks send while they last; undefined when the run's own batch is in use. */
  private lookBatch: number | undefined;

  /**
   * The looks are over: back to the run's own batch — or to what a rule raised it to (the path rule raises it to
   * cover the bandwidth-delay product), whichever is larger, within the bounds.
   */
  private endLookBatch(): void {
    const look = this.lookBatch;
    if (look === undefined) return;
    this.lookBatch = undefined;
    const cur = this.current().batch;
    const batch = Math.min(this.bounds().maxBatch, Math.max(cur, this.start.batch));
    if (batch !== cur) this.pool?.reconfigure({ batch });
    this.notes.push(`the looks read MULTIAPPENDs of ${look}; the run goes on at ${batch} per command`);
  }

  record(r: TimingRecord): void {
    if (this.phase === 'done') return;
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined && w > 0 && w < this.minReplyMs) this.minReplyMs = w;
    for (const [flushed, cont] of r.syncWaits) if (cont > flushed && cont - flushed < this.minReplyMs) this.minReplyMs = cont - flushed;
    if (this.records.length >= MAX_RECORDS) return;
    this.records.push(r);
  }

  appendSettled(s: AppendSample): void {
    const now = this.clock.now();
    this.firstAt ??= now;
    if (s.ok) {
      this.messages += s.messages;
      this.bytes += s.bytes;
    }
    if (s.record && this.folderWaits.length < MAX_FOLDER_SAMPLES) {
      const p = derivePhases(s.record);
      // The server's part of the command: the wait for '+' (a folder lock can hold it) and for the reply.
      if (p.recvWaitMs !== undefined) {
        const waitMs = p.continuationWaitMs + p.recvWaitMs;
        this.folderWaits.push({ connectionsInFolder: s.connectionsInFolder, waitMs });
        if (s.connectionsInFolder >= 2 && waitMs > this.longestSharedWaitMs) this.longestSharedWaitMs = waitMs;
        // A lock wait of seconds often settles after the look that would have seen it: the lock rule runs again
        // whenever a long wait settles, all run long (cheap: only on a long wait, over at most MAX_FOLDER_SAMPLES).
        // With --no-adapt too: the one look came before the waits, and the report is to say what would help.
        if (waitMs >= LOCK_STALL_MIN_MS && s.connectionsInFolder >= 2) this.watchLock();
      }
    }
    if (this.phase === 'done') return;
    if (this.settleLeft > 0) {
      // Sent under the settings before the last change: not evidence of the new ones.
      this.settleLeft--;
      return;
    }
    if (this.windowStart === undefined) {
      // The window starts when its first command settles; that command's work was done before, so it is not counted.
      this.windowStart = now;
      return;
    }
    this.windowCommands++;
    if (s.ok) {
      this.windowMessages += s.messages;
      this.windowBytes += s.bytes;
    }
    const elapsed = now - this.windowStart;
    if (this.phase === 'trial') {
      if (this.trialPending !== null) {
        // Still before TRIAL_START_MS: this window measures the settings the trial will be judged against.
        if (this.elapsed() >= TRIAL_START_MS) {
          this.baseRate = this.windowRate(now);
          this.trialPending = null;
          this.startTrial(undefined);
        }
        return;
      }
      if (this.windowCommands >= TRIAL_MIN_COMMANDS && elapsed >= TRIAL_MIN_MS) this.judge(now);
      return;
    }
    const path = this.minReplyMs >= PATH_RTT_MS;
    const enough = this.windowCommands >= (path ? Math.min(PATH_MIN_COMMANDS, this.options.minCommands ?? ADAPT_MIN_COMMANDS) : (this.options.minCommands ?? ADAPT_MIN_COMMANDS));
    if (enough && (path || this.windowMessages >= (this.options.afterMessages ?? ADAPT_AFTER_MESSAGES) || elapsed >= (this.options.afterMs ?? ADAPT_AFTER_MS))) {
      this.decide(now);
    }
  }

  /** What was chosen and why, over every look so far; 'too-short' when the run ended before the first. */
  report(): AdaptationReport {
    const after = this.current();
    const trials = [...this.trials];
    if (this.trial) {
      trials.push({ ...this.trial.step, baseMessagesPerS: round(this.trial.base), trialMessagesPerS: undefined, result: 'unfinished' });
    }
    if (this.looks === 0) {
      // The capability rules (startChange, startFolderChange) may have changed settings before the first APPEND: that
      // stands. Under --no-adapt they are advice even when the run ended before a look (40 messages into Courier).
      const applied = [...this.changes];
      const outcome: AdaptationOutcome = applied.length === 0 ? 'too-short' : this.options.enabled ? 'adapted' : 'advice';
      return {
        enabled: this.options.enabled, outcome, looks: 0, atMessages: this.messages, atMs: this.elapsed(), messagesPerS: this.rate(),
        rttMs: roundTripMs(this.records, this.pool?.connectTimes ?? []), before: this.startSettings(), after, changes: applied, notApplied: [], trials,
        notes: [`not enough to judge from: ${this.windowCommands} APPEND command(s) settled, ${this.options.minCommands ?? ADAPT_MIN_COMMANDS} needed`],
      };
    }
    const outcome: AdaptationOutcome = !this.options.enabled ? (this.changes.length ? 'advice' : 'unchanged') : this.changes.length ? 'adapted' : this.notApplied.length ? 'advice' : 'unchanged';
    return {
      enabled: this.options.enabled, outcome, looks: this.looks, atMessages: this.lastAt.messages, atMs: this.lastAt.ms, messagesPerS: this.lastAt.rate,
      rttMs: this.lastRttMs, before: this.startSettings(), after, changes: [...this.changes], notApplied: [...this.notApplied], trials,
      notes: [...this.notes, ...this.trialNotes],
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

  /** msg/s of the current window. */
  private windowRate(now: number): number {
    const ms = this.windowStart === undefined ? 0 : now - this.windowStart;
    return ms > 0 ? (this.windowMessages * 1000) / ms : 0;
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
      literalPlusMaxBytes: p.literalPlusMaxBytes,
    };
  }

  /** Starts a fresh window; commands already in flight under `before` settle first without counting. */
  private newWindow(before: AdaptSettings | undefined): void {
    this.records.length = 0;
    this.windowCommands = 0;
    this.windowMessages = 0;
    this.windowBytes = 0;
    this.windowStart = undefined;
    this.settleLeft = before ? before.connections * before.pipelineDepth : 0;
  }

  private decide(now: number): void {
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
      bytesPerMs: this.windowStart !== undefined && now > this.windowStart && this.windowBytes > 0 ? this.windowBytes / (now - this.windowStart) : undefined,
      current: before,
      bounds: this.bounds(),
      connectionCap: pool?.connectionCap,
      maxBytesInFlight: pool?.options.maxBytesInFlight,
      literalPlusAssumed: this.literalAssumed,
    });
    this.literalAssumed = false;
    this.looks++;
    this.lastRttMs = rttMs;
    this.baseRate = this.windowRate(now);
    this.lastAt = { messages: this.messages, ms: this.elapsed(), rate: this.rate() };
    this.notes = decision.notes;
    if (decision.depthPinned) this.depthPinned = true;
    // A literal mode is fixed per connection: reported for the next run, never applied to this one.
    const applicable = decision.changes.filter((c) => c.setting !== 'literalMode');
    for (const c of decision.changes) if (c.setting === 'literalMode' && !this.notApplied.some((x) => x.setting === c.setting)) this.notApplied.push(c);
    if (!this.options.enabled) {
      // --no-adapt: one look, reported as advice; nothing changes, so another look would say the same.
      this.changes.push(...decision.changes.filter((c) => !this.changes.some((x) => x.setting === c.setting && x.to === c.to)));
      this.finish();
      return;
    }
    if (pool && applicable.length > 0) {
      const s = decision.settings;
      pool.reconfigure({ pipelineDepth: s.pipelineDepth, connections: s.connections, connectionsPerFolder: s.connectionsPerFolder, batch: s.batch, literalPlusMaxBytes: s.literalPlusMaxBytes });
      this.changes.push(...applicable);
    }
    if (applicable.length > 0 && this.looks < MAX_LOOKS) {
      // Look again at evidence gathered under the new settings only.
      this.newWindow(before);
    } else {
      // The rules have nothing more to fix: the run's own batch, then try the neighbours (adapt-climb.ts) with it.
      this.endLookBatch();
      this.nextTrialOrFinish(applicable.length > 0 ? before : undefined);
    }
    this.notify();
  }

  /**
   * The folder-lock rule outside the looks: one connection per folder as soon as the evidence is there; with
   * --no-adapt, the same change as advice (once), the settings left as given.
   */
  private watchLock(): void {
    const pool = this.pool;
    if (!pool || this.looks === 0) return;
    const cur = this.current();
    if (cur.connectionsPerFolder === 1 || cur.connections < 2) return;
    if (this.changes.some((c) => c.setting === 'connectionsPerFolder')) return;
    const change = folderLockChange(this.folderWaits);
    if (!change) return;
    if (this.options.enabled) pool.reconfigure({ connectionsPerFolder: 1 });
    this.changes.push({ ...change, from: cur.connectionsPerFolder });
    this.notes = this.notes.filter((n) => !n.startsWith('folder locks:'));
    this.lastAt = { messages: this.messages, ms: this.elapsed(), rate: this.rate() };
    this.notify();
  }

  private bounds(): SettingsBounds {
    return this.options.bounds ?? DEFAULT_BOUNDS;
  }

  private nextTrialOrFinish(inFlightUnder: AdaptSettings | undefined): void {
    if (this.elapsed() < TRIAL_START_MS && this.options.maxTrials !== 0) {
      this.phase = 'trial';
      this.trialPending = inFlightUnder;
      this.newWindow(inFlightUnder);
      return;
    }
    this.startTrial(inFlightUnder);
  }

  private startTrial(inFlightUnder: AdaptSettings | undefined): void {
    const pool = this.pool;
    const cur = this.current();
    const step = pool
      ? nextTrial({ current: cur, bounds: this.bounds(), connectionCap: pool.connectionCap, tried: this.tried, depthPinned: this.depthPinned, longestSharedWaitMs: this.longestSharedWaitMs, ...(this.options.maxTrials !== undefined ? { maxTrials: this.options.maxTrials } : {}) })
      : undefined;
    if (!pool || !step) {
      this.finish();
      return;
    }
    this.tried.push(step);
    this.trial = { step, base: this.baseRate };
    this.phase = 'trial';
    pool.reconfigure(stepChange(step.setting, step.to));
    this.newWindow(inFlightUnder ?? cur);
  }

  private judge(now: number): void {
    const t = this.trial!;
    const pool = this.pool!;
    const rate = this.windowRate(now);
    const kept = judgeTrial(t.base, rate);
    const { step } = t;
    const what = `${step.setting} ${step.from ?? 'unlimited'} → ${step.to}`;
    this.trials.push({ ...step, baseMessagesPerS: round(t.base), trialMessagesPerS: round(rate), result: kept ? 'kept' : 'undone' });
    this.trial = undefined;
    const before = this.current();
    if (kept) {
      this.changes.push({ setting: step.setting, from: step.from, to: step.to, reason: `trial (${step.why}): ${round(rate)} msg/s against ${round(t.base)} before, ≥ ${Math.round(TRIAL_MARGIN * 100)} % faster` });
      this.baseRate = rate;
    } else {
      pool.reconfigure(stepChange(step.setting, step.from));
      this.trialNotes.push(`tried ${what} (${step.why}): ${round(rate)} msg/s against ${round(t.base)}, not ${Math.round(TRIAL_MARGIN * 100)} % faster; undone`);
    }
    this.lastAt = { messages: this.messages, ms: this.elapsed(), rate: this.rate() };
    this.nextTrialOrFinish(before);
    this.notify();
  }

  private notify(): void {
    try {
      this.options.onDecision?.(this.report());
    } catch {
      // The caller's display failed; the decision stands and report() still has it.
    }
  }

  private finish(): void {
    this.phase = 'done';
    // The evidence is no longer needed: let it go.
    this.records.length = 0;
    this.folderWaits.length = 0;
    if (!this.options.enabled) this.notify();
  }
}

const round = (x: number): number => Math.round(x * 10) / 10;

function stepChange(setting: TrialStep['setting'], to: number | undefined): Partial<PoolSettings> {
  if (to === undefined) return {};
  return setting === 'connections' ? { connections: to } : { pipelineDepth: to };
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
