import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { appendAll, testMessage } from '../helpers/append-run.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { timestampOrderViolation } from '../../src/transport/timing.js';
import type { TransportSettings } from '../../src/bench/profiles.js';

const skip = dovecotSkipReason();
if (skip) console.log(`# skipping Dovecot transport tests: ${skip}`);

// A representative subset of literal × write × noDelay × depth × MULTIAPPEND × connections (issue 2); the full
// matrix runs in `npm run bench:transport`.
const MATRIX: Array<[string, TransportSettings]> = [
  ['imaplib-like: sync literal, split writes, Nagle on, depth 1', { literalMode: 'sync', writeMode: 'split', noDelay: false, pipelineDepth: 1, batch: 1, connections: 1 }],
  ['LITERAL+, coalesced, TCP_NODELAY, depth 16', { literalMode: 'plus', writeMode: 'coalesce', noDelay: true, pipelineDepth: 16, batch: 1, connections: 1 }],
  ['auto literal, split writes, MULTIAPPEND 10, depth 1', { literalMode: 'auto', writeMode: 'split', noDelay: true, pipelineDepth: 1, batch: 10, connections: 1 }],
  ['auto literal, coalesced, MULTIAPPEND 50, depth 2, 4 connections', { literalMode: 'auto', writeMode: 'coalesce', noDelay: true, pipelineDepth: 2, batch: 50, connections: 4 }],
  ['sync literal, coalesced, Nagle on, depth 16, MULTIAPPEND 10, 4 connections', { literalMode: 'sync', writeMode: 'coalesce', noDelay: false, pipelineDepth: 16, batch: 10, connections: 4 }],
];

describe('APPEND transport against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let cp: ControlPlane;
  before(async () => {
    d = await startDovecot();
    cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  });
  after(async () => {
    await cp?.close().catch(() => {});
    await d?.stop();
  });

  MATRIX.forEach(([name, settings], n) => {
    test(`500 messages arrive exactly once with ${name}`, async () => {
      const box = `T${n}`;
      const messages = Array.from({ length: 500 }, (_, i) => testMessage(i, 600 + ((i * 7919) % 6000), `m${n}`));
      // Every 50th message is large enough that `auto` sends it synchronizing (above the 100 KiB cap).
      for (let i = 0; i < messages.length; i += 50) messages[i] = testMessage(i, 120_000, `m${n}`);
      const run = await appendAll({ host: d.host, port: d.port, user: d.user, password: d.password }, settings, box, messages);
      assert.equal(run.outcomes.filter((o) => o.status === 'appended').length, 500, JSON.stringify(run.outcomes.find((o) => o.status !== 'appended')));
      const onServer = await cp.listMessages(box);
      assert.equal(onServer.length, 500);
      const ids = new Set(onServer.map((m) => m.messageId));
      for (let i = 0; i < 500; i++) assert.ok(ids.has(`<m${n}-${i}@mailmigrate.test>`), `message ${i} missing`);
      for (const m of onServer) {
        const i = Number(/-(\d+)@/.exec(m.messageId ?? '')?.[1]);
        assert.equal(m.flags.includes('\\Seen'), i % 3 === 0, `flags of message ${i}`);
        assert.equal(m.internalDate.getTime(), Date.UTC(2020, 0, 1 + (i % 28), 12, 0, 0), `INTERNALDATE of message ${i}`);
      }
      const uids = run.outcomes.map((o) => (o.status === 'appended' ? o.uid : undefined));
      assert.ok(uids.every((u) => typeof u === 'number'), 'UIDPLUS gives one APPENDUID per message');
      assert.equal(new Set(uids).size, 500, 'APPENDUIDs are unique');
      assert.deepEqual(new Set(onServer.map((m) => m.uid)), new Set(uids), 'APPENDUIDs are the UIDs the server holds');
      const appends = run.records.filter((r) => r.verb === 'APPEND');
      const refused = appends.filter((r) => r.outcome?.status !== 'OK');
      // Only the first APPEND into the new mailbox may be refused (NO [TRYCREATE], then CREATE and retry).
      assert.ok(refused.every((r) => r.outcome?.code === 'TRYCREATE'), JSON.stringify(refused.map((r) => r.outcome)));
      assert.ok(refused.length <= 1, `${refused.length} APPENDs refused: ${JSON.stringify(refused.map((r) => [r.tag, r.connectionId, r.outcome]))}`);
      assert.equal(appends.filter((r) => r.outcome?.status === 'OK').reduce((a, r) => a + r.messages, 0), 500);
      for (const r of run.records) {
        assert.equal(timestampOrderViolation(r), undefined, `record ${r.tag}`);
        assert.ok(r.tagged !== undefined && r.bodyFlushed !== undefined && r.writeStart !== undefined);
      }
      if (settings.pipelineDepth > 1) assert.ok(appends.some((r) => r.depthAtSend > 0), 'some commands were pipelined');
      const ok = appends.filter((r) => r.outcome?.status === 'OK');
      if (settings.literalMode === 'sync') assert.ok(ok.every((r) => r.syncWaits.length === r.messages), 'one continuation per synchronizing literal');
      if (settings.literalMode === 'plus') assert.ok(ok.every((r) => r.syncWaits.length === 0), 'LITERAL+ never waits for a continuation');
      // Messages keep their order: UIDs rise with the source order on a single connection.
      if (settings.connections === 1) assert.deepEqual(uids, [...uids].sort((a, b) => a! - b!));
    });
  });
});
