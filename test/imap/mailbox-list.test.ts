import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/core/errors.js';
import { parseListResponse, parseNamespaceResponse } from '../../src/imap/mailbox-list.js';
import { type ResponseItem, ResponseReader } from '../../src/imap/response-reader.js';
import { parseValues } from '../../src/imap/response-values.js';
import { listedFolderInfo } from '../../src/mailbox/folder-info.js';

type Untagged = Extract<ResponseItem, { kind: 'untagged' }>;

/** The untagged responses the reader makes of `wire` (CRLF-terminated lines, literals included). */
function read(wire: string): Untagged[] {
  const items = new ResponseReader().push(Buffer.from(wire, 'utf8'));
  return items.filter((i): i is Untagged => i.kind === 'untagged');
}

describe('parseValues', () => {
  it('reads atoms, quoted strings with escapes, NIL and nested lists', () => {
    assert.deepEqual(parseValues('(\\HasNoChildren \\Sent) "/" "a \\"b\\" \\\\c"'), [['\\HasNoChildren', '\\Sent'], '/', 'a "b" \\c']);
    assert.deepEqual(parseValues('(("" "/")) NIL (("Other/" "/"))'), [[['', '/']], null, [['Other/', '/']]]);
    assert.deepEqual(parseValues('"NIL" nil NIL'), ['NIL', null, null], 'a quoted NIL is a string');
    assert.deepEqual(parseValues('()'), [[]]);
    assert.deepEqual(parseValues(''), []);
  });

  it('takes each literal placeholder for the next literal, in order', () => {
    const lits = [Buffer.from('Größe'), Buffer.from('b')];
    assert.deepEqual(parseValues('(\\X) "." {6} ~{1}', lits), [['\\X'], '.', 'Größe', 'b']);
  });

  it('refuses text that is not a sequence of values', () => {
    for (const bad of ['(\\X "/" a', '"unterminated', '"ends in escape\\', 'a) b', '{3}']) {
      assert.throws(() => parseValues(bad), ProtocolError, bad);
    }
  });
});

describe('parseListResponse', () => {
  it('reads attributes, delimiter and the name as listed: atom, quoted, literal', () => {
    const [a, b, c] = read('* LIST (\\HasNoChildren) "/" INBOX\r\n* LIST (\\Noselect \\HasChildren) "." "Archiv.2019"\r\n* LIST () "/" {11}\r\nName "with"\r\n');
    assert.deepEqual(parseListResponse(a!), { attributes: ['\\HasNoChildren'], delimiter: '/', wire: 'INBOX' });
    assert.deepEqual(parseListResponse(b!), { attributes: ['\\Noselect', '\\HasChildren'], delimiter: '.', wire: 'Archiv.2019' });
    assert.deepEqual(parseListResponse(c!), { attributes: [], delimiter: '/', wire: 'Name "with"' });
  });

  it('reads a NIL delimiter (a flat server) as empty', () => {
    const [a] = read('* LIST (\\HasNoChildren) NIL Notes\r\n');
    assert.equal(parseListResponse(a!).delimiter, '');
  });

  it('refuses what is not a LIST answer', () => {
    for (const line of ['* LIST "/" INBOX\r\n', '* LIST (\\X) "/"\r\n', '* LIST (\\X) "/" INBOX extra\r\n', '* LIST (\\X) "/" (INBOX)\r\n']) {
      assert.throws(() => parseListResponse(read(line)[0]!), ProtocolError, line);
    }
  });
});

describe('parseNamespaceResponse', () => {
  it('reads the personal namespaces: Dovecot, Courier, several, NIL, a NIL delimiter', () => {
    assert.deepEqual(parseNamespaceResponse(read('* NAMESPACE (("" "/")) NIL NIL\r\n')[0]!), [{ prefix: '', delimiter: '/' }]);
    assert.deepEqual(parseNamespaceResponse(read('* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))\r\n')[0]!), [{ prefix: 'INBOX.', delimiter: '.' }]);
    assert.deepEqual(parseNamespaceResponse(read('* NAMESPACE (("" "/")("#mh/" "/" "X-PARAM" ("FLAG1"))) NIL NIL\r\n')[0]!), [
      { prefix: '', delimiter: '/' },
      { prefix: '#mh/', delimiter: '/' },
    ]);
    assert.deepEqual(parseNamespaceResponse(read('* NAMESPACE NIL NIL NIL\r\n')[0]!), []);
    assert.deepEqual(parseNamespaceResponse(read('* NAMESPACE (("" NIL)) NIL NIL\r\n')[0]!), [{ prefix: '', delimiter: '' }]);
  });

  it('refuses what is not a NAMESPACE answer', () => {
    for (const line of ['* NAMESPACE (("" "/"))\r\n', '* NAMESPACE "x" NIL NIL\r\n', '* NAMESPACE (("")) NIL NIL\r\n', '* NAMESPACE ((("") "/")) NIL NIL\r\n']) {
      assert.throws(() => parseNamespaceResponse(read(line)[0]!), ProtocolError, line);
    }
  });
});

describe('listedFolderInfo: the control plane\'s reading of a LIST line', () => {
  const entry = (wire: string, attributes: string[] = [], delimiter = '/') => ({ wire, attributes, delimiter });

  it('decodes modified UTF-7 and keeps the wire form', () => {
    const f = listedFolderInfo(entry('Entw&APw-rfe', ['\\Drafts']), '')!;
    assert.equal(f.path, 'Entwürfe');
    assert.equal(f.wire, 'Entw&APw-rfe');
    assert.equal(f.specialUse, '\\Drafts');
    assert.deepEqual(f.name, ['Entwürfe']);
    assert.equal(listedFolderInfo(entry('A &- B'), '')!.path, 'A & B');
  });

  it('names INBOX in upper case, whatever case the server lists it in', () => {
    assert.equal(listedFolderInfo(entry('inbox'), '')!.path, 'INBOX');
    assert.equal(listedFolderInfo(entry('Inbox'), 'INBOX.')!.path, 'INBOX', 'INBOX does not take the prefix');
  });

  it('puts the namespace prefix in front of a name without it, as imapflow does, and drops a leading delimiter', () => {
    assert.equal(listedFolderInfo(entry('INBOX.Sent', [], '.'), 'INBOX.')!.path, 'INBOX.Sent');
    assert.equal(listedFolderInfo(entry('Sent', [], '.'), 'INBOX.')!.path, 'INBOX.Sent');
    assert.equal(listedFolderInfo(entry('/Sent'), '')!.path, 'Sent');
    assert.deepEqual(listedFolderInfo(entry('a/b/c'), '')!.name, ['a', 'b', 'c']);
    assert.deepEqual(listedFolderInfo(entry('a/b', [], ''), '')!.name, ['a/b'], 'no delimiter: one name');
  });

  it('reads special use only from the attributes, and \\NonExistent as \\Noselect', () => {
    assert.equal(listedFolderInfo(entry('Sent'), '')!.specialUse, undefined, 'never from the name');
    assert.equal(listedFolderInfo(entry('Gesendet', ['\\HasNoChildren', '\\sent']), '')!.specialUse, '\\sent');
    assert.deepEqual(listedFolderInfo(entry('Gone', ['\\NonExistent', '\\Subscribed']), '')!.flags, ['\\NonExistent', '\\Noselect']);
  });

  it('gives up on a name that is not valid modified UTF-7 (the control plane reads it then)', () => {
    assert.equal(listedFolderInfo(entry('Bad&AP-'), ''), undefined);
    assert.equal(listedFolderInfo(entry('Unterminated&APw'), ''), undefined);
  });
});
