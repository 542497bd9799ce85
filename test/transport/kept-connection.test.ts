import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeptConnection } from '../../src/transport/kept-connection.js';

class Fake {
  static opened = 0;
  readonly id = ++Fake.opened;
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('operations run one at a time on one connection, which closes once idle and is dialled again on the next use', async () => {
  const kept = new KeptConnection(async () => new Fake(), 30);
  const order: string[] = [];
  const a = kept.use(async (c) => {
    order.push(`a start ${c.id}`);
    await sleep(10);
    order.push('a end');
    return c;
  });
  const b = kept.use(async (c) => {
    order.push(`b ${c.id}`);
    return c;
  });
  const [ca, cb] = await Promise.all([a, b]);
  assert.equal(ca, cb, 'the same connection for both');
  assert.deepEqual(order, [`a start ${ca.id}`, 'a end', `b ${ca.id}`]);
  assert.equal(kept.connected, true);
  await sleep(80);
  assert.equal(ca.closed, true, 'closed after the idle time');
  assert.equal(kept.connected, false);
  const again = await kept.use(async (c) => c);
  assert.notEqual(again, ca);
  await kept.close();
  assert.equal(again.closed, true);
  await assert.rejects(kept.use(async (c) => c), /closed for good/);
});

test('an operation that throws leaves its connection closed; fresh() replaces the connection within an operation', async () => {
  const kept = new KeptConnection(async () => new Fake(), 10_000);
  let first: Fake | undefined;
  await assert.rejects(
    kept.use(async (c) => {
      first = c;
      throw new Error('half-read answer');
    }),
    /half-read/,
  );
  assert.equal(first!.closed, true);
  const [before, after] = await kept.use(async (c, fresh) => [c, await fresh()] as const);
  assert.notEqual(before, after);
  assert.equal(before.closed, true);
  assert.equal(after.closed, false);
  assert.equal(await kept.use(async (c) => c), after, 'the fresh one is kept');
  await kept.close();
});

test('a failed dial is met by the operation, and the next one dials again', async () => {
  let fail = true;
  const kept = new KeptConnection(async () => {
    if (fail) throw new Error('connection limit');
    return new Fake();
  }, 10_000);
  kept.warm();
  await assert.rejects(kept.use(async (c) => c), /connection limit/);
  fail = false;
  assert.equal((await kept.use(async (c) => c)).closed, false);
  await kept.close();
});
