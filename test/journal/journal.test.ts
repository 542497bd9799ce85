import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalError } from '../../src/core/errors.js';
import { Journal, fileIo, type JournalIo, type SentEntry } from '../../src/journal/journal.js';

const header = { account: 'imap://u@192.0.2.7:993' };

/** The state the journal holds for an id in INBOX (or another mailbox). */
const st = (j: Journal, id: string, box = 'INBOX'): string | undefined => j.lookup(box, id)?.state;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mm-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sent(id: string, extra: Partial<SentEntry> = {}): SentEntry {
  return { id, mailbox: 'INBOX', messageId: `<${id}@example.org>`, size: 1000, ...extra };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Wraps the real file operations, counting syncs; `gate` lets a test hold a sync open. */
function countingIo(): JournalIo & { syncs: number; gate: Promise<void> | undefined } {
  const io = {
    syncs: 0,
    gate: undefined as Promise<void> | undefined,
    write: fileIo.write,
    writeSync: fileIo.writeSync,
    syncSync: fileIo.syncSync,
    async sync(fd: number) {
      io.syncs++;
      if (io.gate) await io.gate;
      await fileIo.sync(fd);
    },
  };
  return io;
}

test('a reopened journal replays sent, confirmed and failed records into status, counts and lists', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('b', { fingerprint: 'f'.repeat(64) }), sent('c'), sent('d', { messageId: undefined })]);
  j.recordConfirmed([{ id: 'a', uid: 7, uidValidity: 1234, mailbox: 'INBOX' }, { id: 'c', mailbox: 'INBOX' }]);
  j.recordFailed({ id: 'd', mailbox: 'INBOX', code: 'E_SERVER_NO', reason: 'message too large' });
  await j.close();

  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired, undefined);
  assert.equal(st(r, 'a'), 'confirmed');
  assert.equal(st(r, 'b'), 'sent');
  assert.equal(st(r, 'c'), 'confirmed');
  assert.equal(st(r, 'd'), 'failed', 'a failed message is retried on the next run');
  assert.equal(st(r, 'never-seen'), undefined);
  assert.deepEqual(r.counts, { confirmed: 2, sent: 1, failed: 1 });
  assert.deepEqual(r.unconfirmed(), [
    { id: 'b', mailbox: 'INBOX', messageId: '<b@example.org>', size: 1000, fingerprint: 'f'.repeat(64) },
  ]);
  assert.deepEqual(r.failed(), [{ id: 'd', mailbox: 'INBOX', code: 'E_SERVER_NO', reason: 'message too large' }]);
});

test('the last record of a message wins: a message re-sent after the server lost it is sent again until confirmed', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('b'), sent('c', { rawSize: 990 })]);
  j.recordConfirmed([{ id: 'a', mailbox: 'INBOX' }, { id: 'c', mailbox: 'INBOX', uid: 3, flags: ['\\Seen'] }]);
  await j.recordSent([sent('a')]); // the target was wiped: re-sent
  j.recordFailed({ id: 'b', mailbox: 'INBOX', code: 'E_SERVER_NO', reason: 'refused' });
  await j.recordSent([sent('b')]); // a failed message sent again on a re-run
  j.recordFlags([{ id: 'c', mailbox: 'INBOX', flags: ['\\Seen', '\\Flagged'] }]);
  j.recordFlags([{ id: 'b', mailbox: 'INBOX', flags: ['\\Seen'] }]); // not confirmed: ignored
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(st(r, 'a'), 'sent');
  assert.equal(st(r, 'b'), 'sent');
  assert.deepEqual(r.lookup('INBOX', 'c'), { state: 'confirmed', uid: 3, rawSize: 990, flags: ['\\Seen', '\\Flagged'] });
  assert.deepEqual(r.counts, { confirmed: 1, sent: 2, failed: 0 });
  assert.deepEqual(r.folderCounts('INBOX'), { confirmed: 1, sent: 2, failed: 0 });
});

test('the same source id in two mailboxes is two messages, and checkpoints replay per folder', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('a', { mailbox: 'Archive' })]);
  j.recordConfirmed([{ id: 'a', mailbox: 'Archive', uid: 9 }]);
  j.recordCheckpoint({ mailbox: 'Archive', uidValidity: 5, uidNext: 10, messages: 9 });
  j.recordCheckpoint({ mailbox: 'Archive', uidValidity: 5, uidNext: 11, messages: 10 });
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(st(r, 'a'), 'sent');
  assert.equal(st(r, 'a', 'Archive'), 'confirmed');
  assert.deepEqual(r.checkpoint('Archive'), { mailbox: 'Archive', uidValidity: 5, uidNext: 11, messages: 10 });
  assert.equal(r.checkpoint('INBOX'), undefined);
  assert.deepEqual(r.unconfirmed('INBOX').map((e) => e.id), ['a']);
  assert.deepEqual(r.unconfirmed('Archive'), []);
});

