// The adaptation policy (issue 16), one test per rule and one for "no change when healthy", from synthetic timing
// records shaped after the measured runs (Courier at depth 2, Courier's folder lock, Dovecot over a 40 ms path).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom as rng } from '../../src/core/prng.js';
import { DEFAULT_BOUNDS, DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { DEFAULT_PLUS_MAX_BYTES } from '../../src/imap/literal-policy.js';
import { adapt, type AdaptInput, type AdaptSettings, type FolderWaitSample } from '../../src/migrate/adapt-policy.js';
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';
import { appendRecord, type AppendShape, capabilityRecord } from '../helpers/timing-records.js';

const DEFAULTS: AdaptSettings = {
  pipelineDepth: DEFAULT_SETTINGS.pipelineDepth,
  connections: DEFAULT_SETTINGS.connections,
  connectionsPerFolder: undefined,
  batch: DEFAULT_SETTINGS.batch,
  literalMode: DEFAULT_SETTINGS.literalMode,
  literalPlusMaxBytes: DEFAULT_PLUS_MAX_BYTES,
};
const DOVECOT_CAPS = { literalPlus: true, literalMinus: false, multiappend: true };
const COURIER_CAPS = { literalPlus: false, literalMinus: false, multiappend: false };

/** Two connections taking turns (test/helpers/timing-records.ts). */
const append = (i: number, o: AppendShape): TimingRecord => appendRecord(i, { ...o, connection: 1 + (i % 2) });
const capability = (ms: number): TimingRecord => capabilityRecord(ms);

function input(o: Partial<AdaptInput>): AdaptInput {
  return { records: [], capabilities: DOVECOT_CAPS, current: DEFAULTS, bounds: DEFAULT_BOUNDS, meanMessageBytes: 4096, ...o };
}

/** Dovecot on loopback with the defaults: LITERAL+, MULTIAPPEND 50 answered in ~2 ms. */
function healthyRun(): TimingRecord[] {
  const rand = rng(21);
  return [capability(0.1), ...Array.from({ length: 200 }, (_, i) => append(i, { recvMs: 1.5 + rand(), depth: i % 2, messages: 50 }))];
}

const flatLocks = (): FolderWaitSample[] => [1, 1, 1, 1, 2, 2, 2, 2].map((c, i) => ({ connectionsInFolder: c, waitMs: 2 + (i % 3) }));

test('a healthy run on Dovecot over loopback changes nothing, and says what it checked', () => {
  const d = adapt(input({ records: healthyRun(), folderWaits: flatLocks(), rttMs: 0.05 }));
  assert.deepEqual(d.changes, []);
  assert.deepEqual(d.settings, DEFAULTS);
  assert.ok(d.notes.some((n) => /continuation phase: no/.test(n)), d.notes.join('\n'));
  assert.ok(d.notes.some((n) => /folder locks/.test(n)), d.notes.join('\n'));
});

test("Courier's continuation stall at depth 2 without LITERAL+ brings the depth to 1, citing the stall", () => {
  const rand = rng(22);
  const records = [capability(0.4), ...Array.from({ length: 120 }, (_, i) => append(i, { contMs: 48 + rand() * 6, recvMs: 2 + rand() * 2, depth: 1 }))];
  const d = adapt(input({ records, capabilities: COURIER_CAPS, current: { ...DEFAULTS, batch: 1 }, rttMs: 0.05 }));
  assert.equal(d.settings.pipelineDepth, 1);
  assert.equal(d.changes.length, 1);
  assert.equal(d.changes[0]!.setting, 'pipelineDepth');
  assert.equal(d.changes[0]!.from, 2);
  assert.match(d.changes[0]!.reason, /continuation stall/);
  assert.match(d.changes[0]!.reason, /without LITERAL\+/);
});

test('the same stall on a server that offers LITERAL+ while --literal sync was chosen switches to non-synchronizing literals, not depth', () => {
  const rand = rng(23);
  const records = [capability(0.4), ...Array.from({ length: 120 }, (_, i) => append(i, { contMs: 48 + rand() * 6, recvMs: 2 + rand() * 2, depth: 1 }))];
  const d = adapt(input({ records, current: { ...DEFAULTS, literalMode: 'sync' }, rttMs: 0.05 }));
  assert.equal(d.settings.literalMode, 'auto');
  assert.equal(d.settings.pipelineDepth, 2);
});

test('a server 60 ms slow in every phase is not adapted to as if it stalled', () => {
  const rand = rng(24);
  const records = [capability(60), ...Array.from({ length: 120 }, (_, i) => append(i, { contMs: 58 + rand() * 4, recvMs: 58 + rand() * 4, depth: 1 }))];
  const d = adapt(input({ records, capabilities: COURIER_CAPS, current: { ...DEFAULTS, batch: 1 } }));
  assert.equal(d.settings.pipelineDepth, 2);
  assert.deepEqual(d.changes, []);
});

test("folder-lock waits that grow with connections into one folder (Courier: 0.9–4 s) give one connection per folder", () => {
  const folderWaits: FolderWaitSample[] = [
    ...[3, 4, 5, 4].map((waitMs) => ({ connectionsInFolder: 1, waitMs })),
    ...[900, 1500, 4000, 2200, 1100].map((waitMs) => ({ connectionsInFolder: 2, waitMs })),
  ];
  const d = adapt(input({ records: healthyRun(), folderWaits, rttMs: 0.05 }));
  assert.equal(d.settings.connectionsPerFolder, 1);
  assert.equal(d.changes.length, 1);
  assert.match(d.changes[0]!.reason, /folder-lock waits/);
});

test('a second connection into one folder that only makes each APPEND wait its turn (Courier at depth 1: 12 → 33 ms) gives one connection per folder', () => {
  const folderWaits: FolderWaitSample[] = [
    ...[12, 11, 13, 12].map((waitMs) => ({ connectionsInFolder: 1, waitMs })),
    ...[33, 30, 36, 31, 34].map((waitMs) => ({ connectionsInFolder: 2, waitMs })),
  ];
  const d = adapt(input({ records: healthyRun(), folderWaits }));
  assert.equal(d.settings.connectionsPerFolder, 1);
  assert.match(d.changes[0]!.reason, /the work of one connection/);
  // The waits cannot tell a lock from a server storing one APPEND at a time: the reason claims neither alone.
  assert.match(d.changes[0]!.reason, /a folder lock, or a server that stores one APPEND at a time/);
});

test("a second connection that adds work, as on Dovecot (1,340 against 1,022 msg/s), is kept", () => {
  const folderWaits: FolderWaitSample[] = [
    ...[10, 10, 10, 10].map((waitMs) => ({ connectionsInFolder: 1, waitMs })),
    ...[15, 15, 15, 15].map((waitMs) => ({ connectionsInFolder: 2, waitMs })),
  ];
  assert.equal(adapt(input({ records: healthyRun(), folderWaits })).settings.connectionsPerFolder, undefined);
});

test('a server wait that does not grow with connections into one folder keeps every connection per folder', () => {
  const d = adapt(input({ records: healthyRun(), folderWaits: flatLocks() }));
  assert.equal(d.settings.connectionsPerFolder, undefined);
});

test('over a 40 ms path the window is raised to cover the bandwidth-delay product (depth 1 + RTT/S)', () => {
  const rand = rng(25);
  // Dovecot's MULTIAPPEND of 50 takes it ~22 ms; the reply comes one round trip (40 ms) later.
  const records = Array.from({ length: 60 }, (_, i) => append(i, { recvMs: 40 + 21 + rand() * 2, messages: 50 }));
  const d = adapt(input({ records, rttMs: 40 }));
  assert.equal(d.settings.pipelineDepth, 3);
  assert.equal(d.changes.length, 1);
  assert.match(d.changes[0]!.reason, /bandwidth-delay product/);
  assert.equal(d.settings.connections, 2);
});

test('a path too long for the depth bound raises the depth to the bound, then the batch within its bound', () => {
  const records = Array.from({ length: 60 }, (_, i) => append(i, { recvMs: 200 + 10, messages: 50 }));
  const d = adapt(input({ records, rttMs: 200 }));
  assert.equal(d.settings.pipelineDepth, DEFAULT_BOUNDS.maxPipelineDepth);
  assert.ok(d.settings.batch > 50 && d.settings.batch <= DEFAULT_BOUNDS.maxBatch, String(d.settings.batch));
  assert.ok(d.changes.some((c) => c.setting === 'pipelineDepth' && /bound/.test(c.reason)));
});

test('without MULTIAPPEND and with depth pinned by a stall, a long path gets more connections, never past the server cap', () => {
  const rand = rng(26);
  const records = [capability(40), ...Array.from({ length: 80 }, (_, i) => append(i, { contMs: 40 + 46 + rand() * 4, recvMs: 40 + 3 + rand(), depth: 1 }))];
  const d = adapt(input({ records, capabilities: COURIER_CAPS, current: { ...DEFAULTS, batch: 1 }, rttMs: 40, connectionCap: 3 }));
  assert.equal(d.settings.pipelineDepth, 1);
  assert.equal(d.settings.connections, 3);
  assert.equal(d.settings.batch, 1);
});

test('a measured server that slows with depth goes back to the depth it was fastest at', () => {
  const d = adapt(input({ records: healthyRun(), throughput: [{ depth: 2, messagesPerS: 225 }, { depth: 1, messagesPerS: 394 }] }));
  assert.equal(d.settings.pipelineDepth, 1);
  assert.match(d.changes[0]!.reason, /394 msg\/s at depth 1/);
});

test('throughput within the noise (5 %) of another depth changes nothing', () => {
  const d = adapt(input({ records: healthyRun(), throughput: [{ depth: 2, messagesPerS: 1000 }, { depth: 1, messagesPerS: 1050 }] }));
  assert.deepEqual(d.changes, []);
});

test('settings never exceed the bounds or the server connection cap, even when given above them', () => {
  const d = adapt(input({ records: healthyRun(), current: { ...DEFAULTS, connections: 6, pipelineDepth: 12, batch: DEFAULT_BOUNDS.maxBatch + 200 }, connectionCap: 4 }));
  assert.equal(d.settings.connections, 4);
  assert.equal(d.settings.pipelineDepth, DEFAULT_BOUNDS.maxPipelineDepth);
  assert.equal(d.settings.batch, DEFAULT_BOUNDS.maxBatch);
});

/** Courier, 2 connections at depth 1 into INBOX: the APPENDs go at ~4 ms, a few wait whole seconds on its lock. */
function courierLockWaits(): FolderWaitSample[] {
  const rand = rng(31);
  const samples: FolderWaitSample[] = Array.from({ length: 400 }, () => ({ connectionsInFolder: 2, waitMs: 2 + rand() * 4 }));
  for (const [i, w] of [[50, 1060], [180, 3008], [260, 2977]] as const) samples[i] = { connectionsInFolder: 2, waitMs: w };
  return samples;
}

test("Courier's folder-lock stalls — a few APPENDs waiting seconds while the rest go at 4 ms — give one connection per folder, though the median never moves", () => {
  const d = adapt(input({ records: healthyRun(), folderWaits: courierLockWaits(), capabilities: COURIER_CAPS, current: { ...DEFAULTS, pipelineDepth: 1, batch: 1 } }));
  assert.equal(d.settings.connectionsPerFolder, 1);
  assert.match(d.changes[0]!.reason, /folder-lock stalls: 3 APPEND\(s\) .* up to 3008 ms/);
});

test('a loaded machine’s scheduling hiccups (two 250 ms waits among 400 of 4 ms) are not a folder lock', () => {
  const samples = courierLockWaits().map((x) => (x.waitMs > 100 ? { ...x, waitMs: 4 } : x));
  samples[10] = { connectionsInFolder: 2, waitMs: 250 };
  samples[20] = { connectionsInFolder: 2, waitMs: 240 };
  const d = adapt(input({ records: healthyRun(), folderWaits: samples }));
  assert.equal(d.settings.connectionsPerFolder, undefined);
});

test('second-long waits that also come to a connection alone in its folder are the server being slow, not a lock', () => {
  const samples = [...courierLockWaits(), ...Array.from({ length: 40 }, (_, i) => ({ connectionsInFolder: 1, waitMs: i === 7 ? 2500 : 4 }))];
  const d = adapt(input({ records: healthyRun(), folderWaits: samples }));
  assert.equal(d.settings.connectionsPerFolder, undefined);
});

test('folderLockChange gives the lock rule alone, for the run-long watch, and nothing on flat waits', async () => {
  const { folderLockChange } = await import('../../src/migrate/adapt-policy.js');
  assert.equal(folderLockChange(courierLockWaits())?.to, 1);
  assert.equal(folderLockChange(flatLocks()), undefined);
});

/** Dovecot through the 40 ms relay: MULTIAPPEND 50, ~3.5 of its messages above the LITERAL+ limit wait for '+'. */
function syncLiteralPath(rttMs: number): TimingRecord[] {
  const rand = rng(32);
  return Array.from({ length: 12 }, (_, i) => {
    const t0 = i * 1000;
    const r = newRecord(1 + (i % 2), `A${i}`, 'APPEND', 50, 1_100_000, 'mixed', t0);
    r.writeStart = t0;
    r.headFlushed = t0 + 1;
    let t = t0 + 1;
    for (let k = 0; k < 3 + (i % 2); k++) {
      r.syncWaits.push([t, t + rttMs + 1 + rand()]);
      t += rttMs + 2;
    }
    r.bodyFlushed = t + 1;
    r.tagged = r.bodyFlushed + rttMs + 21 + rand() * 2;
    return r;
  });
}

test('over a 40 ms path, synchronizing literals inside each MULTIAPPEND (messages above the LITERAL+ limit) raise the connections: one connection hands the server a command per 3.5 round trips', () => {
  const d = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000 }));
  const c = d.changes.find((x) => x.setting === 'connections');
  assert.ok(c, JSON.stringify(d.changes));
  assert.equal(d.settings.connections, DEFAULT_BOUNDS.maxConnections);
  assert.match(c.reason, /synchronizing literal/);
  assert.ok(d.settings.pipelineDepth >= 2);
});

