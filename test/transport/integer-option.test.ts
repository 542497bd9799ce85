import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { optionalIntegerOption, parseIntegerOption } from '../../src/cli/integer-option.js';
import { resolveTlsAndPort } from '../../src/cli/connection-options.js';

test('whole-number options accept decimal digits within bounds and refuse what Number() would quietly accept', () => {
  assert.equal(parseIntegerOption('--n', '42', 1, 100), 42);
  assert.equal(parseIntegerOption('--n', ' 7 ', 1, 100), 7);
  for (const bad of ['1e2', '0x10', '3.0', '', ' ', '-1', '0', '101', '12abc', '9'.repeat(20)]) {
    assert.throws(() => parseIntegerOption('--n', bad, 1, 100), (e: unknown) => e instanceof ConfigError && e.option === '--n', bad);
  }
  assert.equal(optionalIntegerOption('--n', undefined, 1, 100), undefined);
});

test('--port uses the one parser: "1e3" is not port 1000', () => {
  assert.equal(resolveTlsAndPort({ port: '143' }, 'mail.example.org').port, 143);
  assert.throws(() => resolveTlsAndPort({ port: '1e3' }, 'mail.example.org'), /--port: must be a whole number from 1 to 65535/);
});
