// Issue 7, faults 3, 5 and 9 at the importer level: the runs that must stop, or go on, clearly — a full quota, a
// server dropping after errors in a row, and a journal that can no longer be written (disk full, unwritable).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { JournalError } from '../../src/core/errors.js';
import { decodeLine } from '../../src/journal/journal-record.js';
import { fileIo, Journal, type JournalIo } from '../../src/journal/journal.js';
import { census, importOnce, tally, tempDir, withServer, writeCorpus } from './harness.js';

const N = 100;

function setup(t: Parameters<typeof tempDir>[0], tag: string) {
  const dir = tempDir(t);
  const src = join(dir, 'mail');
  const ids = writeCorpus(src, N, tag, ['Work']);
  return { src, ids, journal: join(dir, 'journal.jsonl') };
}

test('NO [OVERQUOTA] stops the run clearly, leaves the rest unsent, and a re-run after freeing space finishes exactly once', async (t) => {
  const s = await withServer(t);
  const { src, ids, journal } = setup(t, 'quota');
  let set = false;
  const r = await importOnce(s, src, journal, {
    batch: 5,
    pool: { connections: 1, pipelineDepth: 1 },
    onProgress: (n) => {
      if (n >= 20 && !set) {
        set = true;
        s.faults.set({ fail: { code: 'OVERQUOTA', text: 'Quota exceeded (mailbox for user is full)' } });
      }
    },
  });
  // Refused messages carry E_OVERQUOTA too (src/imap/response-policy.ts); the run's own stop is the '(run)' entry.
  const stop = r.failures.find((f) => f.source === '(run)' && f.code === 'E_OVERQUOTA');
  assert.ok(stop, JSON.stringify(r.failures.slice(0, 3)));
  assert.match(stop.reason, /run stopped: the server's quota is full .*re-run/);
  assert.ok(r.failures.some((f) => /OVERQUOTA.*Quota exceeded/.test(f.reason) && f.source.includes('cur')), 'the refused messages are named');
  assert.ok(r.appended + r.failed < 40, `the run went on sending after the quota was full (${r.appended} + ${r.failed})`);
  s.faults.clear();
  const again = await importOnce(s, src, journal);
  assert.equal(again.failed, 0, JSON.stringify(again.failures));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('a server that drops after 5 errors in a row: the 5 refused messages are reported, every other arrives once', async (t) => {
  const s = await withServer(t, { faults: { fail: { code: 'CANNOT', text: 'Refused by policy', times: 5 }, disconnectAfterErrors: 5 } });
  const { src, ids, journal } = setup(t, 'zimbra');
  const r = await importOnce(s, src, journal, { pool: { connections: 2, pipelineDepth: 2 } });
  assert.equal(r.failed, 5, JSON.stringify(r.failures));
  assert.ok(r.failures.every((f) => /NO \[CANNOT\] Refused by policy/.test(f.reason)));
  const t2 = tally(s.store, ids);
  assert.deepEqual(t2, { source: N, onServer: N - 5, duplicates: 0, lost: 5 });
});

/** Real file operations until `okWrites` writes have succeeded, then ENOSPC as from a full disk. */
function fullDiskAfter(okWrites: number): JournalIo {
  let n = 0;
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  return {
    ...fileIo,
    async write(fd, data) {
      if (++n > okWrites) throw enospc();
      return fileIo.write(fd, data);
    },
    writeSync(fd, data) {
      if (++n > okWrites) throw enospc();
      fileIo.writeSync(fd, data);
    },
  };
}

const strip = (id: string): string => id.replace(/^<|>$/g, '');

test('disk full under the journal: the run stops with a clear error and nothing reached the server without a durable intent', async (t) => {
  const s = await withServer(t);
  const { src, ids, journal } = setup(t, 'enospc');
  await assert.rejects(
    importOnce(s, src, journal, { journalOptions: { batchMs: 1, io: fullDiskAfter(3) }, pool: { connections: 2 } }),
    (e: unknown) => e instanceof JournalError && /ENOSPC|no space/i.test((e as Error).message),
  );
  const sent = new Set<string>();
  for (const line of readFileSync(journal, 'utf8').split('\n').slice(1)) {
    if (!line) continue;
    // Format 3 (journal-record.ts): single records and group lines alike.
    for (const r of decodeLine(line) ?? []) if (r.kind === 'sent' && r.entry.messageId) sent.add(strip(r.entry.messageId));
  }
  const onServer = [...census(s.store).keys()].map(strip);
  assert.ok(onServer.length < N, 'the run did not stop');
  for (const id of onServer) assert.ok(sent.has(id), `${id} is on the server without a 'sent' record`);
  // The journal is still consistent: a re-run with a working disk ends with each message exactly once.
  const again = await importOnce(s, src, journal);
  assert.equal(again.failed, 0, JSON.stringify(again.failures));
  assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
});

test('an unwritable journal location fails before anything is sent, naming the path', async (t) => {
  const s = await withServer(t);
  const { src } = setup(t, 'nojournal');
  await assert.rejects(importOnce(s, src, '/dev/null/journal.jsonl'), (e: unknown) => {
    assert.ok(e instanceof JournalError, String(e));
    assert.match((e as Error).message, /\/dev\/null/);
    return true;
  });
  assert.equal(s.stats.appendCommands, 0);
  await assert.rejects(Journal.open('/proc/version/j.jsonl', { account: 't' }), JournalError);
});
