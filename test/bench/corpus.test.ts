import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import {
  generateMessage,
  messageSize,
  corpusSizes,
  messageId,
  messageDate,
  writeMaildir,
  HUGE_MIN,
  HUGE_MAX,
  TAIL_MIN,
  TAIL_MAX,
  MIN_MESSAGE_SIZE,
} from '../../src/bench/corpus.js';
import { ConfigError } from '../../src/core/errors.js';

test('the same seed and index give byte-identical messages; another seed gives different ones', () => {
  for (const i of [0, 1, 17, 999, 1000, 4321]) {
    assert.ok(generateMessage(i, { seed: 7 }).equals(generateMessage(i, { seed: 7 })), `index ${i}`);
  }
  assert.ok(!generateMessage(5, { seed: 7 }).equals(generateMessage(5, { seed: 8 })));
  assert.deepEqual(corpusSizes(300, { seed: 7 }), corpusSizes(300, { seed: 7 }));
});

test('each generated message is exactly messageSize bytes, CRLF only, lines within RFC 5322 limits', () => {
  const sizes = corpusSizes(2000, { seed: 3 });
  const sample = [...Array.from({ length: 40 }, (_, k) => k * 50), sizes.findIndex((s) => s >= HUGE_MIN), sizes.findIndex((s) => s >= TAIL_MIN && s <= TAIL_MAX)];
  for (const i of sample) {
    const m = generateMessage(i, { seed: 3 });
    assert.equal(m.length, sizes[i], `index ${i}`);
    const text = m.toString('latin1');
    assert.ok(!/[^\r]\n|\r[^\n]/.test(text), `index ${i}: only CRLF line ends`);
    assert.ok(text.endsWith('\r\n'));
    assert.ok(text.split('\r\n').every((l) => l.length <= 78), `index ${i}: lines ≤ 78`);
    assert.ok(!/[\x00\x80-\xff]/.test(text), `index ${i}: 7-bit clean`);
  }
});

test('Message-IDs are unique across a corpus and across seeds', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 3000; i++) ids.add(messageId(i, { seed: 1 }));
  for (let i = 0; i < 100; i++) ids.add(messageId(i, { seed: 2 }));
  assert.equal(ids.size, 3100);
  const m = generateMessage(42, { seed: 1 }).toString('latin1');
  assert.ok(m.includes(`Message-ID: ${messageId(42, { seed: 1 })}\r\n`));
});

test('the size mix matches the docs/measurements.md corpus: median ~4 KB, mean ~21.5 KB, 15 of 1–2 MB per 5000, 10% tail', () => {
  const s = corpusSizes(5000, { seed: 1 });
  const sorted = [...s].sort((a, b) => a - b);
  const median = sorted[2500]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  assert.ok(median >= 3500 && median <= 4500, `median ${median}`);
  assert.ok(mean >= 19_000 && mean <= 24_000, `mean ${mean}`);
  assert.equal(s.filter((x) => x >= HUGE_MIN && x <= HUGE_MAX).length, 15);
  assert.equal(s.filter((x) => x >= TAIL_MIN && x <= TAIL_MAX).length, 500);
  assert.ok(sorted[0]! >= 600, `smallest ${sorted[0]}`);
  // Another seed keeps the shape (the counts are stratified per block of 1000).
  const t = corpusSizes(5000, { seed: 99 });
  assert.equal(t.filter((x) => x >= HUGE_MIN).length, 15);
});

test('a fixed --size makes every message exactly that many bytes', () => {
  for (const size of [MIN_MESSAGE_SIZE, 4096, 20_000, 150_000, 1_000_000]) {
    for (const i of [0, 1, 999_999]) assert.equal(generateMessage(i, { seed: 5, size }).length, size, `size ${size} index ${i}`);
  }
  assert.deepEqual(corpusSizes(3, { seed: 5, size: 4096 }), [4096, 4096, 4096]);
});

test('a fixed size below the minimum or not a whole number is a ConfigError naming --size', () => {
  assert.throws(() => generateMessage(0, { seed: 1, size: 100 }), (e: unknown) => e instanceof ConfigError && e.option === '--size');
  assert.throws(() => messageSize(0, { seed: 1, size: 4096.5 }), ConfigError);
  assert.throws(() => messageSize(-1, { seed: 1 }), RangeError);
});

test('a message with an attachment parses as multipart with a base64 attachment of the expected size', async () => {
  const sizes = corpusSizes(1000, { seed: 11 });
  const i = sizes.findIndex((s) => s >= 50_000 && s <= TAIL_MAX);
  const parsed = await simpleParser(generateMessage(i, { seed: 11 }));
  assert.equal(parsed.messageId, messageId(i, { seed: 11 }));
  assert.equal(parsed.date?.getTime(), Math.floor(messageDate(i, { seed: 11 }).getTime() / 1000) * 1000);
  assert.ok(parsed.from?.text && parsed.subject);
  assert.equal(parsed.attachments.length, 1);
  const att = parsed.attachments[0]!;
  assert.ok(att.size > sizes[i]! * 0.7 && att.size < sizes[i]!, `attachment ${att.size} of message ${sizes[i]}`);
  assert.ok((parsed.text ?? '').length > 100);
});

test('writeMaildir materializes the corpus as a Maildir whose files equal the generated messages', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mm-corpus-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const res = await writeMaildir(dir, 40, { seed: 2 });
  assert.equal(res.count, 40);
  assert.equal(res.bytes, corpusSizes(40, { seed: 2 }).reduce((a, b) => a + b, 0));
  for (const sub of ['new', 'tmp']) assert.deepEqual(await readdir(join(dir, sub)), []);
  const files = await readdir(join(dir, 'cur'));
  assert.equal(files.length, 40);
  const f = files.find((n) => n.includes('.M7P2.'))!;
  assert.match(f, /,S=\d+:2,[FRS]*$/);
  const data = await readFile(join(dir, 'cur', f));
  assert.ok(data.equals(generateMessage(7, { seed: 2 })));
  assert.equal(Number(/,S=(\d+)/.exec(f)![1]), data.length);
  const st = await stat(join(dir, 'cur', f));
  assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(messageDate(7, { seed: 2 }).getTime() / 1000));
});
