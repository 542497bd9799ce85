import type { CounterDelta } from '../core/kernel-counters.js';
import type { SettingsBounds } from '../core/settings.js';
import type { LiteralMode } from '../core/types.js';
import { delayedAckStalls, phaseSamples } from '../analysis/diagnosis.js';
import { percentile } from '../analysis/stats.js';
import { fmt, kib } from './adapt-units.js';
import { DEFAULT_PLUS_MAX_BYTES, literalPlusMaxForPath } from '../imap/literal-policy.js';
import { DEFAULT_MAX_BYTES_IN_FLIGHT } from '../transport/pool-admission.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';

// The adaptation policy: what the first seconds of an import measured → the settings for the rest, each change with
// its reason in words. Pure (no clock, no socket): the runtime controller (adaptive-run.ts) gathers the evidence and
// applies the answer; tests feed it synthetic evidence. The defaults (src/core/settings.ts) are where it starts, the
// bounds are where it stops; it never goes above them nor above the server's connection cap. Rules are applied in
// order and each cites the measurement it rests on (docs/adaptation.md).

export interface AdaptSettings {
  /** Commands in flight per connection. */
  readonly pipelineDepth: number;
  readonly connections: number;
  /** Connections that may append into one folder at the same time; undefined = no limit (all of them). */
  readonly connectionsPerFolder: number | undefined;
  /** Messages per MULTIAPPEND (1 = plain APPEND). */
  readonly batch: number;
  readonly literalMode: LiteralMode;
  /** With LITERAL+ and literal mode auto, messages up to this many bytes go non-synchronizing (literal-policy.ts). */
  readonly literalPlusMaxBytes: number;
}

/** One APPEND's server wait, with how many connections had an APPEND into the same folder in flight when it went. */
export interface FolderWaitSample {
  readonly connectionsInFolder: number;
  readonly waitMs: number;
}

/** Throughput measured at one setting (a first and a second look at the same run, or a sweep). */
export interface DepthThroughput {
  readonly depth: number;
  readonly messagesPerS: number;
}

export interface AdaptInput {
  /** Timing records of the first seconds: APPENDs and the connection's own commands (CAPABILITY, LOGIN…). */
  readonly records: readonly TimingRecord[];
  readonly folderWaits?: readonly FolderWaitSample[];
  readonly throughput?: readonly DepthThroughput[];
  readonly capabilities: { readonly literalPlus: boolean; readonly literalMinus: boolean; readonly multiappend: boolean };
  /** The measured round trip (the fastest TCP connect or fast command), ms. */
  readonly rttMs?: number | undefined;
  /** Mean bytes per message sent so far (for the in-flight window in bytes). */
  readonly meanMessageBytes?: number | undefined;
  /** Bytes the server confirmed per ms over the window looked at: a lower bound of the path's bandwidth. */
  readonly bytesPerMs?: number | undefined;
  /** The LITERAL+ limit in force was assumed at the start from the login's round trip (pathStartChange), not measured. */
  readonly literalPlusAssumed?: boolean | undefined;
  readonly current: AdaptSettings;
  readonly bounds: SettingsBounds;
  /** The server refused connection cap+1 (learned by the pool). */
  readonly connectionCap?: number | undefined;
  /** The pool's byte bound on what it holds in flight (PoolOptions.maxBytesInFlight). */
  readonly maxBytesInFlight?: number | undefined;
  readonly counters?: CounterDelta | undefined;
  /** A measured NOOP latency, when the caller has one (else the diagnosis derives the baseline from the records). */
  readonly baselineMs?: number | undefined;
}

export interface AdaptChange {
  readonly setting: keyof AdaptSettings;
  readonly from: number | string | undefined;
  readonly to: number | string | undefined;
  readonly reason: string;
}

export interface AdaptDecision {
  readonly settings: AdaptSettings;
  readonly changes: AdaptChange[];
  /** What was looked at and left alone, and why (for the report: "no change" must say what was checked). */
  readonly notes: string[];
  /** The depth was set from evidence (a continuation stall, throughput by depth): trials must not undo it. */
  readonly depthPinned: boolean;
}