test('over a 40 ms path with the delivered bandwidth measured, the LITERAL+ limit rises to what the path uploads in one round trip, and the connections wait for the next look', () => {
  // 15 000 bytes/ms delivered × 40 ms = 600 000 bytes: 585 KiB, whole KiB.
  const d = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 15_000 }));
  const c = d.changes.find((x) => x.setting === 'literalPlusMaxBytes');
  assert.ok(c, JSON.stringify(d.changes));
  assert.equal(c.from, DEFAULT_PLUS_MAX_BYTES);
  assert.equal(d.settings.literalPlusMaxBytes, 585 * 1024);
  assert.match(c.reason, /synchronizing literal\(s\) per command .*within one round trip/);
  // The connections were sized for literals that will no longer wait: judged again under the new limit.
  assert.equal(d.settings.connections, DEFAULTS.connections, JSON.stringify(d.changes));
  assert.ok(d.notes.some((n) => /next look/.test(n)), d.notes.join('\n'));
});

test('the raised LITERAL+ limit stays under the byte bound the pool holds in flight, and a later look never lowers it', () => {
  const capped = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 1_000_000, maxBytesInFlight: 4 * 1024 * 1024 }));
  assert.equal(capped.settings.literalPlusMaxBytes, 4 * 1024 * 1024);
  const raised = { ...DEFAULTS, literalPlusMaxBytes: 2 * 1024 * 1024 };
  const later = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 5_000, current: raised }));
  assert.equal(later.settings.literalPlusMaxBytes, 2 * 1024 * 1024);
  assert.ok(!later.changes.some((x) => x.setting === 'literalPlusMaxBytes'), JSON.stringify(later.changes));
});

