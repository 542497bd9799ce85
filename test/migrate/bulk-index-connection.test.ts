import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../../src/server/server.js';
import { transportIndexer } from '../../src/migrate/bulk-index.js';
import { Connection } from '../../src/transport/connection.js';

// The bulk index keeps one connection for every folder it reads (bulk-index.ts), and verify reads stored bodies on
// it. Real TCP against the embedded server: a body far above the APPEND connection's 64 KiB reader bound arrives
// whole (the first version failed verify with "literal of 99421 bytes exceeds the 65536-byte limit"), folders read
// one after another share one login, and the same folder read twice is read on a fresh connection.

const message = (id: string, bodyBytes: number): Buffer =>
  Buffer.from(`Message-ID: <${id}@test.invalid>\r\nSubject: ${id}\r\n\r\n${'x'.repeat(bodyBytes - 2)}\r\n`);

test('one kept connection indexes folder after folder and hands over bodies of any size, byte for byte', async (t) => {
  const server = await startServer({ store: 'memory', users: { u: 'p' }, noDelay: true });
  t.after(() => server.close());
  const options = { host: server.host, port: server.port, tls: 'none' as const, auth: { user: 'u', password: 'p' } };
  const big = message('big', 300_000);
  const conn = await Connection.open({ ...options, pipelineDepth: 1 });
  for (const box of ['A', 'B']) {
    await conn.create(box);
    await conn.append(box, [
      { mailbox: box, flags: ['\\Seen'], data: box === 'A' ? big : message('b1', 100) },
      { mailbox: box, flags: [], data: message(`${box}2`, 2000) },
    ]);
  }
  await conn.close();
  const loginsBefore = server.stats.logins;

  const indexer = transportIndexer(options);
  t.after(() => indexer.close());
  const seen: Record<string, string[]> = { A: [], B: [] };
  for (const box of ['A', 'B'] as const) {
    const r = await indexer(box, (e) => seen[box]!.push(`${e.uid}:${e.messageId}:${e.size}`));
    assert.equal(r.exists, 2);
  }
  assert.deepEqual(seen.A, [`1:<big@test.invalid>:${big.length}`, `2:<A2@test.invalid>:${message('A2', 2000).length}`]);
  assert.equal(server.stats.logins - loginsBefore, 1, 'two folders, one login');

  const bodies = new Map<number, Buffer>();
  await indexer.fetchBodies('A', [1, 2], (uid, data) => bodies.set(uid, data));
  assert.equal(bodies.get(1)!.equals(big), true, 'the 300 kB body whole');
  assert.equal(bodies.get(2)!.equals(message('A2', 2000)), true);

  // A folder read again (a retry) gets a fresh view: a connection of its own.
  await indexer('A', () => undefined);
  assert.equal(server.stats.logins - loginsBefore, 2);
});
