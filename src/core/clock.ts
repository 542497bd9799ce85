// `performance` is Node's global (the same object node:perf_hooks exports): importing that module cost ~1.7 ms CPU of
// start-up (docs/measurements.md "Start-up").

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
