import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalizedMessage, SourceMessage } from '../../src/core/types.js';
import { FileMessage } from '../../src/sources/file-message.js';
import { streamDir } from '../../src/sources/fs-walk.js';
import { readAhead, type SourceItem, STOP_READING } from '../../src/sources/index.js';
import { tempDir } from './source-helpers.js';

// The read-ahead reads small files synchronously (FileMessage.readNow) and makes no promise for them (issue 14:
// bytes allocated per message). What an admin's tree can hold must still come out right and in order.

async function* from(items: SourceItem[]): AsyncGenerator<SourceItem> {
  yield* items;
}

function asyncMessage(id: string): SourceMessage {
  return {
    id,
    folder: [],
    flags: [],
    internalDate: undefined,
    internalDateSource: 'none',
    size: 3,
    origin: `/fake/${id}`,
    deleted: false,
    read: async (): Promise<NormalizedMessage> => {
      await new Promise((r) => setTimeout(r, 5));
      return { data: Buffer.from(id), messageId: undefined, date: undefined, hasNul: false, warnings: [] };
    },
  };
}

test('read-ahead reads small files at once and large ones asynchronously, keeps order, and turns a FIFO, a directory or a vanished file into rejections', async (t) => {
  const dir = await tempDir(t);
  const body = (s: string): string => `Subject: ${s}\r\nMessage-ID: <${s}@x>\r\n\r\nbody ${s}\r\n`;
  const large = body('large') + 'x'.repeat(200 * 1024) + '\r\n';
  writeFileSync(join(dir, 'a'), body('a'));
  writeFileSync(join(dir, 'large'), large);
  writeFileSync(join(dir, 'e'), body('e'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'adir'));
  // Dated at read time from the fstat of the file read (a ",S=" name is not stat'd by the walk).
  utimesSync(join(dir, 'e'), 1_600_000_000, 1_600_000_000);
  const file = (name: string, size: number): SourceItem => ({
    kind: 'message',
    message: new FileMessage(name, [], [], undefined, 'none', size, join(dir, name), undefined, false, 10 * 1024 * 1024, join(dir, name), (ms) => ({ date: new Date(ms), source: 'mtime' })),
  });
  const items: SourceItem[] = [file('a', 40), file('fifo', 40), { kind: 'message', message: asyncMessage('async') }, file('adir', 40), file('large', large.length), file('gone', 40), file('e', 40)];
  const out: string[] = [];
  const dates: Record<string, number | undefined> = {};
  for await (const r of readAhead(from(items), { depth: 3 })) {
    if (r.kind === 'message') {
      out.push(`msg ${r.message.id} ${r.normalized.data.length}`);
      dates[r.message.id] = r.message.internalDate?.getTime();
    } else if (r.kind === 'rejected') out.push(`rej ${r.message?.id} ${r.error.code}`);
    else out.push(`skip ${r.path}`);
  }
  assert.deepEqual(out, [
    `msg a ${body('a').length}`,
    'rej fifo E_SOURCE_NOT_REGULAR',
    'msg async 5',
    'rej adir E_SOURCE_NOT_REGULAR',
    `msg large ${large.length}`,
    'rej gone E_SOURCE_UNREADABLE',
    `msg e ${body('e').length}`,
  ]);
  assert.equal(dates['e'], 1_600_000_000_000, 'the date comes from the fstat of the file read synchronously');
});

test('the bytes read synchronously are the file\'s bytes, normalized as read() normalizes them', async (t) => {
  const dir = await tempDir(t);
  const lf = 'Subject: lf\nMessage-ID: <lf@x>\n\nline one\nline two\n';
  writeFileSync(join(dir, 'lf'), lf);
  const m = new FileMessage('lf', [], [], undefined, 'none', lf.length, join(dir, 'lf'));
  const now = m.readNow()!;
  const later = await m.read();
  assert.deepEqual(now.data, later.data);
  assert.equal(now.data.toString('latin1'), lf.replace(/\n/g, '\r\n'));
  assert.equal(now.messageId, later.messageId);
});

test('a directory listed in batches gives every entry once, and stopping early closes the directory', async (t) => {
  const dir = await tempDir(t);
  for (let i = 0; i < 600; i++) writeFileSync(join(dir, `m${i}`), 'x');
  const sizes: number[] = [];
  const names = new Set<string>();
  for await (const batch of streamDir(dir)) {
    sizes.push(batch.length);
    for (const e of batch) {
      assert.ok(!names.has(e.name), `${e.name} twice`);
      names.add(e.name);
      assert.equal(e.regular, true);
    }
  }
  assert.equal(names.size, 600);
  assert.deepEqual(sizes, [256, 256, 88]);
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let round = 0; round < 20; round++) {
    for await (const batch of streamDir(dir, 10)) {
      assert.equal(batch.length, 10);
      break; // the walk is stopped (Ctrl-C, a fatal error): its directory must not stay open
    }
  }
  assert.equal(fds(), before, 'no directory left open');
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const batches = [];
  for await (const b of streamDir(empty)) batches.push(b);
  assert.deepEqual(batches, []);
});

test('admit decides each item before it is read, in order, sync or async; STOP_READING ends the walk and closes the source', async () => {
  let closed = false;
  const reads: string[] = [];
  const counted = (id: string): SourceMessage => ({ ...asyncMessage(id), read: async () => (reads.push(id), asyncMessage(id).read()) });
  async function* source(): AsyncGenerator<SourceItem> {
    try {
      for (const id of ['a', 'drop', 'slow', 'b', 'stop', 'never']) yield { kind: 'message', message: counted(id) };
    } finally {
      closed = true;
    }
  }
  const asked: string[] = [];
  const out: string[] = [];
  const admit = (item: SourceItem) => {
    const id = item.kind === 'message' ? item.message.id : '?';
    asked.push(id);
    if (id === 'drop') return undefined;
    if (id === 'slow') return new Promise<SourceItem>((r) => setTimeout(() => r(item), 10));
    if (id === 'stop') return Promise.resolve(STOP_READING);
    return item;
  };
  for await (const r of readAhead(source(), { depth: 4, admit })) if (r.kind === 'message') out.push(r.message.id);
  assert.deepEqual(out, ['a', 'slow', 'b']);
  assert.deepEqual(asked, ['a', 'drop', 'slow', 'b', 'stop']);
  assert.deepEqual(reads, ['a', 'slow', 'b'], 'a dropped or unasked item is never read');
  assert.equal(closed, true);
});
