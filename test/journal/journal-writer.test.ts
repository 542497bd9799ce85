import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JournalIo } from '../../src/journal/journal-io.js';
import { fileIo } from '../../src/journal/journal-io.js';
import { JournalWriter } from '../../src/journal/journal-writer.js';

// The group commit's bytes (journal-writer.ts): a write in flight must never see its bytes change while later lines
// are added, and every round's bytes must be exactly its lines in UTF-8, whatever their size. Written when a reused
// output buffer was tried (docs/measurements.md, fifth pass: not kept); it guards any such change.

/** fileIo whose asynchronous writes wait for `release()`; each write's bytes are copied when it starts. */
function heldIo(): { io: JournalIo; started: Array<{ data: Buffer; copy: Buffer }>; release(): void } {
  const started: Array<{ data: Buffer; copy: Buffer }> = [];
  let open: Array<() => void> = [];
  return {
    started,
    release() {
      const o = open;
      open = [];
      for (const f of o) f();
    },
    io: {
      ...fileIo,
      async write(fd, data) {
        started.push({ data, copy: Buffer.from(data) });
        await new Promise<void>((r) => open.push(r));
        await fileIo.write(fd, data);
      },
    },
  };
}

/** An empty journal file in a temporary directory, open for appending; both go at the end of the test. */
function journalFile(t: { after(fn: () => void): void }): { path: string; fd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'mm-jw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'j');
  const fd = openSync(path, 'a');
  t.after(() => closeSync(fd));
  return { path, fd };
}

test('journal writer: a write in flight keeps its bytes while later lines arrive; the file holds every line once, in order', async (t) => {
  const { path, fd } = journalFile(t);
  const held = heldIo();
  const w = new JournalWriter(path, fd, held.io, { fsync: false, batchMs: 1, batchEntries: 1 });

  const expected: string[] = [];
  const add = (line: string): Promise<void> => {
    expected.push(line);
    w.add([line], 1);
    return w.waitDurable();
  };
  const first = add('{"a":1,"folder":"Entwürfe/日本語"}\n');
  await new Promise((r) => setImmediate(r));
  assert.equal(held.started.length, 1, 'the first round is being written');
  // Lines added while it is held: multi-byte, 0 bytes of content, and one far larger than the initial 64 KiB.
  const later = [add('{"b":"é"}\n'), add('\n'), add(`{"big":"${'x'.repeat(200_000)}"}\n`), add('{"c":"😀"}\n')];
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(held.started[0]!.data, held.started[0]!.copy, 'bytes in flight unchanged');
  // Release round by round, checking every write's bytes while it is held.
  let done = false;
  void Promise.all([first, ...later]).then(() => (done = true));
  for (let round = 0; !done && round < 100; round++) {
    // Writes are sequential: the last one started is the one in flight (earlier ones finished, and their bytes
    // may be reused now).
    const inFlight: { data: Buffer; copy: Buffer } = held.started[held.started.length - 1]!;
    assert.deepEqual(inFlight.data, inFlight.copy, 'no write saw its bytes change while held');
    held.release();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(done, 'every line became durable');
  assert.ok(held.started.length >= 2, 'later lines went out in later rounds, reusing the buffer');
  assert.equal(readFileSync(path, 'utf8'), expected.join(''));
  assert.equal(w.stats.bytes, Buffer.byteLength(expected.join(''), 'utf8'));
});

test('journal writer: rounds of every size reuse the buffer and write exactly their lines', async (t) => {
  const { path, fd } = journalFile(t);
  const w = new JournalWriter(path, fd, fileIo, { fsync: false, batchMs: 1, batchEntries: 1000 });
  const expected: string[] = [];
  // Rounds that shrink after a large one: a stale tail of the larger round must never be written.
  for (const [n, len] of [[3, 40_000], [1, 10], [50, 3000], [1, 0], [2, 70_000], [5, 7]] as const) {
    const lines = Array.from({ length: n }, (_, i) => `{"n":${i},"s":"${'ü'.repeat(len)}"}\n`);
    expected.push(...lines);
    w.add(lines, n);
    await w.waitDurable();
  }
  assert.equal(readFileSync(path, 'utf8'), expected.join(''));
});
