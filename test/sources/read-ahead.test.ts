import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NormalizedMessage, SourceMessage } from '../../src/core/types.js';
import { SourceError } from '../../src/core/errors.js';
import { readAhead, type SourceItem } from '../../src/sources/index.js';
import { copyFixture, drain } from './source-helpers.js';
import { openSource } from '../../src/sources/index.js';

function fake(id: string, delayMs: number, fail = false, size = 10, started?: string[]): SourceMessage {
  return {
    id,
    folder: [],
    flags: [],
    internalDate: undefined,
    internalDateSource: 'none',
    size,
    origin: `/fake/${id}`,
    deleted: false,
    read: async (): Promise<NormalizedMessage> => {
      started?.push(id);
      await new Promise((r) => setTimeout(r, delayMs));
      if (fail) throw new SourceError(`/fake/${id}`, 'boom', 'E_SOURCE_UNREADABLE');
      return { data: Buffer.from(id), messageId: undefined, date: undefined, hasNul: false, warnings: [] };
    },
  };
}

async function* from(items: SourceItem[]): AsyncGenerator<SourceItem> {
  yield* items;
}

test('read-ahead keeps source order although later reads finish first, passes skipped paths through, and turns read failures into rejections', async () => {
  const items: SourceItem[] = [
    { kind: 'message', message: fake('a', 30) },
    { kind: 'rejected', error: new SourceError('/fake/x', 'bad', 'E_SOURCE_EMPTY') },
    { kind: 'skipped', path: '/fake/Thumbs.db', reason: 'not-mail', detail: 'Windows thumbnail cache' },
    { kind: 'message', message: fake('b', 1, true) },
    { kind: 'message', message: fake('c', 1) },
  ];
  const out: string[] = [];
  for await (const r of readAhead(from(items), { depth: 4 })) {
    out.push(r.kind === 'message' ? `msg ${r.normalized.data.toString()}` : r.kind === 'rejected' ? `rej ${r.error.path} ${r.message?.id ?? '-'}` : `skip ${r.path}`);
  }
  assert.deepEqual(out, ['msg a', 'rej /fake/x -', 'skip /fake/Thumbs.db', 'rej /fake/b b', 'msg c']);
});

test('read-ahead starts no more reads than the depth and the byte budget allow', async () => {
  const started: string[] = [];
  const items: SourceItem[] = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ kind: 'message', message: fake(id, 5, false, 100, started) }));
  const seenAtFirst: number[] = [];
  for await (const _ of readAhead(from(items), { depth: 3 })) seenAtFirst.push(started.length);
  assert.equal(seenAtFirst[0], 3);
  started.length = 0;
  const budget: number[] = [];
  for await (const _ of readAhead(from(items), { depth: 10, maxBytes: 150 })) budget.push(started.length);
  assert.equal(budget[0], 2, 'the second read starts while 100 < 150 bytes are in flight, the third does not');
});

test('read-ahead over a real Maildir gives the same bytes as reading one by one', async (t) => {
  const root = await copyFixture(t, 'maildir');
  const one = await drain(await openSource(root));
  const ahead: string[] = [];
  for await (const r of readAhead((await openSource(root)).items())) if (r.kind === 'message') ahead.push(`${r.message.id} ${r.normalized.data.toString('base64')}`);
  assert.deepEqual(ahead.sort(), one.messages.map((m) => `${m.message.id} ${m.normalized.data.toString('base64')}`).sort());
});
