import type { SettingsBounds } from '../core/settings.js';
import type { AdaptSettings } from './adapt-policy.js';

// The second half of adaptation (issue 16): once the rules (adapt-policy.ts) have nothing left to fix, try a
// neighbouring setting for one window and keep it only when it measured faster — a hill-climb within the bounds, a
// bounded number of trials, each reported with the two measurements it was judged on. Pure: the controller
// (adaptive-run.ts) applies a trial, measures the window and asks judgeTrial(); tests feed it numbers.
//
// Why trials and not only rules: the rules read symptoms (a stall, a lock, a path); what a server gains from more
// connections or a deeper pipeline is a property of the server that only shows when tried. Measured here: Dovecot
// over a 40 ms path 318 msg/s (data phase) with 2 connections against 709 with 8; on loopback 2 and 4 connections
// within the noise (docs/adaptation.md). A step up is tried, kept if faster, and the next step up tried from there.
// A trial never touches a command in flight (Pool.reconfigure), so a rejected one costs one window at its rate.

/** A trial must beat the window before it by this much to be kept: run-to-run noise on this shared machine is ±5–10 %. */
export const TRIAL_MARGIN = 0.1;
/** Trials at most per run: each costs a window; three cover "more connections" twice (doubling) and "deeper". */
export const MAX_TRIALS = 3;
/** A trial window lasts at least this long… (Courier's lock waits come about once a second with 2 connections) */
export const TRIAL_MIN_MS = 1000;
/** …and holds at least this many settled APPEND commands sent under the trial's settings. */
export const TRIAL_MIN_COMMANDS = 8;

export interface TrialStep {
  readonly setting: 'connections' | 'pipelineDepth';
  readonly from: number | undefined;
  readonly to: number;
  /** Why this neighbour is worth a window. */
  readonly why: string;
}

export interface TrialInput {
  readonly current: AdaptSettings;
  readonly bounds: SettingsBounds;
  readonly connectionCap?: number | undefined;
  /** Steps already tried (kept or not): never tried twice. */
  readonly tried: readonly TrialStep[];
  /** A rule fixed the depth from evidence (the continuation stall): trials leave it. */
  readonly depthPinned: boolean;
  /** The trial budget (default MAX_TRIALS). */
  readonly maxTrials?: number;
  /** The longest server wait so far of an APPEND with ≥ 2 connections in its folder, ms (undefined: none seen). */
  readonly longestSharedWaitMs?: number | undefined;
}

/**
 * A folder where a shared APPEND already waited this long is not given more connections: Courier's lock waits grow
 * with connections into one folder (2: 1–3 s, 4: up to 10.4 s here) and one of them held an APPEND past the 60 s
 * reply timeout in the benchmark — the run took 71 s and the message went twice.
 */
export const SHARED_WAIT_LIMIT_MS = 200;

const same = (a: TrialStep, b: TrialStep): boolean => a.setting === b.setting && a.to === b.to;

/** The next neighbour to try, or undefined when there is none left (or the budget is spent). */
export function nextTrial(input: TrialInput): TrialStep | undefined {
  if (input.tried.length >= (input.maxTrials ?? MAX_TRIALS)) return undefined;
  const s = input.current;
  const maxConnections = Math.max(1, Math.min(input.bounds.maxConnections, input.connectionCap ?? Infinity));
  const candidates: TrialStep[] = [];
  // Not "fewer connections into one folder": tried here, it won by noise on Dovecot (434 against 385 msg/s, where a
  // second connection measured 1,340 against 1,022 with care) and would starve a long path; the lock rule
  // (adapt-policy.ts, re-run whenever a long wait settles) decides that one from its own evidence.
  const lockish = (input.longestSharedWaitMs ?? 0) >= SHARED_WAIT_LIMIT_MS;
  if (s.connectionsPerFolder !== 1 && s.connections < maxConnections && !lockish) {
    candidates.push({ setting: 'connections', from: s.connections, to: Math.min(maxConnections, s.connections * 2), why: `more connections (bound ${maxConnections})` });
  }
  if (!input.depthPinned && s.pipelineDepth < input.bounds.maxPipelineDepth) {
    candidates.push({ setting: 'pipelineDepth', from: s.pipelineDepth, to: Math.min(input.bounds.maxPipelineDepth, s.pipelineDepth * 2), why: `a deeper pipeline (bound ${input.bounds.maxPipelineDepth})` });
  }
  return candidates.find((c) => !input.tried.some((t) => same(t, c)));
}

/** Is the trial's measured rate better than the window before it, beyond the noise? */
export function judgeTrial(baseMessagesPerS: number, trialMessagesPerS: number): boolean {
  return trialMessagesPerS > 0 && trialMessagesPerS >= baseMessagesPerS * (1 + TRIAL_MARGIN);
}
