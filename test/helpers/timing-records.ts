// Synthetic timing records shaped after the measured runs (docs/measurements.md: Courier at depth 2, Dovecot with
// Nagle and split writes, slow servers), for the tests that judge a run from its records: the diagnosis
// (test/analysis) and the adaptation policy (test/migrate). Not a test file itself.
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';

export interface AppendShape {
  /** A synchronizing literal: header flushed → '+' took this long. None: a non-synchronizing literal. */
  readonly contMs?: number;
  /** Body flushed → tagged reply. */
  readonly recvMs: number;
  /** Commands in flight on the connection when this one was sent. */
  readonly depth?: number;
  /** Messages in the command (MULTIAPPEND); default 1. */
  readonly messages?: number;
  /** Connection id; default 1. */
  readonly connection?: number;
  /** The tag is this and the index; default 'A'. */
  readonly tagPrefix?: string;
}

/** The `i`th APPEND of a run, one a second, 4 KiB per message. */
export function appendRecord(i: number, o: AppendShape): TimingRecord {
  const t0 = i * 1000;
  const r = newRecord(o.connection ?? 1, `${o.tagPrefix ?? 'A'}${i}`, 'APPEND', o.messages ?? 1, 4096, o.contMs === undefined ? 'nonsync' : 'sync', t0);
  r.depthAtSend = o.depth ?? 0;
  r.writeStart = t0 + 0.01;
  r.headFlushed = t0 + 0.02;
  let t = t0 + 0.02;
  if (o.contMs !== undefined) {
    r.syncWaits.push([t, t + o.contMs]);
    t += o.contMs;
  }
  r.bodyFlushed = t + 0.03;
  r.tagged = r.bodyFlushed + o.recvMs;
  return r;
}

/** A command that costs the server nothing (CAPABILITY after login), answered in `ms`: the server's baseline. */
export function capabilityRecord(ms: number, tag = 'C1'): TimingRecord {
  const r = newRecord(1, tag, 'CAPABILITY', 0, 0, 'none', 0);
  r.writeStart = 0.01;
  r.headFlushed = r.bodyFlushed = 0.02;
  r.tagged = 0.02 + ms;
  return r;
}
