import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import { type AppendItem, compileAppend, formatFlags, formatInternalDate, writeInternalDate } from '../../src/imap/compiler.js';

// compileAppend writes each message's header as bytes into one buffer per command (issue 14: bytes allocated per
// message). The wire must be exactly what the string form gave: these tests build the expected text with the
// string functions and compare byte for byte.

function wire(pieces: ReturnType<typeof compileAppend>['pieces']): Buffer {
  return Buffer.concat(pieces.flatMap((p) => (p.literal ? [p.text, p.literal.data] : [p.text])));
}

function expected(tag: string, box: string, items: AppendItem[], kinds: string[]): Buffer {
  const parts: Buffer[] = [];
  let text = `${tag} APPEND ${box}`;
  items.forEach((m, i) => {
    if (m.flags.length) text += ' ' + formatFlags(m.flags);
    if (m.internalDate) text += ` "${formatInternalDate(m.internalDate)}"`;
    text += ` ${m.binary ? '~' : ''}{${m.data.length}${kinds[i] === 'nonsync' ? '+' : ''}}\r\n`;
    parts.push(Buffer.from(text, 'latin1'), m.data);
    text = '';
  });
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

test('the INTERNALDATE written as bytes equals the formatted string for every day, month, hour and edge year', () => {
  const dates: Date[] = [];
  for (let t = Date.UTC(1999, 11, 31, 23, 59, 59); t < Date.UTC(2001, 1, 2); t += 86_400_000 + 3_723_000) dates.push(new Date(t));
  dates.push(new Date(Date.UTC(2024, 0, 2, 0, 0, 0)), new Date(Date.UTC(2024, 0, 10, 9, 5, 7)), new Date('0001-03-04T05:06:07Z'), new Date('0999-12-31T23:59:59Z'), new Date('9999-12-31T23:59:59Z'), new Date(0));
  const buf = Buffer.alloc(40);
  for (const d of dates) {
    const end = writeInternalDate(buf, 3, d);
    assert.equal(buf.toString('latin1', 3, end), formatInternalDate(d), d.toISOString());
  }
});

test('a date the string form refuses is refused as bytes too, with the same typed error', () => {
  const buf = Buffer.alloc(40);
  for (const d of [new Date(NaN), new Date('+010000-01-01T00:00:00Z'), new Date('-000001-01-01T00:00:00Z')]) {
    assert.throws(() => formatInternalDate(d), ConfigError);
    assert.throws(() => writeInternalDate(buf, 0, d), ConfigError);
    assert.throws(() => compileAppend('A1', 'INBOX', [{ flags: [], internalDate: d, data: Buffer.from('x') }], () => 'sync'), ConfigError);
  }
});

test('a MULTIAPPEND of messages of 0, 1 and 65536 bytes, with and without flags, dates, BINARY and LITERAL+, is byte-identical to the string form', () => {
  const big = Buffer.alloc(65536, 0x61);
  const items: AppendItem[] = [
    { flags: ['\\Seen'], internalDate: new Date(Date.UTC(2023, 4, 6, 7, 8, 9)), data: Buffer.alloc(0) },
    { flags: [], data: Buffer.from('x') },
    { flags: ['\\Seen', '\\Flagged', '$Forwarded', '\\seen'], internalDate: new Date(Date.UTC(2020, 11, 31, 23, 59, 59)), data: big },
    { flags: ['\\Draft'], data: Buffer.from('a\0b'), binary: true },
    { flags: ['\\Seen'], internalDate: new Date(Date.UTC(2001, 0, 1)), data: Buffer.from('Subject: y\r\n\r\nbody\r\n') },
  ];
  const kinds = ['sync', 'nonsync', 'sync', 'nonsync', 'nonsync'] as const;
  const c = compileAppend('A17', 'Archive/2020', items, (_size, i) => kinds[i]!);
  assert.deepEqual(wire(c.pieces), expected('A17', '"Archive/2020"', items, [...kinds]));
  assert.equal(c.literalBytes, 0 + 1 + 65536 + 3 + 20);
  assert.equal(c.pieces.length, items.length + 1);
  // Each piece's text is its own view: a transport writing them apart (split mode) sends the same bytes.
  assert.equal(c.pieces[1]!.text.toString('latin1'), ' {1+}\r\n');
  assert.equal(c.pieces[3]!.literal!.binary, true);
  assert.equal(c.pieces[5]!.text.toString('latin1'), '\r\n');
});

test('two commands compiled one after the other do not share or overwrite each other\'s header bytes', () => {
  const one = compileAppend('A1', 'INBOX', [{ flags: ['\\Seen'], internalDate: new Date(Date.UTC(2022, 1, 3, 4, 5, 6)), data: Buffer.from('one') }], () => 'sync');
  const before = wire(one.pieces);
  for (let i = 0; i < 200; i++) compileAppend(`A${i + 2}`, 'INBOX', [{ flags: ['\\Answered'], internalDate: new Date(i * 1e9), data: Buffer.from('two') }], () => 'nonsync');
  assert.deepEqual(wire(one.pieces), before);
  assert.equal(before.toString('latin1'), 'A1 APPEND INBOX (\\Seen) " 3-Feb-2022 04:05:06 +0000" {3}\r\none\r\n');
});

test('a bad flag is refused every time it is asked, not only the first (the one-flag cache keeps only valid lists)', () => {
  for (let i = 0; i < 3; i++) {
    assert.throws(() => compileAppend('A1', 'INBOX', [{ flags: ['bad flag'], data: Buffer.from('x') }], () => 'sync'), ConfigError);
    assert.throws(() => compileAppend('A1', 'INBOX', [{ flags: ['\\Recent'], data: Buffer.from('x') }], () => 'sync'), ConfigError);
  }
});

test('NUL bytes in a message not marked binary are refused as before', () => {
  assert.throws(() => compileAppend('A1', 'INBOX', [{ flags: [], data: Buffer.from('a\0b') }], () => 'sync'), /BINARY literal8/);
});
