import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLiteral, DEFAULT_PLUS_MAX_BYTES, literalPlusMaxForPath, validateLiteralMode } from '../../src/imap/literal-policy.js';
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

test('over a path, the LITERAL+ limit is what the path uploads in one round trip, in whole KiB, between the default and the ceiling', () => {
  const MiB = 1024 * 1024;
  // 40 ms × 15 000 bytes/ms = 600 000 bytes → 585 KiB.
  assert.equal(literalPlusMaxForPath(40, 15_000, 16 * MiB), 585 * 1024);
  // A LAN's product (0.5 ms × 12 500 bytes/ms ≈ 6 KB) stays at mbsync's 100 KiB: never below the floor.
  assert.equal(literalPlusMaxForPath(0.5, 12_500, 16 * MiB), DEFAULT_PLUS_MAX_BYTES);
  assert.equal(literalPlusMaxForPath(200, 1_000_000, 16 * MiB), 16 * MiB);
  assert.equal(literalPlusMaxForPath(40, 15_000, 16 * MiB, MiB), MiB, 'a floor above the product (a limit raised before) stands');
  for (const [rtt, bw] of [[0, 15_000], [40, 0], [Number.NaN, 1], [40, -5]] as const) {
    assert.equal(literalPlusMaxForPath(rtt, bw, 16 * MiB), DEFAULT_PLUS_MAX_BYTES, `${rtt} ${bw}`);
  }
  // The limit it gives is the one chooseLiteral applies: one byte more goes synchronizing.
  const limit = literalPlusMaxForPath(40, 15_000, 16 * MiB);
  const caps = { literalPlus: true, literalMinus: false };
  assert.equal(chooseLiteral('auto', caps, limit, limit), 'nonsync');
  assert.equal(chooseLiteral('auto', caps, limit + 1, limit), 'sync');
});
