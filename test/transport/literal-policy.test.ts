import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLiteral, DEFAULT_PLUS_MAX_BYTES, validateLiteralMode } from '../../src/imap/literal-policy.js';
import { ConfigError } from '../../src/core/errors.js';

const both = { literalPlus: true, literalMinus: false };
const minusOnly = { literalPlus: false, literalMinus: true };
const none = { literalPlus: false, literalMinus: false };

test('auto uses LITERAL+ up to the cap and a synchronizing literal above it', () => {
  assert.equal(chooseLiteral('auto', both, 4096), 'nonsync');
  assert.equal(chooseLiteral('auto', both, DEFAULT_PLUS_MAX_BYTES), 'nonsync');
  assert.equal(chooseLiteral('auto', both, DEFAULT_PLUS_MAX_BYTES + 1), 'sync');
});

test('auto with only LITERAL- is non-synchronizing up to 4096 bytes (RFC 7888)', () => {
  assert.equal(chooseLiteral('auto', minusOnly, 4096), 'nonsync');
  assert.equal(chooseLiteral('auto', minusOnly, 4097), 'sync');
});

test('auto without either extension always synchronizes', () => {
  assert.equal(chooseLiteral('auto', none, 1), 'sync');
});

test('sync is always synchronizing, plus never is when offered', () => {
  assert.equal(chooseLiteral('sync', both, 1), 'sync');
  assert.equal(chooseLiteral('plus', both, 50_000_000), 'nonsync');
});

test('minus keeps the 4096-byte bound even on a LITERAL+ server', () => {
  assert.equal(chooseLiteral('minus', both, 4096), 'nonsync');
  assert.equal(chooseLiteral('minus', both, 4097), 'sync');
});

test('forcing a mode the server does not offer is a config error naming --literal', () => {
  assert.throws(() => validateLiteralMode('plus', minusOnly), (e: unknown) => e instanceof ConfigError && e.option === '--literal');
  assert.throws(() => validateLiteralMode('minus', none), ConfigError);
  validateLiteralMode('plus', both);
  validateLiteralMode('auto', none);
});