test('a journal of format 1 (keyed by host spelling and source path) is refused with what to do', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  writeFileSync(path, '{"mailmigrate":"journal","v":1,"source":"[]","target":"imap://u@h:1/","created":"2024-01-01T00:00:00.000Z"}\n');
  await assert.rejects(Journal.open(path, header), /format 1 .*new --journal path/);
});

test('ids and mailboxes with newlines, quotes and non-ASCII characters survive a round trip', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const odd = 'cur/1700000000.M1P2.host,S=12:2,S\n"quoted"\u2028é';
  const j = await Journal.open(path, header);
  await j.recordSent([sent(odd, { mailbox: 'Entwürfe/日本語' })]);
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(st(r, odd, 'Entwürfe/日本語'), 'sent');
  assert.equal(r.unconfirmed()[0]!.mailbox, 'Entwürfe/日本語');
});

test('a torn last line is cut away on open, reported in repaired, and appending continues cleanly', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a')]); // one line per call: header, a, b, then the torn line 4
  await j.recordSent([sent('b')]);
  await j.close();
  const whole = statSync(path).size;
  appendFileSync(path, '{"s":"torn","b":"IN');

  const r = await Journal.open(path, header);
  assert.deepEqual(r.repaired, { droppedBytes: 19, line: 4 });
  assert.equal(statSync(path).size, whole);
  assert.equal(st(r, 'torn'), undefined);
  assert.equal(st(r, 'b'), 'sent');
  await r.recordSent([sent('c')]);
  await r.close();

  const again = await Journal.open(path, header);
  t.after(() => again.close());
  assert.equal(again.repaired, undefined);
  assert.deepEqual(again.counts, { confirmed: 0, sent: 3, failed: 0 });
  assert.ok(readFileSync(path, 'utf8').endsWith('\n'));
});

test('a complete record missing only its newline is still dropped, since its write never finished', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.close();
  appendFileSync(path, '{"s":"x","b":"INBOX","z":1}');
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(st(r, 'x'), undefined);
  assert.equal(r.repaired?.line, 2);
});

test('a tail of NUL bytes (a power cut after the size grew) is treated as a torn line', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a')]);
  await j.close();
  appendFileSync(path, Buffer.alloc(4096));
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired?.droppedBytes, 4096);
  assert.equal(st(r, 'a'), 'sent');
});

test('a torn header is replaced by a fresh one', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  writeFileSync(path, '{"mailmigrate":"jour');
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired?.line, 1);
  assert.equal(r.header.account, header.account);
  assert.match(readFileSync(path, 'utf8'), /^\{"mailmigrate":"journal","v":3,.*\}\n$/);
});

test('a corrupt line before the end is refused with its line number, and the file is left untouched', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  for (const id of ['a', 'b', 'c']) await j.recordSent([sent(id)]);
  await j.close();
  const lines = readFileSync(path, 'utf8').split('\n');
  lines[2] = '{"s":"b","b":"INB\u0000\u0000garbage';
  const damaged = lines.join('\n') + '{"s":"torn';
  writeFileSync(path, damaged);

  await assert.rejects(Journal.open(path, header), (err: unknown) => {
    assert.ok(err instanceof JournalError);
    assert.equal(err.code, 'E_JOURNAL');
    assert.match(err.message, /line 3 is corrupt/);
    assert.ok(err.message.includes(path));
    return true;
  });
  assert.equal(readFileSync(path, 'utf8'), damaged, 'no repair when the file cannot be trusted');
  assert.ok(!existsSync(`${path}.lock`), 'a failed open releases the lock');
});

test('a well-formed JSON line that is not a known record is corrupt too', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.close();
  appendFileSync(path, '{"s":"a","b":"INBOX","z":-1}\n');
  await assert.rejects(Journal.open(path, header), /line 2 is corrupt/);
});

