import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQueueUrl, queueName } from '../../src/fleet/queue.js';

test('a redis:// URL gives host, port and database; the password comes only from the environment', () => {
  assert.deepEqual(parseQueueUrl('redis://10.0.0.5:6380/2', {}), { host: '10.0.0.5', port: 6380, db: 2, username: undefined, password: undefined });
  assert.deepEqual(parseQueueUrl('redis://queue.example', { MAILMIGRATE_REDIS_PASSWORD: 'pw' }), { host: 'queue.example', port: 6379, db: 0, username: undefined, password: 'pw' });
  assert.equal(parseQueueUrl('redis://[::1]:7000', {}).host, '::1');
});

test('a password in the queue URL is refused, because command lines are visible to every user', () => {
  assert.throws(() => parseQueueUrl('redis://:hunter2@10.0.0.5:6379', {}), (err: Error) => /MAILMIGRATE_REDIS_PASSWORD/.test(err.message) && !err.message.includes('hunter2'));
});

test('other schemes and bad databases are refused with the option named', () => {
  assert.throws(() => parseQueueUrl('http://10.0.0.5', {}), /--queue: expected redis:\/\//);
  assert.throws(() => parseQueueUrl('redis://h/x', {}), /--queue: database "x"/);
  assert.throws(() => parseQueueUrl('not a url', {}), /--queue: "not a url" is not a URL/);
});

test('a queue is named after its server, with no character BullMQ reserves', () => {
  assert.equal(queueName('imap.example.com:993'), 'mailmigrate.imap.example.com_993');
  assert.doesNotMatch(queueName('[::1]:143'), /:/);
});
