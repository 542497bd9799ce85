import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';
import { tempDir, writeCorpus, FAST_TIMEOUTS } from './harness.js';
import { Journal } from '../../src/journal/journal.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { transportIndexer } from '../../src/migrate/bulk-index.js';
import { ControlAdapter } from '../../src/migrate/control-adapter.js';
import { Importer } from '../../src/migrate/importer.js';
import { openSource } from '../../src/sources/index.js';

const skip = dovecotSkipReason();
if (skip) console.log(`# skipping the Dovecot restart test: ${skip}`);

test('a real Dovecot restarted mid-import: the run reconnects, re-checks what was in flight, finishes, and each message is there once', { skip }, async (t) => {
  const d = await startDovecot();
  t.after(() => d.stop());
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const ids = writeCorpus(src, 2000, 'dovecot-restart', ['Work'], 3000);
  const cp = { host: d.host, port: d.port, secure: false, starttls: 'off' as const, user: d.user, password: d.password, connectTimeoutMs: 3000 };
  const connect = () => ControlPlane.connect(cp);
  const plane = await connect();
  const indexer = transportIndexer({ host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password } });
  const control = new ControlAdapter(plane, connect, indexer);
  const journal = await Journal.open(join(dir, 'j.jsonl'), { account: `imap://${d.user}@${d.host}:${d.port}` }, { batchMs: 5 });
  let restarted: Promise<void> | undefined;
  let restarts = 0;
  let disconnects = 0;
  const importer = new Importer(control, journal, {
    pool: {
      host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password },
      // One message per command keeps the run long enough (~400 msg/s per connection) for the restart to land in it.
      connections: 2, pipelineDepth: 2, timeouts: FAST_TIMEOUTS, backoffMinMs: 50, backoffMaxMs: 500,
    },
    batch: 1,
    onEvent: (e) => {
      if (e.type === 'pool' && (e.event as { type: string }).type === 'disconnected') disconnects++;
    },
    onProgress: (p) => {
      // Restart once, early: commands are in flight on both connections and most of the corpus is still to come.
      if (!restarted && p.appended >= 100) {
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
    await indexer.close();
  }
  await restarted;
  assert.equal(restarts, 1, 'the restart happened during the run');
  assert.ok(disconnects >= 1, 'the restart cut the import\'s connections');
  t.diagnostic(`first run: ${result.appended} appended, ${result.failed} failed, ${result.unknownResolved} uncertain found on the server, ${result.connections.opened} connections opened; failures: ${JSON.stringify([...new Set(result.failures.map((f) => f.code + ' ' + f.reason.slice(0, 90)))].slice(0, 4))}`);
  // The run itself rides out the restart: reconnects (pool and control plane), re-checks what was in flight.
  assert.equal(result.failed, 0, JSON.stringify(result.failures.slice(0, 3)));
  const check = await connect();
  try {
    const seen = new Map<string, number>();
    for (const box of ['INBOX', 'Work']) for (const m of await check.listMessages(box)) seen.set(m.messageId!, (seen.get(m.messageId!) ?? 0) + 1);
    const lost = ids.filter((id) => !seen.has(id));
    const doubled = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual({ lost: lost.length, doubled: doubled.length, total: [...seen.values()].reduce((a, b) => a + b, 0) }, { lost: 0, doubled: 0, total: 2000 });
  } finally {
    await check.close();
  }
});