test('a journal written for another account is refused, naming the path', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a')]);
  await j.close();
  const before = readFileSync(path);
  for (const other of [{ account: 'imap://v@192.0.2.7:993' }, { account: 'imap://u@192.0.2.8:993' }]) {
    await assert.rejects(Journal.open(path, other), (err: unknown) => {
      assert.ok(err instanceof JournalError);
      assert.ok(err.message.includes(path));
      assert.match(err.message, /belongs to another account/);
      return true;
    });
  }
  assert.deepEqual(readFileSync(path), before);
});

test('a file that is not a journal is refused rather than appended to', async (t) => {
  const path = join(tempDir(t), 'notes.txt');
  writeFileSync(path, 'shopping list\nmilk\n');
  await assert.rejects(Journal.open(path, header), /not a journal header/);
  assert.equal(readFileSync(path, 'utf8'), 'shopping list\nmilk\n');
});

test('the journal file, its lock and a created directory are private (0600 / 0700)', async (t) => {
  const path = join(tempDir(t), 'state', 'deeper', 'j.jsonl');
  const j = await Journal.open(path, header);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(`${path}.lock`).mode & 0o777, 0o600);
  assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
  assert.equal(statSync(join(path, '..', '..')).mode & 0o777, 0o700);
  await j.close();
  assert.ok(!existsSync(`${path}.lock`), 'close releases the lock');

  chmodSync(path, 0o644);
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(statSync(path).mode & 0o777, 0o600, 'a loosened journal is tightened on open');
});

test('many concurrent recordSent calls share a few fsyncs (group commit)', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const io = countingIo();
  const j = await Journal.open(path, header, { io });
  const connections = 40;
  const rounds = 5;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let r = 0; r < rounds; r++) {
        await j.recordSent([sent(`c${c}-r${r}-0`), sent(`c${c}-r${r}-1`)]);
        await new Promise((res) => setImmediate(res));
      }
    }),
  );
  const calls = connections * rounds;
  assert.ok(io.syncs >= 1);
  assert.ok(io.syncs <= calls / 5, `${io.syncs} fsyncs for ${calls} recordSent calls`);
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.counts.sent, calls * 2);
});

test('calls made while an fsync runs are merged into exactly one next fsync', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const io = countingIo();
  const j = await Journal.open(path, header, { io });
  t.after(() => j.close());
  let release!: () => void;
  io.gate = new Promise<void>((r) => (release = r));
  const first = j.recordSent([sent('first')]);
  await waitFor(() => io.syncs === 1, 'the first fsync to start');
  let resolvedEarly = false;
  void first.then(() => (resolvedEarly = true));
  const later = Array.from({ length: 20 }, (_, i) => j.recordSent([sent(`later${i}`)]));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(resolvedEarly, false, 'recordSent must not resolve before its fsync completes');
  io.gate = undefined;
  release();
  await Promise.all([first, ...later]);
  assert.equal(io.syncs, 2);
});

test('confirmations are written by the timer when few, and at once when a batch fills', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const slow = await Journal.open(path, header, { batchMs: 20, batchEntries: 1000 });
  slow.recordConfirmed([{ id: 'a', uid: 1, mailbox: 'INBOX' }]);
  assert.equal(st(slow, 'a'), 'confirmed', 'status reflects a confirmation before it is written');
  assert.equal(slow.stats.writes, 0);
  await waitFor(() => slow.stats.writes === 1, 'the batch timer');
  await slow.close();

  const full = await Journal.open(path, header, { batchMs: 60_000, batchEntries: 5 });
  t.after(() => full.close());
  full.recordConfirmed(['b', 'c', 'd', 'e', 'f'].map((id) => ({ id, mailbox: 'INBOX' })));
  await waitFor(() => full.stats.writes === 1, 'a full batch to be written without the timer');
  // Five confirmations in one call: one format 3 group line (journal-record.ts); the batch counts entries.
  assert.ok(readFileSync(path, 'utf8').includes('{"C":"INBOX","p":"","e":[["b",0],["c",0],["d",0],["e",0],["f",0]]}'));
});

test('flush() makes buffered confirmations and failures durable', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  t.after(() => j.close());
  j.recordConfirmed([{ id: 'a', mailbox: 'INBOX' }]);
  j.recordFailed({ id: 'b', mailbox: 'INBOX', code: 'E_SERVER_NO', reason: 'x'.repeat(1000) });
  await j.flush();
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('{"c":"a","b":"INBOX"}'));
  assert.ok(text.length < 600, 'a long failure reason is truncated');
  await j.flush(); // nothing pending: resolves at once
});

