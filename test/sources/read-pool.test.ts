import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSource, readAhead, ReadPool, readPoolAvailable } from '../../src/sources/index.js';

// The worker runs compiled JavaScript: these tests run in `npm test` (from dist/), and skip under a TS loader.
const skip = readPoolAvailable() ? false : 'worker needs the compiled build (npm test runs it)';
import { fingerprintOf } from '../../src/migrate/server-lookup.js';
import { SourceError } from '../../src/core/errors.js';

test('messages read on worker threads are byte-identical to main-thread reads, with their fingerprint', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-pool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub));
  for (let i = 0; i < 40; i++) {
    // Bare LF on purpose: the worker normalizes too.
    writeFileSync(join(dir, 'cur', `17000000${i}.M${i}P1.host:2,S`), `Message-ID: <p${i}@x>\nSubject: ${i}\n\n${'body line\n'.repeat(i * 50)}`);
  }
  writeFileSync(join(dir, 'cur', '1700009999.M9P1.host:2,'), 'no header block here at all\n');
  const pool = new ReadPool(2, 0);
  t.after(() => pool.close());
  const collect = async (readPool?: ReadPool) => {
    const out = new Map<string, { data: Buffer; messageId?: string; fingerprint?: string } | string>();
    for await (const item of readAhead((await openSource(dir, { readPool })).items(), { depth: 8 })) {
      if (item.kind === 'message') out.set(item.message.id, { data: item.normalized.data, messageId: item.normalized.messageId, fingerprint: item.normalized.fingerprint });
      else if (item.kind === 'rejected') out.set(item.message?.id ?? item.error.path, `${item.error.code}`);
    }
    return out;
  };
  const main = await collect();
  const pooled = await collect(pool);
  assert.equal(pooled.size, 41);
  for (const [id, m] of main) {
    const p = pooled.get(id)!;
    if (typeof m === 'string') {
      assert.equal(p, m, `${id} rejected with the same code`);
      continue;
    }
    assert.ok(typeof p !== 'string');
    assert.ok(p.data.equals(m.data), `${id} bytes`);
    assert.equal(p.messageId, m.messageId);
    assert.equal(p.fingerprint, fingerprintOf(m.data));
  }
  assert.deepEqual([...main.values()].filter((v) => typeof v === 'string'), ['E_SOURCE_NOT_MESSAGE']);
  assert.equal(pool.started, 2, 'the workers read them');
});

test('the pool starts its threads only after its warm-up: a small run reads on the main thread and starts none, a larger one switches over with the same bytes', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-pool-warm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub));
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, 'cur', `17000000${i}.M${i}P1.host:2,S`), `Message-ID: <w${i}@x>\nSubject: ${i}\n\n${'line\n'.repeat(i * 40)}`);
  const read = async (pool?: ReadPool) => {
    const out = new Map<string, Buffer>();
    for await (const item of readAhead((await openSource(dir, { readPool: pool })).items(), { depth: 8 })) {
      if (item.kind === 'message') out.set(item.message.id, item.normalized.data);
    }
    return out;
  };
  const main = await read();
  const small = new ReadPool(2, 100);
  t.after(() => small.close());
  const unstarted = await read(small);
  assert.equal(small.started, 0, 'a run shorter than the warm-up started threads');
  const switching = new ReadPool(2, 10);
  t.after(() => switching.close());
  const switched = await read(switching);
  assert.equal(switching.started, 2, 'the threads never started after the warm-up');
  for (const got of [unstarted, switched]) {
    assert.equal(got.size, 30);
    for (const [id, data] of main) assert.ok(got.get(id)?.equals(data), `${id} bytes`);
  }
});

test('a file that vanished is a SourceError naming it, from a worker too', { skip }, async (t) => {
  const pool = new ReadPool(1);
  t.after(() => pool.close());
  await assert.rejects(pool.read('/nonexistent/mailmigrate/x', '/nonexistent/mailmigrate/x'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNREADABLE' && e.message.includes('/nonexistent/mailmigrate/x'));
});

test('a worker refuses a FIFO at once and stops at the size cap, like the main thread', { skip, timeout: 20_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-pool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]); // a plain readFileSync in the worker waited forever for a writer
  writeFileSync(join(dir, 'big'), `Subject: big\n\n${'x'.repeat(5000)}\n`);
  const pool = new ReadPool(1);
  t.after(() => pool.close());
  await assert.rejects(pool.read(fifo, fifo), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_REGULAR' && /FIFO/.test(e.message));
  await assert.rejects(pool.read(join(dir, 'big'), join(dir, 'big'), 1000), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_TOO_LARGE');
});
