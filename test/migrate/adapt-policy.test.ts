// The adaptation policy (issue 16), one test per rule and one for "no change when healthy", from synthetic timing
// records shaped after the measured runs (Courier at depth 2, Courier's folder lock, Dovecot over a 40 ms path).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom as rng } from '../../src/core/prng.js';
import { DEFAULT_BOUNDS, DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { adapt, type AdaptInput, type AdaptSettings, type FolderWaitSample } from '../../src/migrate/adapt-policy.js';
import { newRecord, type TimingRecord } from '../../src/transport/timing.js';

const DEFAULTS: AdaptSettings = {
  pipelineDepth: DEFAULT_SETTINGS.pipelineDepth,
  connections: DEFAULT_SETTINGS.connections,
  connectionsPerFolder: undefined,
  batch: DEFAULT_SETTINGS.batch,
  literalMode: DEFAULT_SETTINGS.literalMode,
};
const DOVECOT_CAPS = { literalPlus: true, literalMinus: false, multiappend: true };
const COURIER_CAPS = { literalPlus: false, literalMinus: false, multiappend: false };

function append(i: number, o: { contMs?: number; recvMs: number; depth?: number; messages?: number }): TimingRecord {
  const t0 = i * 1000;
  const r = newRecord(1 + (i % 2), `A${i}`, 'APPEND', o.messages ?? 1, 4096, o.contMs === undefined ? 'nonsync' : 'sync', t0);
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

function capability(ms: number): TimingRecord {
  const r = newRecord(1, 'C1', 'CAPABILITY', 0, 0, 'none', 0);
  r.writeStart = 0.01;
  r.headFlushed = r.bodyFlushed = 0.02;
  r.tagged = 0.02 + ms;
  return r;
}

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
  const d = adapt(input({ records: healthyRun(), current: { ...DEFAULTS, connections: 6, pipelineDepth: 12, batch: 500 }, connectionCap: 4 }));
  assert.equal(d.settings.connections, 4);
  assert.equal(d.settings.pipelineDepth, DEFAULT_BOUNDS.maxPipelineDepth);
  assert.equal(d.settings.batch, DEFAULT_BOUNDS.maxBatch);
});
