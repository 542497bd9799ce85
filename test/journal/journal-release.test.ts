import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type SentEntry } from '../../src/journal/journal.js';

// Journal.release (issue 14): a folder's confirmations leave memory and come back from the file when asked for.
// Whatever is released, every answer must be what a journal that never released would give.

const header = { account: 'imap://u@192.0.2.7:993' };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mm-journal-release-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sent = (id: string, mailbox: string, extra: Partial<SentEntry> = {}): SentEntry => ({ id, mailbox, size: 100, rawSize: 98, ...extra });

/** Two folders, each with confirmed, sent and failed messages, written in group lines. */
async function filled(path: string): Promise<Journal> {
  const j = await Journal.open(path, header, { fsync: false });
  for (const box of ['INBOX', 'Archiv/2024']) {
    await j.recordSent(Array.from({ length: 50 }, (_, i) => sent(`m${i}`, box, { rawSize: i })));
    j.recordConfirmed(Array.from({ length: 40 }, (_, i) => ({ id: `m${i}`, mailbox: box, uid: i + 1, uidValidity: 7, flags: i % 2 ? ['\\Seen'] : [] })));
    j.recordFailed({ id: 'm45', mailbox: box, code: 'E_SERVER_NO', reason: 'too large' });
  }
  await j.flush();
  return j;
}

function answers(j: Journal, box: string): unknown[] {
  return Array.from({ length: 52 }, (_, i) => j.lookup(box, `m${i}`));
}

test('a released folder answers every look-up exactly as before, from the file, and only that folder is reloaded', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await filled(path);
  const before = { inbox: answers(j, 'INBOX'), archiv: answers(j, 'Archiv/2024'), counts: j.counts, folder: j.folderCounts('INBOX') };
  assert.deepEqual(before.counts, { confirmed: 80, sent: 18, failed: 2 });
  j.release('INBOX');
  j.release('Archiv/2024');
  assert.deepEqual(j.heldFolders, []);
  assert.deepEqual(j.counts, before.counts, 'counts are kept while released');
  assert.deepEqual(j.folderCounts('INBOX'), before.folder);
  assert.deepEqual(answers(j, 'INBOX'), before.inbox);
  assert.deepEqual(j.heldFolders, ['INBOX'], 'a look-up reloads its own folder, not the others');
  assert.deepEqual(answers(j, 'Archiv/2024'), before.archiv);
  assert.deepEqual(j.counts, before.counts);
  await j.close();
});

test('confirming a message sent into a released folder keeps it released; re-sending a confirmed one reloads it and counts stay exact', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await filled(path);
  j.release('INBOX');
  j.recordConfirmed([{ id: 'm40', mailbox: 'INBOX', uid: 41 }]);
  assert.deepEqual(j.heldFolders, ['Archiv/2024'], 'the sent record said what the confirmation replaces: no reload');
  assert.deepEqual(j.folderCounts('INBOX'), { confirmed: 41, sent: 8, failed: 1 });
  // A message the server lost, sent again: its confirmation must go, which needs the table.
  await j.recordSent([sent('m3', 'INBOX')]);
  assert.deepEqual(j.folderCounts('INBOX'), { confirmed: 40, sent: 9, failed: 1 });
  assert.equal(j.lookup('INBOX', 'm3')?.state, 'sent');
  assert.deepEqual(j.lookup('INBOX', 'm40'), { state: 'confirmed', uid: 41, rawSize: 40, flags: [] });
  await j.close();
  const r = await Journal.open(path, header);
  assert.deepEqual(r.folderCounts('INBOX'), { confirmed: 40, sent: 9, failed: 1 }, 'the reopened journal agrees');
  assert.equal(r.lookup('INBOX', 'm3')?.state, 'sent');
  await r.close();
});

