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

const header = { source: '/home/u/Maildir', target: 'imaps://u@mail.example:993/' };

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
  j.recordConfirmed([{ id: 'a', uid: 7, uidValidity: 1234, mailbox: 'INBOX' }, { id: 'c' }]);
  j.recordFailed('d', 'E_SERVER_NO', 'message too large');
  await j.close();

  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired, undefined);
  assert.equal(r.status('a'), 'confirmed');
  assert.equal(r.status('b'), 'sent');
  assert.equal(r.status('c'), 'confirmed');
  assert.equal(r.status('d'), undefined, 'a failed message is retried on the next run');
  assert.equal(r.status('never-seen'), undefined);
  assert.deepEqual(r.counts, { confirmed: 2, sent: 1, failed: 1 });
  assert.deepEqual(r.unconfirmed(), [
    { id: 'b', mailbox: 'INBOX', messageId: '<b@example.org>', size: 1000, fingerprint: 'f'.repeat(64) },
  ]);
  assert.deepEqual(r.failed(), [{ id: 'd', code: 'E_SERVER_NO', reason: 'message too large' }]);
});

test('confirmed is final: a later sent or failed record for the same id does not downgrade it', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('b')]);
  j.recordConfirmed([{ id: 'a' }]);
  await j.recordSent([sent('a')]);
  j.recordFailed('a', 'E_X', 'late');
  j.recordFailed('b', 'E_SERVER_NO', 'refused');
  await j.recordSent([sent('b')]); // a failed message sent again on a re-run
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.status('a'), 'confirmed');
  assert.equal(r.status('b'), 'sent');
  assert.deepEqual(r.counts, { confirmed: 1, sent: 1, failed: 0 });
});

test('ids and mailboxes with newlines, quotes and non-ASCII characters survive a round trip', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const odd = 'cur/1700000000.M1P2.host,S=12:2,S\n"quoted"\u2028é';
  const j = await Journal.open(path, header);
  await j.recordSent([sent(odd, { mailbox: 'Entwürfe/日本語' })]);
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.status(odd), 'sent');
  assert.equal(r.unconfirmed()[0]!.mailbox, 'Entwürfe/日本語');
});

test('a torn last line is cut away on open, reported in repaired, and appending continues cleanly', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('b')]);
  await j.close();
  const whole = statSync(path).size;
  appendFileSync(path, '{"s":"torn","b":"IN');

  const r = await Journal.open(path, header);
  assert.deepEqual(r.repaired, { droppedBytes: 19, line: 4 });
  assert.equal(statSync(path).size, whole);
  assert.equal(r.status('torn'), undefined);
  assert.equal(r.status('b'), 'sent');
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
  assert.equal(r.status('x'), undefined);
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
  assert.equal(r.status('a'), 'sent');
});

test('a torn header is replaced by a fresh one', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  writeFileSync(path, '{"mailmigrate":"jour');
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired?.line, 1);
  assert.equal(r.header.source, header.source);
  assert.match(readFileSync(path, 'utf8'), /^\{"mailmigrate":"journal","v":1,.*\}\n$/);
});

test('a corrupt line before the end is refused with its line number, and the file is left untouched', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a'), sent('b'), sent('c')]);
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

test('a journal written for another source or target is refused, naming the path', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([sent('a')]);
  await j.close();
  const before = readFileSync(path);
  for (const other of [{ ...header, source: '/elsewhere' }, { ...header, target: 'imap://v@other:143/' }]) {
    await assert.rejects(Journal.open(path, other), (err: unknown) => {
      assert.ok(err instanceof JournalError);
      assert.ok(err.message.includes(path));
      assert.match(err.message, /belongs to another import/);
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
  slow.recordConfirmed([{ id: 'a', uid: 1 }]);
  assert.equal(slow.status('a'), 'confirmed', 'status reflects a confirmation before it is written');
  assert.equal(slow.stats.writes, 0);
  await waitFor(() => slow.stats.writes === 1, 'the batch timer');
  await slow.close();

  const full = await Journal.open(path, header, { batchMs: 60_000, batchEntries: 5 });
  t.after(() => full.close());
  full.recordConfirmed(['b', 'c', 'd', 'e', 'f'].map((id) => ({ id })));
  await waitFor(() => full.stats.writes === 1, 'a full batch to be written without the timer');
  assert.ok(readFileSync(path, 'utf8').includes('{"c":"f"}'));
});

test('flush() makes buffered confirmations and failures durable', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  t.after(() => j.close());
  j.recordConfirmed([{ id: 'a' }]);
  j.recordFailed('b', 'E_SERVER_NO', 'x'.repeat(1000));
  await j.flush();
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('{"c":"a"}'));
  assert.ok(text.length < 600, 'a long failure reason is truncated');
  await j.flush(); // nothing pending: resolves at once
});

test('closeSync writes what is buffered so a second SIGINT loses no record', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  await j.recordSent([sent('a'), sent('b')]);
  j.recordConfirmed([{ id: 'a', uid: 1 }]);
  j.recordFailed('b', 'E_SERVER_NO', 'no');
  const pending = j.recordSent([sent('c')]); // not yet started: its write is due on the next setImmediate
  j.closeSync();
  await pending;
  assert.ok(!existsSync(`${path}.lock`));
  assert.throws(() => j.recordConfirmed([{ id: 'c' }]), /is closed/);

  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.deepEqual(r.counts, { confirmed: 1, sent: 1, failed: 1 });
  assert.equal(r.status('c'), 'sent');
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
  assert.throws(() => j.recordConfirmed([{ id: 'a' }]), (e) => e === err);
  assert.throws(() => j.recordFailed('a', 'E', 'r'), (e) => e === err);
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
    if (i % 2 === 0) parts.push(`{"c":"cur/17000${i}.M${i}P9.höst,S=4096:2,S","u":${i},"v":1}\n`);
  }
  appendFileSync(path, parts.join(''));
  assert.ok(statSync(path).size > 8 * 1024 * 1024, 'spans several 4 MiB chunks');
  const started = process.hrtime.bigint();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.deepEqual(r.counts, { confirmed: n / 2, sent: n / 2, failed: 0 });
  assert.equal(r.status(`cur/17000${n - 1}.M${n - 1}P9.höst,S=4096:2,S`), 'sent');
  assert.ok(seconds < 10, `replay of ${n * 1.5} lines took ${seconds.toFixed(2)} s`);
});

test('close() called twice at once closes the file once and both calls succeed', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header, { batchMs: 60_000 });
  j.recordConfirmed([{ id: 'a' }]);
  await Promise.all([j.close(), j.close()]);
  await j.close();
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.status('a'), 'confirmed');
});