test('the LITERAL+ limit is left alone under a forced literal mode, on a server without LITERAL+, on loopback, and when nothing waited for a "+"', () => {
  for (const literalMode of ['sync', 'plus', 'minus'] as const) {
    const d = adapt(input({ records: syncLiteralPath(40), rttMs: 40, bytesPerMs: 15_000, current: { ...DEFAULTS, literalMode } }));
    assert.equal(d.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES, literalMode);
  }
  const noPlus = adapt(input({ records: syncLiteralPath(40), rttMs: 40, bytesPerMs: 15_000, capabilities: { literalPlus: false, literalMinus: true, multiappend: true } }));
  assert.equal(noPlus.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES);
  const lan = adapt(input({ records: syncLiteralPath(0.05), rttMs: 0.05, bytesPerMs: 15_000 }));
  assert.equal(lan.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES);
  const rand = rng(5);
  const noSync = Array.from({ length: 12 }, (_, i) => append(i, { recvMs: 62 + rand(), messages: 50 }));
  const quiet = adapt(input({ records: noSync, rttMs: 40, bytesPerMs: 15_000 }));
  assert.equal(quiet.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES, JSON.stringify(quiet.changes));
});

test('the same commands on loopback (RTT 0.05 ms) keep the connections: a round trip there costs nothing', () => {
  const d = adapt(input({ records: syncLiteralPath(0.05), rttMs: 0.05, meanMessageBytes: 22_000, bytesPerMs: 15_000 }));
  assert.equal(d.settings.connections, DEFAULTS.connections);
  assert.deepEqual(d.changes, []);
});

