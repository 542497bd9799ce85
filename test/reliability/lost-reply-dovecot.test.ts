// A lost reply on a *real* Dovecot (issue 11): the connection is cut right after Dovecot stored a MULTIAPPEND batch
// and before its OK reached the client, many times over a 2000-message import. The embedded server always shows new
// messages to a look-up; Dovecot searches the view a session last synchronised, so a look-up that does not refresh
// its view answers "not there" and the batch is sent twice. Every message must arrive exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { normalizeMessageId } from '../../src/core/message-id.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { startCutProxy } from '../helpers/cut-proxy.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { writeCorpus } from './harness.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# lost-reply Dovecot test skipped: ${skip}`);

describe('lost replies on a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  before(async () => {
    d = await startDovecot();
    work = mkdtempSync(join(tmpdir(), 'mm-lost-'));
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('connections cut after Dovecot stored a batch and before the client read the OK: every message exactly once', async () => {
    const N = 2000;
    const src = join(work, 'src');
    // Adaptation off: the test needs its 200 APPENDs of 10 (a larger batch chosen under load left 8 cuts of 10).
    // One folder: the control connection keeps INBOX selected all run long (a look-up in another folder would
    // re-SELECT and so refresh the view by accident, hiding the bug).
    const ids = writeCorpus(src, N, 'lost', [], 900);
    const proxy = await startCutProxy({ host: '127.0.0.1', port: d.port }, { every: 7, max: 15 });
    try {
      const report = join(work, 'report.json');
      const r = await runCli(
        ['import', src, '--host', '127.0.0.1', '--port', String(proxy.port), '--user', d.user, '--plain',
          '--batch', '10', '--no-adapt', '--journal', join(work, 'j.jsonl'), '--report', report, '--quiet'],
        { MAILMIGRATE_PASSWORD: d.password },
        180_000,
      );
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = JSON.parse(readFileSync(report, 'utf8'));
      console.log(`# ${proxy.cuts} cuts; ${rep.unknownResolved} unanswered APPENDs found stored on a fresh view`);
      assert.ok(proxy.cuts >= 10, `the proxy cut ${proxy.cuts} times`);
      assert.ok(rep.unknownResolved >= proxy.cuts, 'each cut batch was found on the server, not sent again');
    } finally {
      await proxy.close();
    }
    const cp = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    try {
      const count = new Map<string, number>();
      let total = 0;
      for (const box of ['INBOX']) {
        for (const m of await cp.listMessages(box)) {
          total++;
          const id = normalizeMessageId(m.messageId)!;
          count.set(id, (count.get(id) ?? 0) + 1);
        }
      }
      const wrong = ids.filter((id) => count.get(normalizeMessageId(id)!) !== 1);
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} not exactly once`);
      assert.equal(total, N);
    } finally {
      await cp.close();
    }
  });
});
