import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalServer } from '../../src/migrate/account.js';

const table = (t: Record<string, string[]>) => async (h: string): Promise<string[]> => {
  const a = t[h];
  if (!a) throw new Error(`ENOTFOUND ${h}`);
  return a;
};

test('one server key however the host is spelled: localhost, 127.0.0.1, ::ffff:127.0.0.1, a name with a trailing dot', async () => {
  const resolve = table({ localhost: ['::1', '127.0.0.1'], 'mail.example.org': ['127.0.0.1'] });
  const keys = await Promise.all(['localhost', '127.0.0.1', '[::ffff:127.0.0.1]', 'mail.example.org'].map((h) => canonicalServer(h, 143, resolve)));
  assert.deepEqual(new Set(keys), new Set(['127.0.0.1:143']));
  assert.equal(await canonicalServer('[::1]', 993, resolve), '[::1]:993');
  assert.equal(await canonicalServer('Unknown.Example.', 143, resolve), 'unknown.example:143', 'unresolvable: the lower-cased name');
});

test('a resolver that never answers costs the deadline, not the run: the name becomes the key', async () => {
  const t0 = Date.now();
  const key = await canonicalServer('Slow.Example', 143, () => new Promise<string[]>(() => undefined), 50);
  assert.equal(key, 'slow.example:143');
  assert.ok(Date.now() - t0 < 2000);
});
