// What adaptation is asked to do and what it reports (the summary and the JSON report show it): the options of the
// controller (adaptive-run.ts), each change it made with its reason, and each hill-climbing trial with both windows
// measured.
import type { Clock } from '../core/clock.js';
import type { SettingsBounds } from '../core/settings.js';
import type { LiteralMode } from '../core/types.js';
import type { AdaptChange, AdaptSettings } from './adapt-policy.js';
import type { TrialStep } from './adapt-climb.js';

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
  /** The capability rule before the first APPEND (startChange; default true). false: only what is measured. */
  readonly fromCapabilities?: boolean;
  /**
   * The bandwidth assumed over a path until the first look measures it (pathStartChange; default
   * PATH_ASSUMED_BYTES_PER_MS). 0: no LITERAL+ limit from the login's round trip, only the measured one.
   */
  readonly assumedPathBytesPerMs?: number;
  /**
   * Changes the run took before the pool was opened (startConnectionsChange, decided in import-run.ts: fewer
   * connections dialled), reported with the controller's own. The initial settings passed with them are the given
   * ones; the changes say what the pool was opened with instead.
   */
  readonly before?: readonly AdaptChange[];
  /** Hill-climb trials after the rules (default MAX_TRIALS; 0 = rules only). */
  readonly maxTrials?: number;
  readonly clock?: Clock;
  /** Called after every decision (a look, a trial judged), and once with --no-adapt. */
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

/** One trial of the hill-climb: a neighbouring setting, the window before it and the window under it. */
export interface AdaptTrial {
  readonly setting: TrialStep['setting'];
  readonly from: number | undefined;
  readonly to: number;
  readonly why: string;
  /** msg/s of the window before the trial (the settings it was judged against). */
  readonly baseMessagesPerS: number;
  /** msg/s under the trial; undefined when the run ended first. */
  readonly trialMessagesPerS: number | undefined;
  /** Kept (measured ≥ TRIAL_MARGIN faster), undone, or still running when the run ended (left as set). */
  readonly result: 'kept' | 'undone' | 'unfinished';
}

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
  /** Neighbouring settings tried after the rules, each with its measurement (adapt-climb.ts). */
  readonly trials: readonly AdaptTrial[];
  readonly notes: readonly string[];
}
