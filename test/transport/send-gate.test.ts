import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sendGate, type GateState } from '../../src/transport/send-gate.js';

const base: GateState = {
  open: true,
  inFlight: 0,
  awaitingContinuation: false,
  exclusiveInFlight: false,
  bufferedBytes: 0,
  depth: 4,
  maxBufferedBytes: 1024,
};
const plain = { exclusive: false, unconfirmedMailbox: false };

test('an idle open connection sends the next command', () => {
  assert.equal(sendGate(base, plain), 'send');
});

test('nothing is sent on a connection that is not open', () => {
  assert.equal(sendGate({ ...base, open: false }, plain), 'closed');
});

test('a command waiting for a continuation blocks everything behind it, even below the depth', () => {
  assert.equal(sendGate({ ...base, inFlight: 1, awaitingContinuation: true }, plain), 'awaiting-continuation');
});

test('commands are pipelined up to the depth and no further', () => {
  assert.equal(sendGate({ ...base, inFlight: 3 }, plain), 'send');
  assert.equal(sendGate({ ...base, inFlight: 4 }, plain), 'depth');
  assert.equal(sendGate({ ...base, depth: 1, inFlight: 1 }, plain), 'depth');
});

test('an exclusive command waits until nothing is in flight, and nothing passes a running one', () => {
  assert.equal(sendGate({ ...base, inFlight: 1 }, { ...plain, exclusive: true }), 'needs-idle');
  assert.equal(sendGate(base, { ...plain, exclusive: true }), 'send');
  assert.equal(sendGate({ ...base, inFlight: 1, exclusiveInFlight: true }, plain), 'exclusive-running');
});

test('output is not stacked in the socket beyond the buffer bound', () => {
  assert.equal(sendGate({ ...base, bufferedBytes: 1025 }, plain), 'backpressure');
  assert.equal(sendGate({ ...base, bufferedBytes: 1024 }, plain), 'send');
});

test('the first APPEND to an unconfirmed mailbox goes alone', () => {
  assert.equal(sendGate({ ...base, inFlight: 1 }, { ...plain, unconfirmedMailbox: true }), 'unconfirmed-mailbox');
  assert.equal(sendGate(base, { ...plain, unconfirmedMailbox: true }), 'send');
});

test('an overdue server gets nothing new, but a literal it already asked for with "+" still goes', () => {
  assert.equal(sendGate({ ...base, inFlight: 1, overdue: true }, plain), 'overdue');
  assert.equal(sendGate({ ...base, inFlight: 1, overdue: true, awaitingContinuation: true }, plain), 'awaiting-continuation');
  assert.equal(sendGate({ ...base, inFlight: 1, overdue: false }, plain), 'send');
});