/** Folder-lock waits: the wait with ≥ 2 connections in a folder must be this many times the single-connection wait… */
export const LOCK_WAIT_FACTOR = 3;
/** …and at least this much longer. Courier waited 0.9–4 s (docs/adaptation.md); a busy server's 20 ms jitter is not a lock. */
export const LOCK_WAIT_MIN_MS = 200;
/**
 * …or a second connection into the folder adds (almost) nothing: k connections each waiting W(k) give k/W(k)
 * commands per ms against 1/W(1) alone; below this gain the folder is serialised by the server. Courier measured here
 * (docs/adaptation.md): 1 connection 78–82 msg/s, 2 into one folder 58–65 (gain < 1). Dovecot: 1340 vs 1022 msg/s
 * with a second connection (gain 1.3), which must stay.
 */
export const LOCK_MIN_GAIN = 1.1;
/** A lock stall: one APPEND with ≥ 2 connections in its folder waiting this many times the median wait and at least
 *  LOCK_STALL_MIN_MS, never seen with one connection alone. Courier's shortest lock wait measured here was 985 ms
 *  (its lock retry sleeps whole seconds); a loaded machine's scheduling hiccups reach a few hundred ms. */
export const LOCK_STALL_FACTOR = 20;
export const LOCK_STALL_MIN_MS = 500;
/** …costing at least this share of all the time spent waiting on the server (Courier: 62 %). */
export const LOCK_STALL_SHARE = 0.2;
/** Samples needed on each side of the folder-lock comparison. */
export const MIN_LOCK_SAMPLES = 3;
/** A round trip below this is a LAN or loopback: one command in flight per connection already covers it. */
export const MIN_RTT_FOR_WINDOW_MS = 2;
/** A lower depth must beat the current one by this much to be chosen: run-to-run noise here is ±5–10 %. */
export const THROUGHPUT_MARGIN = 0.1;
/** The server's time per command is floored at this (a reply faster than the round trip still took the server some). */
const MIN_SERVICE_MS = 0.5;


