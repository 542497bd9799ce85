import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChurn } from '../../src/bench/churn.js';

test('500 messages over a new connection each are slower than over one persistent connection and named churn', async () => {
  const r = await runChurn({ messages: 500, modes: ['persistent', 'new-connection', 'new-connection-rst'] });
  const by = Object.fromEntries(r.runs.map((x) => [x.mode, x]));
  const p = by['persistent']!;
  const n = by['new-connection']!;
  const rst = by['new-connection-rst']!;
  for (const x of [p, n, rst]) {
    assert.equal(x.messages, 500, JSON.stringify(x.errors));
    assert.ok(x.latencyMs.p50 > 0 && x.latencyMs.p50 <= x.latencyMs.max);
  }
  assert.equal(p.connectionsOpened, 1);
  assert.equal(n.connectionsOpened, 500);
  assert.ok(p.msgsPerSec > n.msgsPerSec, `persistent ${p.msgsPerSec} vs churn ${n.msgsPerSec}`);
  assert.deepEqual(p.diagnosis.map((d) => d.code), []);
  assert.ok(n.diagnosis.some((d) => d.code === 'connection-churn'));
  // FIN closes leave TIME_WAIT sockets behind; RST closes leave (almost) none.
  if (n.timeWait !== undefined && rst.timeWait !== undefined) {
    assert.ok(n.timeWait >= 400, `TIME_WAIT after FIN closes: ${n.timeWait}`);
    assert.ok(rst.timeWait < n.timeWait / 10, `TIME_WAIT after RST closes: ${rst.timeWait}`);
  }
});

test('an unknown churn mode is refused', async () => {
  await assert.rejects(runChurn({ messages: 1, modes: ['sometimes' as never] }), /--modes/);
});
