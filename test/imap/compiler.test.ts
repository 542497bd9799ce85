import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import {
  compileAppend,
  compileAuthenticate,
  compileLogin,
  compileSimple,
  encodeMailbox,
  encodeMailboxAsAtom,
  formatFlags,
  formatInternalDate,
  quoteString,
  saslPlain,
  TagGenerator,
  type CompiledCommand,
} from '../../src/imap/compiler.js';

/** The whole command as the server would receive it. */
function wire(c: CompiledCommand): string {
  return Buffer.concat(c.pieces.flatMap((p) => (p.literal ? [p.text, p.literal.data] : [p.text]))).toString('latin1');
}

const D = new Date(Date.UTC(2024, 0, 2, 3, 4, 5)); // 2 Jan 2024 03:04:05 UTC

describe('compileAppend', () => {
  it('writes a single APPEND with flags, date and a synchronizing literal as two pieces', () => {
    const c = compileAppend('A1', 'INBOX', [{ flags: ['\\Seen'], internalDate: D, data: Buffer.from('Hi\r\n') }], () => 'sync');
    assert.equal(c.tag, 'A1');
    assert.equal(c.verb, 'APPEND');
    assert.equal(c.literalBytes, 4);
    assert.equal(c.pieces.length, 2);
    assert.equal(c.pieces[0]!.text.toString(), 'A1 APPEND INBOX (\\Seen) " 2-Jan-2024 03:04:05 +0000" {4}\r\n');
    assert.deepEqual(c.pieces[0]!.literal, { data: Buffer.from('Hi\r\n'), kind: 'sync' });
    assert.equal(c.pieces[1]!.text.toString(), '\r\n');
    assert.equal(c.pieces[1]!.literal, undefined);
  });

  it('omits the flag list when empty and the date when undefined, and writes {n+} for nonsync', () => {
    const c = compileAppend('A2', 'inbox', [{ flags: [], data: Buffer.from('x') }], () => 'nonsync');
    assert.equal(wire(c), 'A2 APPEND INBOX {1+}\r\nx\r\n');
    assert.equal(c.pieces[0]!.literal!.kind, 'nonsync');
  });

  it('writes a MULTIAPPEND with per-message flags, dates and literal kinds chosen by size and index', () => {
    const seen: Array<[number, number]> = [];
    const c = compileAppend(
      'A3',
      'Archive',
      [
        { flags: ['\\Seen', '$Forwarded'], internalDate: D, data: Buffer.from('one') },
        { flags: [], data: Buffer.from('second') },
        { flags: ['\\Flagged'], internalDate: new Date(Date.UTC(2023, 11, 31, 23, 59, 59)), data: Buffer.from('3') },
      ],
      (size, index) => {
        seen.push([size, index]);
        return size > 3 ? 'sync' : 'nonsync';
      },
    );
    assert.deepEqual(seen, [[3, 0], [6, 1], [1, 2]]);
    assert.equal(c.literalBytes, 10);
    assert.equal(c.pieces.length, 4);
    assert.equal(
      wire(c),
      'A3 APPEND "Archive" (\\Seen $Forwarded) " 2-Jan-2024 03:04:05 +0000" {3+}\r\none' +
        ' {6}\r\nsecond' +
        ' (\\Flagged) "31-Dec-2023 23:59:59 +0000" {1+}\r\n3' +
        '\r\n',
    );
  });

  it('writes binary messages as literal8 ~{n} and ~{n+}, and lets them carry NUL bytes', () => {
    const data = Buffer.from([0x61, 0x00, 0x62]);
    const c = compileAppend('A4', 'INBOX', [{ flags: [], data, binary: true }], () => 'nonsync');
    assert.equal(c.pieces[0]!.text.toString(), 'A4 APPEND INBOX ~{3+}\r\n');
    assert.deepEqual(c.pieces[0]!.literal, { data, kind: 'nonsync', binary: true });
    const s = compileAppend('A5', 'INBOX', [{ flags: [], data, binary: true }], () => 'sync');
    assert.equal(s.pieces[0]!.text.toString(), 'A5 APPEND INBOX ~{3}\r\n');
  });

  it('refuses NUL bytes in a message not marked binary, and an empty batch', () => {
    assert.throws(() => compileAppend('A6', 'INBOX', [{ flags: [], data: Buffer.from([0x61, 0]) }], () => 'sync'), ConfigError);
    assert.throws(() => compileAppend('A7', 'INBOX', [], () => 'sync'), ConfigError);
  });

  it('encodes non-ASCII mailbox names in modified UTF-7 and escapes quotes and backslashes', () => {
    const c = compileAppend('A8', 'Entwürfe/"Alt" \\ & 日本', [{ flags: [], data: Buffer.from('x') }], () => 'sync');
    assert.equal(c.pieces[0]!.text.toString(), 'A8 APPEND "Entw&APw-rfe/\\"Alt\\" \\\\ &- &ZeVnLA-" {1}\r\n');
  });

  it('refuses bad flags and bad tags', () => {
    const m = (flags: string[]) => [{ flags, data: Buffer.from('x') }];
    assert.throws(() => compileAppend('A9', 'INBOX', m(['bad flag']), () => 'sync'), ConfigError);
    assert.throws(() => compileAppend('A9', 'INBOX', m(['(x']), () => 'sync'), ConfigError);
    assert.throws(() => compileAppend('A+9', 'INBOX', m([]), () => 'sync'), ConfigError);
    assert.throws(() => compileAppend('', 'INBOX', m([]), () => 'sync'), ConfigError);
  });
});

