import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStorm } from '../../src/bench/storm.js';

// A storm of 300 against a busy server: backlog 8 overflows the accept queue, backlog 1024 holds every connect.
// The kernel counters are system-wide; another storm on the machine at the same moment could add to them.
test('a storm of 300 overflows a backlog of 8 but not one of 1024, and only the first is diagnosed', async () => {
  const r = await runStorm({ clients: 300, backlogs: [8, 1024], busyMs: 800, timeoutMs: 4000 });
  const [small, large] = r.runs;
  assert.ok(small && large);
  assert.equal(small.backlog, 8);
  assert.equal(large.backlog, 1024);
  assert.ok((small.listenOverflows ?? 0) > 0, 'ListenOverflows rose for backlog 8');
  assert.ok(small.slowConnects > 100, `connects waited for a SYN retransmit: ${small.slowConnects}`);
  assert.ok(small.connectMs.p50 >= 900, `p50 at the SYN schedule: ${small.connectMs.p50}`);
  assert.deepEqual(small.diagnosis.map((d) => d.code), ['accept-queue-overflow']);
  assert.match(small.diagnosis[0]!.message, /backlog/);

  assert.equal(large.listenOverflows ?? 0, 0);
  assert.equal(large.slowConnects, 0);
  assert.equal(large.replied, 300);
  assert.ok(large.connectMs.max < 900, `no connect waited for a retransmit: ${large.connectMs.max}`);
  // The server was busy for 800 ms, so the greeting came after the block, not before.
  assert.ok(large.firstReplyMs.p50 >= 700);
  assert.deepEqual(large.diagnosis, []);
});

test('storm options are checked before anything starts', async () => {
  await assert.rejects(runStorm({ clients: 0, backlogs: [8] }), /--clients/);
  await assert.rejects(runStorm({ clients: 10, backlogs: [] }), /--backlog/);
});