test('closeSync writes what is buffered so a second SIGINT loses no record', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  await j.recordSent([sent('a'), sent('b')]);
  j.recordConfirmed([{ id: 'a', uid: 1, mailbox: 'INBOX' }]);
  j.recordFailed({ id: 'b', mailbox: 'INBOX', code: 'E_SERVER_NO', reason: 'no' });
  const pending = j.recordSent([sent('c')]); // not yet started: its write is due on the next setImmediate
  j.closeSync();
  await pending;
  assert.ok(!existsSync(`${path}.lock`));
  assert.throws(() => j.recordConfirmed([{ id: 'c', mailbox: 'INBOX' }]), /is closed/);

  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.deepEqual(r.counts, { confirmed: 1, sent: 1, failed: 1 });
  assert.equal(st(r, 'c'), 'sent');
});

test('a full disk fails the pending recordSent with E_JOURNAL, and every later call fails the same way', async (t) => {
  if (!existsSync('/dev/full')) return t.skip('no /dev/full');
  const path = join(tempDir(t), 'j.jsonl');
  const devFull = openSync('/dev/full', 'w');
  t.after(() => closeSync(devFull));
  // The real kernel error: every write to /dev/full fails with ENOSPC.
  const io: JournalIo = { ...fileIo, write: (_fd, data) => fileIo.write(devFull, data) };
  const j = await Journal.open(path, header, { io });

  const err = await j.recordSent([sent('a')]).then(
    () => assert.fail('recordSent resolved on a full disk'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof JournalError);
  assert.equal(err.code, 'E_JOURNAL');
  assert.equal(err.retry, 'never');
  assert.match(err.message, /ENOSPC/);
  assert.ok(err.message.includes(path));

  await assert.rejects(j.recordSent([sent('b')]), (e) => e === err);
  assert.throws(() => j.recordConfirmed([{ id: 'a', mailbox: 'INBOX' }]), (e) => e === err);
  assert.throws(() => j.recordFailed({ id: 'a', mailbox: 'INBOX', code: 'E', reason: 'r' }), (e) => e === err);
  await assert.rejects(j.flush(), (e) => e === err);
  await assert.rejects(j.close(), (e) => e === err);
  assert.ok(!existsSync(`${path}.lock`), 'close releases the lock even after a failure');
});

test('a failing fsync is as fatal as a failing write', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  const io: JournalIo = { ...fileIo, sync: () => Promise.reject(eio) };
  const j = await Journal.open(path, header, { io });
  await assert.rejects(j.recordSent([sent('a')]), (e: unknown) => e instanceof JournalError && /EIO/.test(e.message));
  await assert.rejects(j.close(), JournalError);
});

test('a journal that cannot be created is refused at open with E_JOURNAL', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(Journal.open(join(dir, 'file', 'j.jsonl'), header), (e: unknown) => {
    assert.ok(e instanceof JournalError);
    assert.equal(e.code, 'E_JOURNAL');
    return true;
  });
});

test('a journal held by a live run is refused; a lock left by a dead process is taken over', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await assert.rejects(Journal.open(path, header), /in use by another mailmigrate run/);
  await j.close();

  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(`${path}.lock`, `${dead}\n`);
  const r = await Journal.open(path, header);
  assert.equal(readFileSync(`${path}.lock`, 'utf8').split('\n')[0], String(process.pid));
  await r.close();
});

test('replay of a large journal is fast and crosses read-chunk boundaries intact', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.close();
  const n = 200_000;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(`{"s":"cur/17000${i}.M${i}P9.höst,S=4096:2,S","b":"Entwürfe","m":"<${i}@example.org>","z":4096}\n`);
    if (i % 2 === 0) parts.push(`{"c":"cur/17000${i}.M${i}P9.höst,S=4096:2,S","b":"Entwürfe","u":${i},"v":1}\n`);
  }
  appendFileSync(path, parts.join(''));
  assert.ok(statSync(path).size > 8 * 1024 * 1024, 'spans several 4 MiB chunks');
  const started = process.hrtime.bigint();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.deepEqual(r.counts, { confirmed: n / 2, sent: n / 2, failed: 0 });
  assert.equal(st(r, `cur/17000${n - 1}.M${n - 1}P9.höst,S=4096:2,S`, 'Entwürfe'), 'sent');
  assert.ok(seconds < 10, `replay of ${n * 1.5} lines took ${seconds.toFixed(2)} s`);
});

test('close() called twice at once closes the file once and both calls succeed', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  j.recordConfirmed([{ id: 'a', mailbox: 'INBOX' }]);
  await Promise.all([j.close(), j.close()]);
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(st(r, 'a'), 'confirmed');
});
