// The hill-climb after the rules (issue 16): which neighbour is tried next, never twice, within the bounds and the
// trial budget, and when a trial counts as faster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BOUNDS } from '../../src/core/settings.js';
import { judgeTrial, MAX_TRIALS, nextTrial, type TrialInput, type TrialStep } from '../../src/migrate/adapt-climb.js';
import type { AdaptSettings } from '../../src/migrate/adapt-policy.js';

const DEFAULTS: AdaptSettings = { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined, batch: 50, literalMode: 'auto', literalPlusMaxBytes: 100 * 1024 };
const base = (o: Partial<TrialInput> = {}): TrialInput => ({ current: DEFAULTS, bounds: DEFAULT_BOUNDS, tried: [], depthPinned: false, ...o });

test('the first trial from the defaults doubles the connections', () => {
  assert.deepEqual(nextTrial(base()), { setting: 'connections', from: 2, to: 4, why: 'more connections (bound 8)' });
});

test('a kept step is followed by the next step up, a tried step is never tried again', () => {
  const first = nextTrial(base())!;
  // Kept: the pool now runs 4 connections; the next step is 8.
  const second = nextTrial(base({ current: { ...DEFAULTS, connections: 4 }, tried: [first] }))!;
  assert.equal(second.setting, 'connections');
  assert.equal(second.to, 8);
  // Undone: back at 2 connections, 2 → 4 is not tried again; the depth is next.
  const other = nextTrial(base({ tried: [first] }))!;
  assert.deepEqual([other.setting, other.from, other.to], ['pipelineDepth', 2, 4]);
});

test('steps stop at the bounds and at the server connection cap', () => {
  assert.equal(nextTrial(base({ current: { ...DEFAULTS, connections: 6 } }))!.to, 8);
  assert.equal(nextTrial(base({ connectionCap: 3 }))!.to, 3);
  const atBounds = base({ current: { ...DEFAULTS, connections: 8, pipelineDepth: 8 } });
  assert.equal(nextTrial(atBounds), undefined);
});

test('a depth pinned by the continuation stall and one connection per folder leave nothing to try (Courier)', () => {
  assert.equal(nextTrial(base({ current: { ...DEFAULTS, pipelineDepth: 1, batch: 1, connectionsPerFolder: 1 }, depthPinned: true })), undefined);
});

test('the trial budget ends the climb', () => {
  const tried: TrialStep[] = Array.from({ length: MAX_TRIALS }, (_, i) => ({ setting: 'connections', from: 1, to: 100 + i, why: '' }));
  assert.equal(nextTrial(base({ tried })), undefined);
  assert.equal(nextTrial(base({ maxTrials: 0 })), undefined);
});

test('a trial is kept only when at least 10 % faster than the window before it', () => {
  assert.equal(judgeTrial(100, 111), true);
  assert.equal(judgeTrial(100, 109), false);
  assert.equal(judgeTrial(100, 60), false);
  assert.equal(judgeTrial(0, 0), false, 'nothing measured is not faster');
});

test('a folder where a shared APPEND already waited ≥ 200 ms is not given more connections (Courier: an APPEND held past the reply timeout with 4)', () => {
  const step = nextTrial(base({ longestSharedWaitMs: 1060 }));
  assert.notEqual(step?.setting, 'connections');
  assert.equal(nextTrial(base({ longestSharedWaitMs: 12 }))?.setting, 'connections');
});
