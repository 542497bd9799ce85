import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose, parseDovecotTiming, parseDovecotTimingParts, type Diagnosis } from '../../src/analysis/diagnosis.js';
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';
import { seededRandom as rng } from '../../src/core/prng.js';
import { appendRecord, capabilityRecord } from '../helpers/timing-records.js';


function appendWithRecvWait(i: number, waitMs: number): TimingRecord {
  const t0 = i * 100;
  const r = newRecord(1, `A${i}`, 'APPEND', 1, 4096, 'nonsync', t0);
  r.writeStart = t0 + 0.01;
  r.headFlushed = t0 + 0.02;
  r.bodyFlushed = t0 + 0.05;
  r.tagged = t0 + 0.05 + waitMs;
  return r;
}

/** docs/measurements.md: split writes + Nagle + delayed ACK → 199/200 commands wait 40.6–51 ms, p50 44. */
function stalledRun(n = 200): TimingRecord[] {
  const rand = rng(1);
  return Array.from({ length: n }, (_, i) => appendWithRecvWait(i, i === 0 ? 0.08 : 40.6 + rand() * 10.4));
}

/** docs/measurements.md: coalesced writes → 0.07 ms. */
function cleanRun(n = 200): TimingRecord[] {
  const rand = rng(2);
  return Array.from({ length: n }, (_, i) => appendWithRecvWait(i, 0.05 + rand() * 0.1));
}

const codes = (d: Diagnosis[]): string[] => d.map((x) => x.code).sort();

test('a clean run with quiet counters yields no diagnosis at all', () => {
  const d = diagnose({
    records: cleanRun(),
    counters: { DelayedACKs: 0, ListenOverflows: 0, ListenDrops: 0, TCPSynRetrans: 0, ActiveOpens: 4 },
    connectMs: [0.2, 0.3, 0.25, 0.4],
    connections: { opened: 4, needed: 4 },
    serverMs: [],
  });
  assert.deepEqual(d, []);
});

test('an empty input yields no diagnosis', () => {
  assert.deepEqual(diagnose({}), []);
});

test('recv-waits clustered at 40–51 ms with DelayedACKs rising accordingly are a delayed-ack-stall with the fix named', () => {
  const d = diagnose({ records: stalledRun(), counters: { DelayedACKs: 199 } });
  assert.deepEqual(codes(d), ['delayed-ack-stall']);
  const stall = d[0]!;
  assert.equal(stall.evidence['stalled'], 199);
  assert.equal(stall.evidence['commands'], 200);
  assert.equal(stall.evidence['delayedAcks'], 199);
  assert.ok(stall.evidence['medianStallMs']! > 40 && stall.evidence['medianStallMs']! < 52);
  assert.match(stall.message, /199 of 200/);
  assert.match(stall.message, /TCP_NODELAY/);
  assert.match(stall.message, /one write/);
});

test('the same stall shape without kernel counters is still diagnosed, and says it judged from timing alone', () => {
  const d = diagnose({ records: stalledRun() });
  assert.deepEqual(codes(d), ['delayed-ack-stall']);
  assert.match(d[0]!.message, /timing alone/);
});

test('45 ms replies while DelayedACKs did not rise are not called a delayed-ACK stall', () => {
  const d = diagnose({ records: stalledRun(), counters: { DelayedACKs: 0 } });
  assert.deepEqual(d, []);
});

test('replies spread evenly over 0–100 ms are a slow server, not a delayed-ACK cluster', () => {
  const rand = rng(3);
  const records = Array.from({ length: 500 }, (_, i) => appendWithRecvWait(i, rand() * 100));
  assert.deepEqual(diagnose({ records, counters: { DelayedACKs: 500 } }), []);
});

test('replies spread evenly over 20–80 ms fill the window but are no cluster, so no stall is called', () => {
  const rand = rng(4);
  const records = Array.from({ length: 500 }, (_, i) => appendWithRecvWait(i, 20 + rand() * 60));
  assert.deepEqual(diagnose({ records, counters: { DelayedACKs: 500 } }), []);
});

test('a handful of 44 ms replies among many fast ones is below the share threshold', () => {
  const records = [...cleanRun(190), ...Array.from({ length: 10 }, (_, i) => appendWithRecvWait(1000 + i, 44))];
  assert.deepEqual(diagnose({ records, counters: { DelayedACKs: 10 } }), []);
});

test('connect times at 1, 2 and 3 s with TCPSynRetrans rising are a syn-retransmit', () => {
  const connectMs = [0.3, 0.2, 1003, 2051, 3010, 0.4];
  const d = diagnose({ connectMs, counters: { TCPSynRetrans: 6, ListenOverflows: 0 } });
  assert.deepEqual(codes(d), ['syn-retransmit']);
  assert.equal(d[0]!.evidence['connectsAtSynSchedule'], 3);
  assert.equal(d[0]!.evidence['synRetransmits'], 6);
  assert.match(d[0]!.message, /3 of 6 connects/);
  assert.match(d[0]!.message, /fewer connections/);
});