describe('compileSimple', () => {
  it('quotes string arguments and writes atoms raw', () => {
    const c = compileSimple('A1', 'CREATE', ['Sent Items']);
    assert.equal(wire(c), 'A1 CREATE "Sent Items"\r\n');
    assert.equal(c.pieces.length, 1);
    assert.equal(c.literalBytes, 0);
    assert.equal(wire(compileSimple('A2', 'SELECT', [{ atom: encodeMailbox('My "Box"') }])), 'A2 SELECT "My \\"Box\\""\r\n');
    assert.equal(wire(compileSimple('A3', 'NOOP')), 'A3 NOOP\r\n');
    assert.equal(wire(compileSimple('A4', 'UID SEARCH', [{ atom: 'ALL' }])), 'A4 UID SEARCH ALL\r\n');
  });

  it('sends strings with CR, LF or 8-bit characters, and explicit buffers, as literals', () => {
    const c = compileSimple('A5', 'SEARCH', [{ atom: 'CHARSET' }, { atom: 'UTF-8' }, { atom: 'SUBJECT' }, 'Grüße', { literal: Buffer.from('a\r\nb') }]);
    assert.equal(c.pieces.length, 3);
    assert.equal(c.pieces[0]!.text.toString(), 'A5 SEARCH CHARSET UTF-8 SUBJECT {7}\r\n');
    assert.equal(c.pieces[0]!.literal!.data.toString('utf8'), 'Grüße');
    assert.equal(c.pieces[1]!.text.toString(), ' {4}\r\n');
    assert.equal(c.pieces[2]!.text.toString(), '\r\n');
    assert.equal(c.literalBytes, 11);
    const plus = compileSimple('A6', 'LOGIN', ['u', 'p\n'], () => 'nonsync');
    assert.equal(wire(plus), 'A6 LOGIN "u" {2+}\r\np\n\r\n');
  });

  it('refuses atoms that would end the command and verbs that are not names', () => {
    assert.throws(() => compileSimple('A7', 'SELECT', [{ atom: 'a\r\nA8 LOGOUT' }]), ConfigError);
    assert.throws(() => compileSimple('A7', 'SELECT\r\n'), ConfigError);
  });
});

