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

/** An outcome settled by the test. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('pipelined operations issue one behind another without waiting for outcomes; the connection is not released while an outcome is pending', async () => {
  const kept = new KeptConnection(async () => new Fake(), 20);
  const issued: string[] = [];
  const first = deferred<string>();
  const second = deferred<string>();
  let conn: Fake | undefined;
  const a = kept.pipeline(async (c) => {
    conn = c;
    issued.push('a');
    return { outcome: first.promise };
  }, () => false);
  const b = kept.pipeline(async () => {
    issued.push('b');
    return { outcome: second.promise };
  }, () => false);
  await sleep(60); // three idle periods: nothing released, both issued though neither outcome has settled
  assert.deepEqual(issued, ['a', 'b']);
  assert.equal(conn!.closed, false, 'released while outcomes were pending');
  second.resolve('B');
  first.resolve('A');
  assert.deepEqual(await Promise.all([a, b]), ['A', 'B']);
  await sleep(60);
  assert.equal(conn!.closed, true, 'released once idle after the outcomes');
  await kept.close();
});

test('a pipelined outcome that fails other than by a server refusal closes the connection; a refusal keeps it; close() waits for outcomes in flight', async () => {
  const kept = new KeptConnection(async () => new Fake(), 10_000);
  const refusal = new Error('NO');
  let c1: Fake | undefined;
  await assert.rejects(kept.pipeline(async (c) => ((c1 = c), { outcome: Promise.reject(refusal) }), (e) => e === refusal), /NO/);
  await sleep(5);
  assert.equal(c1!.closed, false, 'a tagged refusal leaves the connection usable');
  let c2: Fake | undefined;
  await assert.rejects(kept.pipeline(async (c) => ((c2 = c), { outcome: Promise.reject(new Error('lost socket')) }), (e) => e === refusal), /lost socket/);
  assert.equal(c2, c1);
  await sleep(5);
  assert.equal(c1!.closed, true, 'a connection in an unknown state is closed');
  const late = deferred<number>();
  let c3: Fake | undefined;
  const p = kept.pipeline(async (c) => ((c3 = c), { outcome: late.promise }), () => false);
  await sleep(5); // issued
  let closed = false;
  const closing = kept.close().then(() => (closed = true));
  await sleep(20);
  assert.equal(closed, false, 'close() did not wait for the outcome in flight');
  assert.notEqual(c3, c1);
  late.resolve(7);
  assert.equal(await p, 7);
  await closing;
  assert.equal(c3!.closed, true);
});