test('more connections for a long path never go past the server cap, nor on a folder kept to one connection', () => {
  const capped = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, connectionCap: 3 }));
  assert.equal(capped.settings.connections, 3);
  const single = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, current: { ...DEFAULTS, connectionsPerFolder: 1 } }));
  assert.equal(single.settings.connections, DEFAULTS.connections);
});

test('the capability rule: neither LITERAL+ nor LITERAL- gives depth 1 before any APPEND; LITERAL+, LITERAL- or depth 1 already give nothing', async () => {
  const { startChange } = await import('../../src/migrate/adapt-start.js');
  const c = startChange(COURIER_CAPS, DEFAULTS);
  assert.deepEqual([c?.setting, c?.from, c?.to], ['pipelineDepth', 2, 1]);
  assert.equal(startChange(DOVECOT_CAPS, DEFAULTS), undefined);
  assert.equal(startChange({ ...COURIER_CAPS, literalMinus: true }, DEFAULTS), undefined);
  assert.equal(startChange(COURIER_CAPS, { ...DEFAULTS, pipelineDepth: 1 }), undefined);
});

test("the folder capability rule: Courier's signature (no LITERAL+/LITERAL-, no MULTIAPPEND) gives one connection per folder before any APPEND; any of them offered, one connection, or the limit already set give nothing", async () => {
  const { startFolderChange } = await import('../../src/migrate/adapt-start.js');
  const c = startFolderChange(COURIER_CAPS, DEFAULTS);
  assert.deepEqual([c?.setting, c?.from, c?.to], ['connectionsPerFolder', undefined, 1]);
  assert.match(c!.reason, /folder lock/);
  assert.equal(startFolderChange(DOVECOT_CAPS, DEFAULTS), undefined);
  assert.equal(startFolderChange({ ...COURIER_CAPS, literalPlus: true }, DEFAULTS), undefined);
  assert.equal(startFolderChange({ ...COURIER_CAPS, literalMinus: true }, DEFAULTS), undefined);
  assert.equal(startFolderChange({ ...COURIER_CAPS, multiappend: true }, DEFAULTS), undefined);
  assert.equal(startFolderChange(COURIER_CAPS, { ...DEFAULTS, connections: 1 }), undefined);
  assert.equal(startFolderChange(COURIER_CAPS, { ...DEFAULTS, connectionsPerFolder: 1 }), undefined);
});

