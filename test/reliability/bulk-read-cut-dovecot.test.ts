// The bulk reader pipelines its reads (bulk-index.ts): several folders' EXAMINE and UID FETCH in flight on one
// connection. A connection lost there fails every read in flight at once — on a *real* Dovecot, a fresh-journal re-run
// (every folder reconciled) and a verify whose reader connection is cut in the middle of a FETCH answer, while other
// folders' commands wait behind it. Nothing may be sent twice, nothing reported missing: each read is retried on a
// fresh connection, or the run says it could not check.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { normalizeMessageId } from '../../src/core/message-id.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { listenProxy } from '../helpers/loopback-proxy.js';
import { writeCorpus } from './harness.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# bulk-read cut Dovecot test skipped: ${skip}`);

/**
 * Forwards byte for byte, and cuts a connection (both sides) when, with at least `examines` EXAMINEs sent on it,
 * the server starts answering a UID FETCH of message entries: the bulk reader, mid-read, with folders behind.
 */
async function startReadCutter(target: { host: string; port: number }, examines: number, max: number) {
  let cuts = 0;
  const proxy = await listenProxy(target, (client: net.Socket, upstream: net.Socket) => {
    let sent = 0;
    let cut = false;
    client.on('data', (d: Buffer) => {
      sent += (d.toString('latin1').match(/ EXAMINE /g) ?? []).length;
      if (!cut) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (cut) return;
      const text = d.toString('latin1');
      const at = text.search(/\* \d+ FETCH \(UID \d+ RFC822\.SIZE/);
      if (cuts < max && sent >= examines && at >= 0) {
        cut = true;
        cuts++;
        // Half of the first entry goes through: the reader is in the middle of an answer when the connection dies.
        client.write(d.subarray(0, at + 12), () => {
          client.destroy();
          upstream.destroy();
        });
        return;
      }
      client.write(d);
    });
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  return { port: proxy.port, get cuts() { return cuts; }, close: () => proxy.close() };
}

describe('the bulk reader\'s connection cut mid-read on a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  before(async () => {
    d = await startDovecot();
    work = mkdtempSync(join(tmpdir(), 'mm-readcut-'));
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a fresh-journal re-run and a verify whose pipelined reads lose their connection: nothing sent twice, nothing missing', async () => {
    const folders = Array.from({ length: 11 }, (_, i) => `F${String(i).padStart(2, '0')}`);
    const N = 12 * 40;
    const src = join(work, 'src');
    const ids = writeCorpus(src, N, 'readcut', folders, 900);
    const env = { MAILMIGRATE_PASSWORD: d.password };
    const direct = ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain', '--quiet'];
    const first = await runCli(['import', src, ...direct, '--journal', join(work, 'j1.jsonl')], env, 120_000);
    assert.equal(first.code, 0, first.stderr + first.stdout);

    const cutter = await startReadCutter({ host: '127.0.0.1', port: d.port }, 3, 2);
    try {
      const via = ['--host', '127.0.0.1', '--port', String(cutter.port), '--user', d.user, '--plain', '--quiet'];
      const report = join(work, 'report.json');
      const again = await runCli(['import', src, ...via, '--journal', join(work, 'fresh.jsonl'), '--report', report], env, 120_000);
      assert.equal(again.code, 0, again.stderr + again.stdout);
      const rep = JSON.parse(readFileSync(report, 'utf8'));
      console.log(`# re-run: ${cutter.cuts} cut(s) of the bulk reader mid-read; appended ${rep.appended}`);
      assert.ok(cutter.cuts >= 1, 'the proxy never cut a reader with folders in flight: the test proves nothing');
      assert.equal(rep.appended, 0, 'a message was sent again after its folder\'s read was cut');
      assert.equal(rep.failed, 0, JSON.stringify(rep.failures));

    } finally {
      await cutter.close();
    }
    // verify: index reads and body reads in flight together, cut twice.
    const verifyCutter = await startReadCutter({ host: '127.0.0.1', port: d.port }, 3, 2);
    try {
      const v = await runCli(['verify', src, '--host', '127.0.0.1', '--port', String(verifyCutter.port), '--user', d.user, '--plain'], env, 120_000);
      console.log(`# verify: ${verifyCutter.cuts} cut(s)`);
      assert.ok(verifyCutter.cuts >= 1, 'the proxy never cut verify\'s reader: the test proves nothing');
      assert.equal(v.code, 0, v.stderr + v.stdout);
    } finally {
      await verifyCutter.close();
    }
    const cp = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    try {
      const count = new Map<string, number>();
      for (const box of ['INBOX', ...folders]) {
        for (const m of await cp.listMessages(box)) {
          const id = normalizeMessageId(m.messageId)!;
          count.set(id, (count.get(id) ?? 0) + 1);
        }
      }
      const wrong = ids.filter((id) => count.get(normalizeMessageId(id)!) !== 1);
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} not exactly once`);
    } finally {
      await cp.close();
    }
  });
});