test('slow connects off the SYN schedule, or with no SYN retransmitted, are not a syn-retransmit', () => {
  assert.deepEqual(diagnose({ connectMs: [0.3, 600, 1500, 2600], counters: { TCPSynRetrans: 5 } }), []);
  assert.deepEqual(diagnose({ connectMs: [1002, 2003], counters: { TCPSynRetrans: 0 } }), []);
});

test('ListenOverflows rising with connects on the SYN schedule is an accept-queue-overflow, reported once', () => {
  // docs/measurements.md: 1500 connects against backlog 511, server busy 1.5 s → 512 fast, 988 at 2.05 s.
  const connectMs = [...Array.from({ length: 512 }, () => 0.5), ...Array.from({ length: 988 }, () => 2050)];
  const d = diagnose({ connectMs, counters: { ListenOverflows: 988, ListenDrops: 988, TCPSynRetrans: 1976 } });
  assert.deepEqual(codes(d), ['accept-queue-overflow']);
  assert.equal(d[0]!.evidence['listenOverflows'], 988);
  assert.equal(d[0]!.evidence['connectsAtSynSchedule'], 988);
  assert.match(d[0]!.message, /backlog/);
  assert.match(d[0]!.message, /somaxconn/);
});

test('server time that is most of the recv-wait is server-bound; a small share is not', () => {
  const records = Array.from({ length: 50 }, (_, i) => appendWithRecvWait(i, 6 + (i % 3) * 0.1));
  const slow = diagnose({ records, serverMs: Array.from({ length: 50 }, () => 5) });
  assert.deepEqual(codes(slow), ['server-bound']);
  assert.ok(slow[0]!.evidence['share']! > 0.7);
  assert.match(slow[0]!.message, /server/);
  const fast = diagnose({ records, serverMs: Array.from({ length: 50 }, () => 1) });
  assert.deepEqual(fast, []);
});

test('too few server samples never diagnose server-bound', () => {
  const records = Array.from({ length: 50 }, (_, i) => appendWithRecvWait(i, 6));
  assert.deepEqual(diagnose({ records, serverMs: [6, 6] }), []);
});

test('opening far more connections than needed is connection-churn; a few reconnects are not', () => {
  const d = diagnose({ connections: { opened: 5000, needed: 4 }, counters: { ActiveOpens: 5000 } });
  assert.deepEqual(codes(d), ['connection-churn']);
  assert.equal(d[0]!.evidence['opened'], 5000);
  assert.match(d[0]!.message, /reuse/);
  assert.deepEqual(diagnose({ connections: { opened: 7, needed: 4 } }), []);
  assert.deepEqual(diagnose({ connections: { opened: 12, needed: 4 } }), [], 'more than 2× but fewer than 10 extra');
});

test('several problems at once are each reported', () => {
  const d = diagnose({
    records: stalledRun(),
    counters: { DelayedACKs: 250, TCPSynRetrans: 1 },
    connectMs: [1004],
    connections: { opened: 100, needed: 1 },
  });
  assert.deepEqual(codes(d), ['connection-churn', 'delayed-ack-stall', 'syn-retransmit']);
});

test('parseDovecotTiming counts the command running and its post-command sync, not its wait for the client', () => {
  assert.equal(parseDovecotTiming('OK [APPENDUID 1 5] Append completed (0.004 + 0.001 + 0.001 secs).'), 5);
  assert.equal(parseDovecotTiming('OK Append completed (0.003 + 0.009 secs).'), 3);
  assert.equal(parseDovecotTiming('OK Logged in (0.000 + 0.000 secs)'), 0);
  assert.equal(parseDovecotTiming('OK Append completed.'), undefined);
  assert.deepEqual(parseDovecotTimingParts('(1.250 + 0.010 + 0.300 secs)'), { runningMs: 1250, ioWaitMs: 10, afterRunMs: 300 });
  assert.deepEqual(parseDovecotTimingParts('(0.002 + 0.000 secs)'), { runningMs: 2, ioWaitMs: 0, afterRunMs: undefined });
});

// Stalls judged against the server's own latency, in every phase (issue 16). Synthetic records shaped after the
// measured runs: Courier (no LITERAL+) at depth 2, Dovecot with Nagle and split writes, and slow servers.

/** One APPEND with a synchronizing literal (contMs: header → '+') or none, then recvMs to the tagged reply. */
const append = (i: number, o: { contMs?: number; recvMs: number; depth?: number }): TimingRecord => appendRecord(i, { ...o, tagPrefix: 'S' });

/** A command that costs the server nothing (CAPABILITY after login): its latency is the server's baseline. */
const capability = (i: number, ms: number): TimingRecord => capabilityRecord(ms, `C${i}`);

const stallsOf = (d: Diagnosis[]): Diagnosis[] => d.filter((x) => x.code === 'delayed-ack-stall');

test('a slow server answering in about 60 ms in every phase is slow, not stalled', () => {
  const rand = rng(11);
  const jitter = (): number => 60 + (rand() - 0.5) * 16; // 52–68 ms: part of it inside the old absolute 38–56 window
  const records = [
    ...Array.from({ length: 4 }, (_, i) => capability(i, jitter())),
    ...Array.from({ length: 200 }, (_, i) => append(i, { contMs: jitter(), recvMs: jitter(), depth: i % 2 })),
  ];
  assert.deepEqual(stallsOf(diagnose({ records })), []);
});

