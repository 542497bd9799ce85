import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityList } from '../../src/server/capability-list.js';

const caps = { literalPlus: true, literalMinus: false, multiappend: true, uidplus: true, binary: false, specialUse: false, saslIr: true, namespace: true, id: true, unselect: true };

test('before login the list offers STARTTLS and authentication; after login it does not', () => {
  const pre = capabilityList(caps, { authenticated: false, startTlsOffered: true, loginDisabled: false, maxMessageBytes: undefined });
  assert.match(pre, /^IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL\+ /);
  const post = capabilityList(caps, { authenticated: true, startTlsOffered: true, loginDisabled: false, maxMessageBytes: 1000 });
  assert.doesNotMatch(post, /STARTTLS|AUTH=|SASL-IR/);
  assert.match(post, /MULTIAPPEND UIDPLUS .*APPENDLIMIT=1000$/);
});

test('LOGINDISABLED replaces the mechanisms when clear-text login is refused, and LITERAL- appears only without LITERAL+', () => {
  const s = capabilityList({ ...caps, literalPlus: false, literalMinus: true }, { authenticated: false, startTlsOffered: true, loginDisabled: true, maxMessageBytes: undefined });
  assert.match(s, /LOGINDISABLED/);
  assert.doesNotMatch(s, /AUTH=PLAIN/);
  assert.match(s, /LITERAL-/);
  assert.doesNotMatch(s, /LITERAL\+/);
});