export function adapt(input: AdaptInput): AdaptDecision {
  const cur = input.current;
  let s: AdaptSettings = { ...cur };
  const changes: AdaptChange[] = [];
  const notes: string[] = [];
  const set = <K extends keyof AdaptSettings>(setting: K, to: AdaptSettings[K], reason: string): void => {
    if (s[setting] === to) return;
    changes.push({ setting, from: s[setting], to, reason });
    s = { ...s, [setting]: to };
  };
  const maxConnections = Math.max(1, Math.min(input.bounds.maxConnections, input.connectionCap ?? Infinity));
  let depthPinned = false;

  // Rule 1 — a continuation stall at depth > 1 without LITERAL+ → depth 1. Courier (no LITERAL+, no MULTIAPPEND):
  // at depth 2 every '+' waited ~48 ms behind the reply to the previous command (22 msg/s, DelayedACKs +201), at
  // depth 1 it waits for nothing: 255 msg/s (docs/adaptation.md). With LITERAL+ the literal needs no '+' at all.
  const stalls = delayedAckStalls(phaseSamples(input.records), input.counters, input.baselineMs);
  const contStall = stalls.find((d) => d.phase === 'continuation');
  if (contStall) {
    const nonsync = input.capabilities.literalPlus || input.capabilities.literalMinus;
    if (nonsync && cur.literalMode === 'sync') {
      // The server offers non-synchronizing literals and only the chosen mode made us wait: 'auto' uses them
      // (LITERAL+ up to 100 KiB, as mbsync; RFC 7888), so the continuation phase disappears.
      set('literalMode', 'auto', `continuation stall (${contStall.message.split(':')[0]}) and the server offers ${input.capabilities.literalPlus ? 'LITERAL+' : 'LITERAL-'}: non-synchronizing literals need no "+"`);
    }
    if (cur.pipelineDepth > 1 && !input.capabilities.literalPlus) {
      set('pipelineDepth', 1, `continuation stall: ${contStall.evidence['stalled'] ?? 0} of ${contStall.evidence['commands'] ?? 0} "+" came ${fmt(contStall.evidence['aboveBaselineMs'] ?? 0)} ms above the server's own latency at depth ${cur.pipelineDepth}, without LITERAL+; depth 1 lets each literal go at once (Courier: 22 → 255 msg/s)`);
      depthPinned = true;
    }
  } else notes.push('continuation phase: no delayed-ACK stall above the server\'s own latency');
  const replyStall = stalls.find((d) => d.phase === 'tagged');
  if (replyStall) {
    // Not a setting this policy owns: Nagle and split writes are fixed by --nodelay / --write coalesce (the defaults).
    notes.push(`tagged replies stall at the delayed-ACK timeout: ${replyStall.message}`);
  }

  // Rule 2 — folder-lock waits that grow with connections into one folder → one connection per folder. Courier
  // locks a folder for each APPEND: a second connection into the same folder waited 0.9–4 s (docs/adaptation.md).
  const lockChange = cur.connectionsPerFolder === 1 ? undefined : folderLockChange(input.folderWaits ?? []);
  if (lockChange) {
    set('connectionsPerFolder', 1, lockChange.reason);
  } else if ((input.folderWaits ?? []).length > 0) notes.push('folder locks: the server wait does not grow with connections into one folder');

  // Rule 3 — throughput per depth: a server that slows with depth gets the depth it was fastest at. Dovecot with
  // MULTIAPPEND measured 394 msg/s at depth 1 against 225 at depth 32 (docs/measurements.md).
  const byDepth = input.throughput ?? [];
  const here = byDepth.filter((t) => t.depth === s.pipelineDepth).map((t) => t.messagesPerS);
  if (here.length > 0 && !depthPinned) {
    const best = byDepth.reduce((a, b) => (b.messagesPerS > a.messagesPerS ? b : a));
    const now = Math.max(...here);
    if (best.depth !== s.pipelineDepth && best.messagesPerS > now * (1 + THROUGHPUT_MARGIN)) {
      set('pipelineDepth', Math.min(best.depth, input.bounds.maxPipelineDepth), `throughput by depth: ${fmt(best.messagesPerS)} msg/s at depth ${best.depth} against ${fmt(now)} at depth ${s.pipelineDepth}`);
      depthPinned = true;
    }
  }

  // Rule 4 — the in-flight window (connections × depth × batch bytes) must cover the bandwidth-delay product. Over a
  // 40 ms path the defaults kept 520 msg/s of their 1306 at 0 ms, `--connections 8` 795 (docs/adaptation.md): the
  // server sat idle while replies crossed the path. Each connection needs 1 + RTT/S commands in flight, S being the
  // server's time per command, so that the next command is there when the server finishes one.
  // Rule 4 at the first look after a start over a path (pathStartChange): the LITERAL+ limit was set from the login's
  // round trip and an assumed bandwidth (PATH_ASSUMED_BYTES_PER_MS, settings.ts); now the run has measured the
  // bandwidth, so the limit becomes what the measured path uploads in one round trip — up or down, never below the
  // 100 KiB floor. A login slowed by the server's password hashing on a LAN reads as a path; here it goes back.
  let literalMeasured = false;
  if (input.literalPlusAssumed && input.rttMs !== undefined && input.bytesPerMs !== undefined && input.capabilities.literalPlus && s.literalMode === 'auto') {
    const ceiling = input.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
    const limit = literalPlusMaxForPath(input.rttMs, input.bytesPerMs, ceiling);
    if (limit !== s.literalPlusMaxBytes) {
      set('literalPlusMaxBytes', limit, `the LITERAL+ limit assumed at the start (${kib(s.literalPlusMaxBytes)}) against what was measured: round trip ${fmt(input.rttMs)} ms × ${fmt(input.bytesPerMs)} bytes/ms delivered = ${kib(limit)}${limit === DEFAULT_PLUS_MAX_BYTES ? ' (the floor)' : ''}`);
      literalMeasured = true;
    } else notes.push(`LITERAL+ limit: the ${kib(limit)} assumed at the start is what the measured path uploads in one round trip`);
  }
  const window = bdpWindow(input, s);
  if (window) {
    notes.push(window.note);
    // Rule 4a — synchronizing literals over a long path: raise the LITERAL+ limit to what the path uploads in one
    // round trip (literal-policy.ts, literalPlusMaxForPath), so that the messages above 100 KiB stop costing a round
    // trip each. Over the 40 ms relay the defaults kept 0.65× of their 0 ms msg/s with 3.8 such literals per
    // MULTIAPPEND (docs/adaptation.md). Only where the connections use LITERAL+ under 'auto': a forced mode is the
    // user's, and without LITERAL+ there is no limit to move.
    let literalRaised = literalMeasured;
    if (!literalMeasured && window.syncPerCommand > 0 && input.capabilities.literalPlus && s.literalMode === 'auto' && input.bytesPerMs !== undefined) {
      const ceiling = input.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT;
      const limit = literalPlusMaxForPath(window.rttMs, input.bytesPerMs, ceiling, s.literalPlusMaxBytes);
      if (limit > s.literalPlusMaxBytes) {
        set('literalPlusMaxBytes', limit, `round trip ${fmt(window.rttMs)} ms with ${fmt(window.syncPerCommand)} synchronizing literal(s) per command (messages above ${kib(s.literalPlusMaxBytes)}): a literal of up to ${kib(limit)} (RTT × the ${fmt(input.bytesPerMs)} bytes/ms delivered, bound ${kib(ceiling)}) uploads within one round trip, so LITERAL+ up to it never loses even when refused`);
        literalRaised = true;
      }
    }
    if (literalRaised && window.neededConnections > s.connections) {
      notes.push('connections for synchronizing literals: judged at the next look, under the raised LITERAL+ limit');
    } else if (window.neededConnections > s.connections && s.connectionsPerFolder !== 1 && s.connections < maxConnections) {
      const conns = Math.min(maxConnections, window.neededConnections);
      set('connections', conns, `round trip ${fmt(window.rttMs)} ms with ${fmt(window.syncPerCommand)} synchronizing literal(s) per command: each connection can hand the server one command per ${fmt(window.syncPerCommand * window.rttMs)} ms against its ${fmt(window.serviceMs)} ms per command; ${conns} connections${conns < window.neededConnections ? ` (bound ${maxConnections}; ${window.neededConnections} would cover it)` : ''}`);
    }
    if (window.neededDepth > s.pipelineDepth) {
      if (depthPinned) notes.push('in-flight window: depth stays where a rule above pinned it');
      else {
        const depth = Math.min(input.bounds.maxPipelineDepth, window.neededDepth);
        set('pipelineDepth', depth, `in-flight window ${kib(window.windowBytes)} < ${kib(window.neededBytes)}: the bandwidth-delay product ${kib(window.bdpBytes)} (RTT ${fmt(window.rttMs)} ms, server ${fmt(window.serviceMs)} ms per command) plus the command each connection's server is working on: depth ${depth}${depth < window.neededDepth ? ` (bound; ${window.neededDepth} would cover it)` : ''}`);
      }
      const perConn = window.neededDepth / s.pipelineDepth;
      if (perConn > 1) {
        // Depth alone could not cover the product: more messages per command (MULTIAPPEND) make each round trip
        // carry more; without MULTIAPPEND, more connections (when folders allow several) do.
        if (input.capabilities.multiappend && s.batch > 1 && s.batch < input.bounds.maxBatch) {
          const batch = Math.min(input.bounds.maxBatch, Math.ceil(s.batch * perConn));
          set('batch', batch, `in-flight window still short of the bandwidth-delay product at depth ${s.pipelineDepth}: batch ${batch} (bound ${input.bounds.maxBatch})`);
        } else if (s.connectionsPerFolder !== 1 && s.connections < maxConnections) {
          const conns = Math.min(maxConnections, Math.ceil(s.connections * perConn));
          set('connections', conns, `in-flight window still short of the bandwidth-delay product at depth ${s.pipelineDepth}${input.capabilities.multiappend ? '' : ' without MULTIAPPEND'}: ${conns} connections (bound ${maxConnections}${input.connectionCap !== undefined ? `, server cap ${input.connectionCap}` : ''})`);
        }
      }
    }
  }

  // Rule 5 — never above the bounds or the server's connection cap (whatever the rules above or the user asked).
  if (s.connections > maxConnections) set('connections', maxConnections, `the server accepts ${input.connectionCap ?? maxConnections} connection(s)`);
  if (s.pipelineDepth > input.bounds.maxPipelineDepth) set('pipelineDepth', input.bounds.maxPipelineDepth, `bound: at most ${input.bounds.maxPipelineDepth} in flight`);
  if (s.batch > input.bounds.maxBatch) set('batch', input.bounds.maxBatch, `bound: at most ${input.bounds.maxBatch} per MULTIAPPEND`);
  if (s.batch > 1 && !input.capabilities.multiappend) set('batch', 1, 'the server does not offer MULTIAPPEND');
  return { settings: s, changes, notes, depthPinned };
}

