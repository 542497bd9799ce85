import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthError, ConfigError } from '../../src/core/errors.js';
import { parseCapabilities } from '../../src/imap/capabilities.js';
import { authCommand, chooseMechanism } from '../../src/transport/auth.js';

const caps = (s: string) => parseCapabilities(`IMAP4rev1 ${s}`);

test('the mechanism is XOAUTH2 with a token, PLAIN when offered, LOGIN otherwise, or what the caller forced', () => {
  assert.equal(chooseMechanism({ user: 'a', accessToken: 't' }, caps('AUTH=PLAIN')), 'XOAUTH2');
  assert.equal(chooseMechanism({ user: 'a', password: 'p' }, caps('AUTH=PLAIN')), 'PLAIN');
  assert.equal(chooseMechanism({ user: 'a', password: 'p' }, caps('')), 'LOGIN');
  assert.equal(chooseMechanism({ user: 'a', password: 'p', mechanism: 'LOGIN' }, caps('AUTH=PLAIN')), 'LOGIN');
});

test('PLAIN with SASL-IR sends the RFC 4616 initial response in the command itself', () => {
  const step = authCommand({ user: 'alice', password: 'pw' }, caps('AUTH=PLAIN SASL-IR'));
  assert.equal(step.verb, 'AUTHENTICATE');
  assert.deepEqual(step.args, [{ atom: 'PLAIN' }, { atom: Buffer.from('\0alice\0pw').toString('base64') }]);
});

test('without SASL-IR the initial response answers the first "+", and later ones get an empty line', () => {
  const step = authCommand({ user: 'alice', accessToken: 'tok' }, caps('AUTH=XOAUTH2'));
  assert.deepEqual(step.args, [{ atom: 'XOAUTH2' }]);
  const first = step.onContinuation!('').toString();
  assert.equal(Buffer.from(first.trim(), 'base64').toString(), 'user=alice\x01auth=Bearer tok\x01\x01');
  assert.equal(step.onContinuation!('eyJzdGF0dXMiOiI0MDAifQ==').toString(), '\r\n', 'after an XOAUTH2 error the client sends an empty line');
});

test('LOGIN is refused locally under LOGINDISABLED and without a password', () => {
  assert.throws(() => authCommand({ user: 'a', password: 'p' }, caps('LOGINDISABLED')), AuthError);
  assert.throws(() => authCommand({ user: 'a' }, caps('')), ConfigError);
  assert.throws(() => authCommand({ user: 'a', mechanism: 'XOAUTH2' }, caps('')), ConfigError);
});
