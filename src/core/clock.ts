import { performance } from 'node:perf_hooks';

// One monotonic clock for every timing record: milliseconds as a float since process start.
// performance.now() is monotonic (never jumps with NTP) and sub-microsecond, which the recv-wait of a
// coalesced APPEND on loopback (~0.07 ms, docs/measurements.md) needs; Date.now() would round it to 0 or 1.
export type MonoMs = number;

export interface Clock {
  now(): MonoMs;
  /** Wall-clock time, for reports only; never used to compute durations. */
  wall(): Date;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => new Date(),
};