/**
 * The folder-lock rule on its own, for the controller to run whenever a long wait settles (a lock wait of seconds
 * often settles after the look that would have seen it): the change to one connection per folder, or undefined.
 */
export function folderLockChange(samples: readonly FolderWaitSample[]): AdaptChange | undefined {
  const lock = folderLock(samples);
  if (!lock) return undefined;
  const reason = lock.stalls
    ? `folder-lock stalls: ${lock.stalls.count} APPEND(s) with ${lock.connections} connections in one folder waited up to ${fmt(lock.stalls.maxMs)} ms against a median ${fmt(lock.aloneMs)} ms, ${Math.round(lock.stalls.lostShare * 100)} % of all the time spent waiting on the server; one connection per folder`
    : // Waits alone cannot tell a folder lock from a server that stores one APPEND at a time (the embedded server
      // in the CLI's own process reads this way): the report says both, and the change suits both.
      `folder-lock waits: APPENDs with ${lock.connections} connections in one folder waited ${fmt(lock.contendedMs)} ms (median) against ${fmt(lock.aloneMs)} ms alone (${fmt(lock.gain)}× the work of one connection): a folder lock, or a server that stores one APPEND at a time; either way a second connection in one folder does not help, so one connection per folder`;
  return { setting: 'connectionsPerFolder', from: undefined, to: 1, reason };
}

