import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';
import { tempDir, writeCorpus, FAST_TIMEOUTS } from './harness.js';
import { Journal } from '../../src/journal/journal.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { ControlAdapter } from '../../src/migrate/control-adapter.js';
import { Importer } from '../../src/migrate/importer.js';
import { openSource } from '../../src/sources/index.js';

const skip = dovecotSkipReason();
if (skip) console.log(`# skipping the Dovecot restart test: ${skip}`);

test('a real Dovecot restarted mid-import: the run reconnects, re-checks what was in flight, and each message is there once', { skip }, async (t) => {
  const d = await startDovecot();
  t.after(() => d.stop());
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const ids = writeCorpus(src, 1500, 'dovecot-restart', ['Work'], 3000);
  const cp = { host: d.host, port: d.port, secure: false, starttls: 'off' as const, user: d.user, password: d.password, connectTimeoutMs: 3000 };
  const connect = () => ControlPlane.connect(cp);
  const plane = await connect();
  const control = new ControlAdapter(plane, connect);
  const journal = await Journal.open(join(dir, 'j.jsonl'), { source: src, target: `imap://${d.user}@${d.host}:${d.port}/` }, { batchMs: 5 });
  let restarted: Promise<void> | undefined;
  let restarts = 0;
  const importer = new Importer(control, journal, {
    pool: {
      host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password },
      connections: 2, pipelineDepth: 2, timeouts: FAST_TIMEOUTS, backoffMinMs: 50, backoffMaxMs: 500,
    },
    batch: 10,
    onProgress: (p) => {
      // Restart once, a third of the way in: commands are in flight on both connections.
      if (!restarted && p.appended >= 500) {
        restarts++;
        restarted = d.restart();
      }
    },
  });
  let result;
  try {
    result = await importer.run([await openSource(src)]);
  } finally {
    await journal.close().catch(() => undefined);
    await control.close();
  }
  await restarted;
  assert.equal(restarts, 1, 'the restart happened during the run');
  t.diagnostic(`first run: ${result.appended} appended, ${result.failed} failed, ${result.unknownResolved} uncertain found on the server, ${result.connections.opened} connections opened`);
  // Anything the run could not settle is settled by a re-run, as a user would do.
  if (result.failed > 0) {
    const plane2 = await connect();
    const control2 = new ControlAdapter(plane2, connect);
    const journal2 = await Journal.open(join(dir, 'j.jsonl'), { source: src, target: `imap://${d.user}@${d.host}:${d.port}/` });
    try {
      const r2 = await new Importer(control2, journal2, {
        pool: { host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password }, connections: 2, pipelineDepth: 2, timeouts: FAST_TIMEOUTS },
        batch: 10,
      }).run([await openSource(src)]);
      assert.equal(r2.failed, 0, JSON.stringify(r2.failures.slice(0, 3)));
    } finally {
      await journal2.close().catch(() => undefined);
      await control2.close();
    }
  }
  const check = await connect();
  try {
    const seen = new Map<string, number>();
    for (const box of ['INBOX', 'Work']) for (const m of await check.listMessages(box)) seen.set(m.messageId!, (seen.get(m.messageId!) ?? 0) + 1);
    const lost = ids.filter((id) => !seen.has(id));
    const doubled = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual({ lost: lost.length, doubled: doubled.length, total: [...seen.values()].reduce((a, b) => a + b, 0) }, { lost: 0, doubled: 0, total: 1500 });
  } finally {
    await check.close();
  }
});