test("the connections start rule: with one connection a folder (Courier's signature), no more connections than the source has folders; nothing where the rule does not apply or the folder count is unknown", async () => {
  const { startConnectionsChange } = await import('../../src/migrate/adapt-start.js');
  const three = { ...DEFAULTS, connections: 3 };
  const c = startConnectionsChange(COURIER_CAPS, three, 1);
  assert.deepEqual([c?.setting, c?.from, c?.to], ['connections', 3, 1]);
  assert.match(c!.reason, /1 source folder: 1 connection can be used/);
  assert.equal(startConnectionsChange(COURIER_CAPS, three, 2)?.to, 2);
  assert.equal(startConnectionsChange(COURIER_CAPS, three, 0)?.to, 1, 'never fewer than one');
  assert.equal(startConnectionsChange(COURIER_CAPS, three, 3), undefined, 'as many folders as connections');
  assert.equal(startConnectionsChange(COURIER_CAPS, three, 50), undefined);
  assert.equal(startConnectionsChange(COURIER_CAPS, three, undefined), undefined, 'several sources: the count is not known');
  assert.equal(startConnectionsChange(DOVECOT_CAPS, three, 1), undefined, 'LITERAL+ and MULTIAPPEND: folders may share connections');
  assert.equal(startConnectionsChange({ ...COURIER_CAPS, multiappend: true }, three, 1), undefined);
});