function folderLock(samples: readonly FolderWaitSample[]): { connections: number; contendedMs: number; aloneMs: number; gain: number; stalls?: { count: number; lostShare: number; maxMs: number } } | undefined {
  const aloneSamples = samples.filter((x) => x.connectionsInFolder <= 1);
  const contended = samples.filter((x) => x.connectionsInFolder >= 2);
  if (contended.length < MIN_LOCK_SAMPLES) return undefined;
  const connections = Math.max(...contended.map((x) => x.connectionsInFolder));
  // Lock stalls: a few APPENDs that wait seconds while the rest go at the usual pace. Courier measured here (1000
  // messages, 2 connections at depth 1 into INBOX): 4–5 APPENDs waited 1.0, 2.0, 3.0 s (whole seconds: its lock
  // retry), the other 995 a median 3.9 ms, and those few waits were 62 % of all the time spent waiting on the server
  // (97 msg/s against 181 with one connection). A median never sees them; the time they cost does.
  const baseline = percentile(samples.map((x) => x.waitMs), 50)!;
  const isStall = (w: number): boolean => w >= LOCK_STALL_MIN_MS && w >= LOCK_STALL_FACTOR * Math.max(baseline, MIN_SERVICE_MS);
  const stalled = contended.filter((x) => isStall(x.waitMs));
  const aloneStalled = aloneSamples.filter((x) => isStall(x.waitMs)).length;
  if (stalled.length > 0 && aloneStalled === 0) {
    const total = samples.reduce((a, x) => a + x.waitMs, 0);
    const lost = stalled.reduce((a, x) => a + x.waitMs - baseline, 0);
    const lostShare = total > 0 ? lost / total : 0;
    if (lostShare >= LOCK_STALL_SHARE) {
      const contendedMs = percentile(contended.map((x) => x.waitMs), 50)!;
      const aloneMs = aloneSamples.length ? percentile(aloneSamples.map((x) => x.waitMs), 50)! : baseline;
      return { connections, contendedMs, aloneMs, gain: 0, stalls: { count: stalled.length, lostShare, maxMs: Math.max(...stalled.map((x) => x.waitMs)) } };
    }
  }
  const alone = aloneSamples.map((x) => x.waitMs);
  if (alone.length < MIN_LOCK_SAMPLES) return undefined;
  const aloneMs = percentile(alone, 50)!;
  const contendedMs = percentile(contended.map((x) => x.waitMs), 50)!;
  const meanConnections = contended.reduce((a, x) => a + x.connectionsInFolder, 0) / contended.length;
  const gain = contendedMs > 0 ? (meanConnections * aloneMs) / contendedMs : Infinity;
  const longWaits = contendedMs >= LOCK_WAIT_FACTOR * aloneMs && contendedMs - aloneMs >= LOCK_WAIT_MIN_MS;
  if (!longWaits && gain >= LOCK_MIN_GAIN) return undefined;
  return { connections, contendedMs, aloneMs, gain };
}

