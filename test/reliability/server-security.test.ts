// Issue 7, security of the embedded server: it listens on 127.0.0.1 unless told otherwise, and on any other
// listener it refuses LOGIN/AUTHENTICATE in clear text (RFC 3501 §6.2.3 LOGINDISABLED, RFC 5530 PRIVACYREQUIRED).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawClient } from '../server/raw-client.js';
import { withServer } from './harness.js';

test('the embedded server listens on 127.0.0.1 unless told otherwise', async (t) => {
  const s = await withServer(t);
  assert.equal(s.host, '127.0.0.1');
});

test('on a non-loopback listener without TLS, LOGIN and AUTHENTICATE are refused and LOGINDISABLED is announced', async (t) => {
  // 0.0.0.0 is not loopback; the test still connects over 127.0.0.1 only. Off loopback the server has no default
  // account (issue 13), so the test names one.
  const s = await withServer(t, { host: '0.0.0.0', users: { test: 'test' } });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('a CAPABILITY\r\n');
  await c.waitFor(/a OK/);
  assert.match(c.text(), /LOGINDISABLED/);
  c.send('b LOGIN test test\r\n');
  await c.waitFor(/b (NO|BAD)[^\r]*\r\n/);
  assert.match(c.text(), /b NO \[PRIVACYREQUIRED\]/);
  c.send('c AUTHENTICATE PLAIN AHRlc3QAdGVzdA==\r\n');
  await c.waitFor(/c (NO|BAD)[^\r]*\r\n/);
  assert.match(c.text(), /c NO \[PRIVACYREQUIRED\]/);
  assert.equal(s.stats.logins, 0);
});