test('a reload sees records still buffered or being written, not only what reached the file', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  // Batches wait an hour: nothing recorded below reaches the file until close().
  const j = await Journal.open(path, header, { fsync: false, batchMs: 3_600_000, batchEntries: 1_000_000 });
  await j.recordSent([sent('a', 'INBOX'), sent('b', 'INBOX')]);
  j.recordConfirmed([{ id: 'a', mailbox: 'INBOX', uid: 1, flags: ['\\Flagged'] }, { id: 'b', mailbox: 'INBOX', uid: 2 }]);
  j.recordFlags([{ id: 'b', mailbox: 'INBOX', flags: ['\\Seen'] }]);
  j.release('INBOX');
  assert.deepEqual(j.lookup('INBOX', 'a'), { state: 'confirmed', uid: 1, rawSize: 98, flags: ['\\Flagged'] });
  assert.deepEqual(j.lookup('INBOX', 'b'), { state: 'confirmed', uid: 2, rawSize: 98, flags: ['\\Seen'] });
  assert.deepEqual(j.counts, { confirmed: 2, sent: 0, failed: 0 });
  // A confirmation of an id the journal has no 'sent' for (found on the server by reconciliation) in a released folder.
  j.release('INBOX');
  j.recordConfirmed([{ id: 'a', mailbox: 'INBOX', uid: 1, flags: ['\\Flagged'] }, { id: 'c', mailbox: 'INBOX', uid: 3 }]);
  assert.deepEqual(j.counts, { confirmed: 3, sent: 0, failed: 0 }, 'a, already confirmed, is not counted twice');
  await j.close();
});

test('a torn last line and old single-record lines are read the same way by a reload as by open', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await filled(path);
  // Single records (format 2 style, as a format 3 journal writes a group of one) for both folders.
  await j.recordSent([sent('solo', 'INBOX')]);
  j.recordConfirmed([{ id: 'solo', mailbox: 'INBOX', uid: 99 }]);
  await j.recordSent([sent('solo', 'Archiv/2024')]);
  await j.close();
  const { appendFileSync } = await import('node:fs');
  appendFileSync(path, '{"C":"INBOX","p":"m","e":[["0",1'); // a write that never finished
  const r = await Journal.open(path, header);
  assert.ok(r.repaired, 'the torn line was dropped at open');
  const inbox = answers(r, 'INBOX');
  r.release('INBOX');
  assert.deepEqual(answers(r, 'INBOX'), inbox);
  assert.deepEqual(r.lookup('INBOX', 'solo'), { state: 'confirmed', uid: 99, rawSize: 98, flags: [] });
  assert.equal(r.lookup('Archiv/2024', 'solo')?.state, 'sent');
  await r.close();
});

test('open builds no table: each folder is loaded on its first look-up, and counts stay exact (confirmed twice counts once; re-sent after its confirmation counts as sent)', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await filled(path);
  j.recordConfirmed([{ id: 'm0', mailbox: 'INBOX', uid: 1 }, { id: 'm1', mailbox: 'INBOX', uid: 2, flags: ['\\Seen'] }]); // again
  await j.recordSent([sent('m2', 'INBOX')]); // the server lost it: sent again
  const expected = { inbox: answers(j, 'INBOX'), archiv: answers(j, 'Archiv/2024'), counts: j.counts };
  assert.deepEqual(expected.counts, { confirmed: 79, sent: 19, failed: 2 });
  await j.close();
  const r = await Journal.open(path, header);
  assert.deepEqual(r.heldFolders, [], 'no folder loaded by open()');
  assert.deepEqual(r.unconfirmed('INBOX').map((e) => e.id).sort(), ['m2', ...Array.from({ length: 10 }, (_, i) => `m${40 + i}`).filter((id) => id !== 'm45')].sort());
  assert.deepEqual(answers(r, 'INBOX'), expected.inbox);
  assert.deepEqual(r.heldFolders, ['INBOX']);
  assert.deepEqual(r.counts, expected.counts, 'counting loads Archiv/2024 for a moment and lets it go');
  assert.deepEqual(r.heldFolders, ['INBOX']);
  assert.deepEqual(r.folderCounts('Archiv/2024'), { confirmed: 40, sent: 9, failed: 1 });
  assert.deepEqual(answers(r, 'Archiv/2024'), expected.archiv);
  await r.close();
});

test('a folder looked up again after its release stays held: a source going back and forth costs one reload, not one per message', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await filled(path);
  j.release('INBOX');
  assert.equal(j.lookup('INBOX', 'm1')?.state, 'confirmed');
  j.release('INBOX');
  assert.ok(j.heldFolders.includes('INBOX'), 'the second release is not taken');
  assert.equal(j.lookup('INBOX', 'm2')?.state, 'confirmed');
  j.release('Archiv/2024');
  assert.ok(!j.heldFolders.includes('Archiv/2024'), 'a folder never looked up again is released as usual');
  await j.close();
});