interface Window {
  readonly rttMs: number;
  readonly serviceMs: number;
  readonly neededDepth: number;
  readonly windowBytes: number;
  readonly bdpBytes: number;
  /** What covers it: the product plus one command per connection at the server (connections × (1 + RTT/S) × batch). */
  readonly neededBytes: number;
  /** Synchronizing literals per command (each holds the connection's sending for a round trip). */
  readonly syncPerCommand: number;
  /** Connections that keep the server as busy as at 0 ms despite those waits (≥ the current ones). */
  readonly neededConnections: number;
  readonly note: string;
}

/** The window the settings give against the bandwidth-delay product of the measured path; undefined on a LAN. */
function bdpWindow(input: AdaptInput, s: AdaptSettings): Window | undefined {
  const rtt = input.rttMs;
  if (rtt === undefined || rtt < MIN_RTT_FOR_WINDOW_MS) return undefined;
  const waits: number[] = [];
  let syncs = 0;
  for (const r of input.records) {
    if (r.messages === 0) continue;
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined) {
      waits.push(w);
      syncs += r.syncWaits.length;
    }
  }
  if (waits.length === 0) return undefined;
  // Server time per command: the reply's wait less the path. Under a full pipe it includes queueing at the server,
  // which makes S look longer and the needed depth smaller — the safe direction.
  const serviceMs = Math.max(MIN_SERVICE_MS, percentile(waits, 50)! - rtt);
  const neededDepth = Math.ceil(1 + rtt / serviceMs);
  const batchBytes = Math.max(1, s.batch) * Math.max(1, input.meanMessageBytes ?? 1);
  const conns = s.connections;
  const windowBytes = conns * s.pipelineDepth * batchBytes;
  // Bytes/s the server would take if never idle, times the round trip.
  const bdpBytes = Math.round(((conns * batchBytes) / serviceMs) * rtt);
  let depth = neededDepth;
  const cap = input.maxBytesInFlight;
  if (cap !== undefined && conns * depth * batchBytes > cap) depth = Math.max(1, Math.floor(cap / (conns * batchBytes)));
  // A synchronizing literal (a message above the LITERAL+ limit, or every message without LITERAL+) holds the
  // connection's sending for a round trip: nothing may follow it until the '+' (RFC 9051 §4.3; mbsync's
  // cmd_sendable does the same). m of them per command let one connection hand the server at most one command per
  // m × RTT whatever its depth, so the server's process for that connection idles unless m × RTT ≤ S. Dovecot over
  // the 40 ms relay, MULTIAPPEND of 50 with LITERAL+ up to 100 KiB: 3.5 such messages per command, S ≈ 25 ms —
  // the defaults kept 318 of their 552 msg/s (data phase), 8 connections 709 (docs/adaptation.md).
  const syncPerCommand = syncs / waits.length;
  const holdMs = syncPerCommand * rtt;
  const neededConnections = holdMs > serviceMs ? Math.ceil((conns * holdMs) / serviceMs) : conns;
  return {
    rttMs: rtt,
    serviceMs,
    neededDepth: depth,
    windowBytes,
    bdpBytes,
    neededBytes: bdpBytes + conns * batchBytes,
    syncPerCommand,
    neededConnections,
    note: `in-flight window ${kib(windowBytes)} (${conns} × depth ${s.pipelineDepth} × ${kib(batchBytes)}) against a bandwidth-delay product of ${kib(bdpBytes)} (RTT ${fmt(rtt)} ms, server ${fmt(serviceMs)} ms per command): depth ${neededDepth} per connection covers it` +
      (syncPerCommand > 0 ? `; ${fmt(syncPerCommand)} synchronizing literal(s) per command hold each connection ${fmt(holdMs)} ms per command${neededConnections > conns ? `: ${neededConnections} connections keep the server busy` : ''}` : ''),
  };
}
