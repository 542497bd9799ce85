import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/core/printable.js';

test('plain text, including non-ASCII names, comes back unchanged', () => {
  for (const s of ['INBOX', 'Entwürfe/2024', 'Café ☕ 日本語', 'Re: a b']) assert.equal(printable(s), s);
});

test('ESC sequences, CR, LF, DEL and C1 controls are written as visible escapes', () => {
  assert.equal(printable('\x1b[2J\x1b[HDone'), '\\x1b[2J\\x1b[HDone');
  assert.equal(printable('a\rb\nc\td\x7f\x00'), 'a\\rb\\nc\\td\\x7f\\x00');
  assert.equal(printable('x\x9b31my'), 'x\\x9b31my');
});

test('bidi overrides and Unicode line separators are escaped (a name cannot read backwards or split a line)', () => {
  assert.equal(printable('invoice\u202egpj.exe'), 'invoice\\u202egpj.exe');
  assert.equal(printable('a\u2028b\u2066c'), 'a\\u2028b\\u2066c');
});

test('keepNewlines keeps LF as a line break and still escapes everything else', () => {
  assert.equal(printable('line 1\nline 2\r\x1b[K', { keepNewlines: true }), 'line 1\nline 2\\r\\x1b[K');
});

test('calling it twice in a row gives the same answer (the global regex keeps no state between calls)', () => {
  assert.equal(printable('\x1bA'), '\\x1bA');
  assert.equal(printable('\x1bA'), '\\x1bA');
  assert.equal(printable('B'), 'B');
});