describe('string, mailbox, date and flag formatting', () => {
  it('quotes strings escaping backslash and double quote, and refuses CR, LF and NUL', () => {
    assert.equal(quoteString(''), '""');
    assert.equal(quoteString('a"b\\c'), '"a\\"b\\\\c"');
    assert.throws(() => quoteString('a\r\nb'), TypeError);
    assert.throws(() => quoteString('a\0'), TypeError);
  });

  it('writes INBOX in any case as the bare atom INBOX and other names quoted in modified UTF-7', () => {
    assert.equal(encodeMailbox('InBoX'), 'INBOX');
    assert.equal(encodeMailbox('INBOX/Sub'), '"INBOX/Sub"');
    assert.equal(encodeMailbox('Boîte'), '"Bo&AO4-te"');
    assert.equal(encodeMailbox('A&B'), '"A&-B"');
    assert.throws(() => encodeMailbox(''), ConfigError);
  });

  it('writes a name as imapflow does for the folder survey: an atom where every character may be in one, else quoted', () => {
    assert.equal(encodeMailboxAsAtom('inbox'), 'INBOX');
    assert.equal(encodeMailboxAsAtom('Archive/2019'), 'Archive/2019');
    assert.equal(encodeMailboxAsAtom('INBOX.~backup'), 'INBOX.~backup', 'as imapflow sends it, so both reach the same folder');
    assert.equal(encodeMailboxAsAtom('Boîte'), 'Bo&AO4-te');
    for (const [name, wire] of [['a b', '"a b"'], ['a%b', '"a%b"'], ['a*', '"a*"'], ['x(y)', '"x(y)"'], ['a{1}', '"a{1}"'], ['q"t', '"q\\"t"'], ['b\\s', '"b\\\\s"'], ['r]', '"r]"'], ['tab\there', 'tab&AAk-here']]) {
      assert.equal(encodeMailboxAsAtom(name!), wire, name);
    }
    assert.equal(encodeMailboxAsAtom('\\Seen'), '\\Seen', 'a leading backslash aside, as imapflow checks it');
    assert.throws(() => encodeMailboxAsAtom(''), ConfigError);
  });

  it('formats internal dates with a space-padded day, zero-padded time and the zone offset', () => {
    assert.equal(formatInternalDate(D), ' 2-Jan-2024 03:04:05 +0000');
    assert.equal(formatInternalDate(new Date(Date.UTC(1999, 11, 31, 23, 0, 9))), '31-Dec-1999 23:00:09 +0000');
    // -05:00: the wall clock moves back across midnight into the previous day and year.
    assert.equal(formatInternalDate(new Date(Date.UTC(2024, 0, 1, 2, 30, 0)), -300), '31-Dec-2023 21:30:00 -0500');
    assert.equal(formatInternalDate(new Date(Date.UTC(2024, 5, 9, 20, 0, 0)), 330), '10-Jun-2024 01:30:00 +0530');
    assert.throws(() => formatInternalDate(new Date('nope')), ConfigError);
    assert.throws(() => formatInternalDate(new Date(Date.UTC(10000, 0, 1))), ConfigError);
    assert.throws(() => formatInternalDate(D, 0.5), ConfigError);
  });

  it('formats flag lists, drops duplicates, and refuses non-atoms and \\Recent', () => {
    assert.equal(formatFlags(['\\Seen', '$Forwarded', 'Junk']), '(\\Seen $Forwarded Junk)');
    assert.equal(formatFlags(['\\Seen', '\\SEEN', '\\Answered']), '(\\Seen \\Answered)');
    assert.equal(formatFlags([]), '()');
    for (const bad of ['', 'a b', 'x(', 'q"', 'p%', 'st*r', 'br]', 'back\\slash', '\\', 'ünï', 'a\r', '\\Recent']) {
      assert.throws(() => formatFlags([bad]), ConfigError, JSON.stringify(bad));
      assert.throws(() => formatFlags(['\\Seen', bad]), ConfigError, JSON.stringify(bad));
    }
  });
});

describe('tags and authentication', () => {
  it('generates distinct short tags with a prefix', () => {
    const g = new TagGenerator();
    const tags = Array.from({ length: 1000 }, () => g.next());
    assert.equal(new Set(tags).size, 1000);
    assert.equal(tags[0], 'A1');
    assert.equal(new TagGenerator('C7.').next(), 'C7.1');
    assert.throws(() => new TagGenerator('a b'), ConfigError);
  });

  it('marks LOGIN and AUTHENTICATE as sensitive and writes SASL-IR initial responses in base64', () => {
    const login = compileLogin('A1', 'alice', 'p"w');
    assert.equal(login.sensitive, true);
    assert.equal(wire(login), 'A1 LOGIN "alice" "p\\"w"\r\n');
    const auth = compileAuthenticate('A2', 'plain', saslPlain('alice', 'secret'));
    assert.equal(auth.sensitive, true);
    assert.equal(wire(auth), `A2 AUTHENTICATE PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}\r\n`);
    assert.equal(wire(compileAuthenticate('A3', 'PLAIN', Buffer.alloc(0))), 'A3 AUTHENTICATE PLAIN =\r\n');
    assert.equal(wire(compileAuthenticate('A4', 'XOAUTH2')), 'A4 AUTHENTICATE XOAUTH2\r\n');
    assert.equal(compileSimple('A5', 'NOOP').sensitive, undefined);
  });
});