test('a server at 45 ms everywhere, inside the delayed-ACK window by itself, is not called a stall', () => {
  const rand = rng(12);
  const records = [
    capability(0, 45),
    capability(1, 46),
    ...Array.from({ length: 200 }, (_, i) => append(i, { contMs: 44 + rand() * 3, recvMs: 44 + rand() * 3, depth: 1 })),
  ];
  assert.deepEqual(stallsOf(diagnose({ records })), []);
});

test("Courier's continuation phase, +48 ms above its own latency at depth 2, is a continuation stall with depth 1 as the fix", () => {
  const rand = rng(13);
  const records = [
    capability(0, 0.4),
    capability(1, 0.5),
    ...Array.from({ length: 200 }, (_, i) => append(i, { contMs: 48 + rand() * 6, recvMs: 2 + rand() * 2, depth: i === 0 ? 0 : 1 })),
  ];
  const d = stallsOf(diagnose({ records, counters: { DelayedACKs: 201 } }));
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.phase, 'continuation');
  assert.equal(d[0]!.evidence['stalled'], 200);
  assert.ok(d[0]!.evidence['pipelinedShare']! > 0.99);
  assert.ok(d[0]!.evidence['baselineMs']! < 1);
  assert.match(d[0]!.message, /continuation requests/);
  assert.match(d[0]!.message, /pipeline depth 1/);
});

test('the same Courier at depth 1, its continuations as fast as its replies, has no stall', () => {
  const rand = rng(14);
  const records = [capability(0, 0.4), ...Array.from({ length: 200 }, (_, i) => append(i, { contMs: 0.3 + rand(), recvMs: 2 + rand() * 2 }))];
  assert.deepEqual(stallsOf(diagnose({ records, counters: { DelayedACKs: 0 } })), []);
});

test("Dovecot's Nagle case (split writes, Nagle on) stalls in the tagged phase, judged against its fast continuations", () => {
  const rand = rng(15);
  const records = Array.from({ length: 200 }, (_, i) => append(i, { contMs: 0.1 + rand() * 0.1, recvMs: 40.6 + rand() * 10.4 }));
  const d = stallsOf(diagnose({ records, counters: { DelayedACKs: 200 } }));
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.phase, 'tagged');
  assert.ok(d[0]!.evidence['baselineMs']! < 0.3);
  assert.match(d[0]!.message, /TCP_NODELAY/);
});

test('a delayed-ACK stall on a 20 ms server (replies at ~64 ms, outside any absolute window) is still seen', () => {
  const rand = rng(16);
  const records = [
    capability(0, 20),
    capability(1, 21),
    ...Array.from({ length: 200 }, (_, i) => append(i, { contMs: 20 + rand(), recvMs: 20 + 40.6 + rand() * 10.4 })),
  ];
  const d = stallsOf(diagnose({ records }));
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.phase, 'tagged');
  assert.ok(Math.abs(d[0]!.evidence['aboveBaselineMs']! - 45) < 6);
});

test("a stall at another stack's 200 ms delayed-ACK timeout is recognised as well", () => {
  const rand = rng(17);
  const records = [capability(0, 1), ...Array.from({ length: 100 }, (_, i) => append(i, { contMs: 200 + rand() * 20, recvMs: 1 + rand(), depth: 1 }))];
  const d = stallsOf(diagnose({ records }));
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.evidence['timeoutMs'], 200);
});

test('a measured baseline given by the caller (a NOOP) is the one the stall is judged against', () => {
  const rand = rng(18);
  const records = Array.from({ length: 100 }, (_, i) => append(i, { recvMs: 60 + rand() * 6 }));
  assert.deepEqual(stallsOf(diagnose({ records, baselineMs: 60 })), []);
  const d = stallsOf(diagnose({ records, baselineMs: 18 }));
  assert.equal(d.length, 1);
  assert.equal(d[0]!.evidence['baselineMs'], 18);
});

test('on a loaded host the delayed-ACK timer fires late (Courier measured 50–70 ms): the stall is the mode found there, not a fixed 38–56 window', () => {
  const rand = rng(19);
  const records = [capability(0, 0.4), ...Array.from({ length: 125 }, (_, i) => append(i, { contMs: 50 + rand() * 20, recvMs: 5 + rand() * 20, depth: 1 }))];
  const d = stallsOf(diagnose({ records }));
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.phase, 'continuation');
  assert.equal(d[0]!.evidence['timeoutMs'], 40);
});

test('continuation waits spread evenly over 30–100 ms above the baseline have no mode, so no stall is called', () => {
  const rand = rng(20);
  const records = [capability(0, 0.4), ...Array.from({ length: 300 }, (_, i) => append(i, { contMs: 30 + rand() * 70, recvMs: 2, depth: 1 }))];
  assert.deepEqual(stallsOf(diagnose({ records })), []);
});
