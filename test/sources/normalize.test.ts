import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lfToCrlf, normalizeMessage, stripHeaderFields } from '../../src/sources/normalize.js';
import { headerBlockEnd, parseHeaderFields, parseMessageId, parseReceivedDate, parseRfc5322Date } from '../../src/sources/headers.js';
import { SourceError } from '../../src/core/errors.js';

test('bare LF becomes CRLF and an existing CRLF is never doubled', () => {
  const { data, converted } = lfToCrlf(Buffer.from('a\nb\r\nc\n\nd\r\n'));
  assert.equal(data.toString(), 'a\r\nb\r\nc\r\n\r\nd\r\n');
  assert.equal(converted, 3);
});

test('a buffer already in CRLF is returned as the same object', () => {
  const buf = Buffer.from('a\r\nb\r\n');
  assert.equal(lfToCrlf(buf).data, buf);
});

test('a leading LF and a lone CR are handled: LF converted, CR left as it is', () => {
  assert.equal(lfToCrlf(Buffer.from('\nx\ry\n')).data.toString(), '\r\nx\ry\r\n');
});

test('normalizing reads Message-ID and Date from the header block only', () => {
  const raw = Buffer.from('Subject: s\nMessage-ID:\n <id@x>\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\nMessage-ID: <body@x>\n');
  const n = normalizeMessage(raw, 'm');
  assert.equal(n.messageId, '<id@x>');
  assert.equal(n.date?.toISOString(), '2003-07-01T08:52:37.000Z');
  assert.equal(n.hasNul, false);
  assert.match(n.warnings.join(), /converted 6 bare LF/);
});

test('NUL bytes are flagged, not removed', () => {
  const n = normalizeMessage(Buffer.from('A: b\r\n\r\nx\0y\r\n'), 'm');
  assert.equal(n.hasNul, true);
  assert.equal(n.data.toString('latin1'), 'A: b\r\n\r\nx\0y\r\n');
});

test('empty and header-less input are refused with the origin and a specific code', () => {
  assert.throws(() => normalizeMessage(Buffer.alloc(0), '/p/empty'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_EMPTY' && e.message.startsWith('/p/empty: '));
  assert.throws(() => normalizeMessage(Buffer.from('hello world\n'), '/p/x'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_MESSAGE' && /header field/.test(e.message));
  assert.throws(() => normalizeMessage(Buffer.from('\nA: b\n'), '/p/y'), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_NOT_MESSAGE');
});

test('stripping header fields removes folded fields whole and leaves the body alone', () => {
  const raw = Buffer.from('A: 1\nX-UID: 7\n  folded\nB: 2\n\nX-UID: body\n');
  const s = stripHeaderFields(raw, new Set(['x-uid']));
  assert.equal(s.data.toString(), 'A: 1\nB: 2\n\nX-UID: body\n');
  assert.deepEqual(s.removed, ['x-uid']);
});

test('the header block ends at the first empty line, LF or CRLF', () => {
  assert.equal(headerBlockEnd(Buffer.from('A: b\n\nbody')), 6);
  assert.equal(headerBlockEnd(Buffer.from('A: b\r\n\r\nbody')), 8);
  assert.equal(headerBlockEnd(Buffer.from('A: b\r\nC: d\r\n')), -1);
  assert.deepEqual(parseHeaderFields(Buffer.from('A: b\r\n c\r\nD:e\r\n\r\nF: g\r\n')).map((f) => [f.name, f.value]), [['a', 'b c'], ['d', 'e']]);
});

test('dates: comments, named zones, two-digit years and garbage', () => {
  assert.equal(parseRfc5322Date('Fri, 1 Mar 2024 12:00:00 +0100 (CET)')?.toISOString(), '2024-03-01T11:00:00.000Z');
  assert.equal(parseRfc5322Date('1 Mar 2024 12:00:00 GMT')?.toISOString(), '2024-03-01T12:00:00.000Z');
  assert.equal(parseRfc5322Date('Mon, 3 Jan 99 10:00:00 EST')?.toISOString(), '1999-01-03T15:00:00.000Z');
  assert.equal(parseRfc5322Date('Mon, 3 Jan 05 10:00:00 +0000')?.getUTCFullYear(), 2005);
  assert.equal(parseRfc5322Date('not a date'), undefined);
  assert.equal(parseRfc5322Date(undefined), undefined);
  assert.equal(parseReceivedDate('from a by b; Sat, 2 Mar 2024 08:00:00 +0000')?.toISOString(), '2024-03-02T08:00:00.000Z');
  assert.equal(parseReceivedDate('from a by b'), undefined);
});

test('message ids keep their angle brackets; a bare id gets them', () => {
  assert.equal(parseMessageId(' <a@b> (comment)'), '<a@b>');
  assert.equal(parseMessageId('a@b'), '<a@b>');
  assert.equal(parseMessageId(''), undefined);
});