test('the path start rule: a 40 ms login gives LITERAL+ up to what 100 Mbit/s uploads in one round trip, within the byte bound; never without LITERAL+, under a forced mode, or below the limit in force', async () => {
  const { pathStartChange } = await import('../../src/migrate/adapt-start.js');
  // 40 ms × 12 500 bytes/ms = 500 000 bytes: 488 KiB, whole KiB.
  const c = pathStartChange(DOVECOT_CAPS, DEFAULTS, 40, 12_500, 16 * 1024 * 1024);
  assert.deepEqual([c?.setting, c?.from, c?.to], ['literalPlusMaxBytes', DEFAULT_PLUS_MAX_BYTES, 488 * 1024]);
  assert.match(c!.reason, /round trip 40\.0 ms at login/);
  assert.match(c!.reason, /100 Mbit\/s/);
  // A long path: bounded by what the pool holds in flight.
  assert.equal(pathStartChange(DOVECOT_CAPS, DEFAULTS, 2000, 12_500, 4 * 1024 * 1024)?.to, 4 * 1024 * 1024);
  assert.equal(pathStartChange(COURIER_CAPS, DEFAULTS, 40, 12_500, 16 * 1024 * 1024), undefined);
  assert.equal(pathStartChange({ ...COURIER_CAPS, literalMinus: true }, DEFAULTS, 40, 12_500, 16 * 1024 * 1024), undefined);
  for (const literalMode of ['sync', 'plus', 'minus'] as const) {
    assert.equal(pathStartChange(DOVECOT_CAPS, { ...DEFAULTS, literalMode }, 40, 12_500, 16 * 1024 * 1024), undefined, literalMode);
  }
  // A short round trip gives less than the floor: nothing to change.
  assert.equal(pathStartChange(DOVECOT_CAPS, DEFAULTS, 5, 12_500, 16 * 1024 * 1024), undefined);
  assert.equal(pathStartChange(DOVECOT_CAPS, { ...DEFAULTS, literalPlusMaxBytes: 1024 * 1024 }, 40, 12_500, 16 * 1024 * 1024), undefined);
  assert.equal(pathStartChange(DOVECOT_CAPS, DEFAULTS, 40, 0, 16 * 1024 * 1024), undefined, 'no assumption (0): no change');
});

test('the first look replaces a LITERAL+ limit assumed at the start with the measured one: down on a slow path (never below 100 KiB), up on a fast one, back to 100 KiB on a LAN; a measured limit is never lowered', () => {
  const assumed = { ...DEFAULTS, literalPlusMaxBytes: 488 * 1024 };
  // 40 ms × 5000 bytes/ms = 200 000 bytes: 195 KiB.
  const slow = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 5_000, current: assumed, literalPlusAssumed: true }));
  const down = slow.changes.find((x) => x.setting === 'literalPlusMaxBytes');
  assert.deepEqual([down?.from, down?.to], [488 * 1024, 195 * 1024], JSON.stringify(slow.changes));
  assert.match(down!.reason, /assumed at the start .* against what was measured/);
  // The connections were judged from literals that waited under the assumed limit: left to the next look.
  assert.equal(slow.settings.connections, DEFAULTS.connections, JSON.stringify(slow.changes));
  const crawl = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 500, current: assumed, literalPlusAssumed: true }));
  assert.equal(crawl.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES, 'never below the floor');
  const fast = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 30_000, current: assumed, literalPlusAssumed: true }));
  assert.equal(fast.settings.literalPlusMaxBytes, 1171 * 1024);
  // A login slowed by password hashing on a LAN: the look's round trip is the LAN's.
  const lan = adapt(input({ records: healthyRun(), rttMs: 0.3, bytesPerMs: 50_000, current: assumed, literalPlusAssumed: true }));
  assert.equal(lan.settings.literalPlusMaxBytes, DEFAULT_PLUS_MAX_BYTES, JSON.stringify(lan.changes));
  // The same measurement when the limit was measured, not assumed: the earlier rule, which only raises.
  const measured = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 5_000, current: assumed }));
  assert.equal(measured.settings.literalPlusMaxBytes, 488 * 1024);
  // Exactly the assumed value: no change, and a note says it was checked.
  const same = adapt(input({ records: syncLiteralPath(40), rttMs: 40, meanMessageBytes: 22_000, bytesPerMs: 12_500, current: assumed, literalPlusAssumed: true }));
  assert.ok(!same.changes.some((x) => x.setting === 'literalPlusMaxBytes'), JSON.stringify(same.changes));
  assert.ok(same.notes.some((n) => /assumed at the start is what the measured path uploads/.test(n)), same.notes.join('\n'));
  // A forced literal mode, or no LITERAL+: nothing assumed is touched.
  const forced = adapt(input({ records: syncLiteralPath(40), rttMs: 40, bytesPerMs: 500, current: { ...assumed, literalMode: 'sync' }, literalPlusAssumed: true }));
  assert.equal(forced.settings.literalPlusMaxBytes, 488 * 1024);
});
