import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseReader } from '../../src/imap/response-reader.js';
import { parseFetch } from '../../src/migrate/bulk-index.js';

function fetchItems(wire: string): ReturnType<typeof parseFetch>[] {
  const items = new ResponseReader().push(Buffer.from(wire, 'latin1'));
  return items.map((i) => (i.kind === 'untagged' && i.type === 'FETCH' ? parseFetch(i) : undefined));
}

test('a FETCH response gives UID, size, flags and the Message-ID from a literal, whatever the item order', () => {
  const lit = (s: string): string => `{${Buffer.byteLength(s, 'latin1')}}\r\n${s}`;
  const [a, b] = fetchItems(
    `* 1 FETCH (UID 7 RFC822.SIZE 1234 FLAGS (\\Seen $Label1) BODY[HEADER.FIELDS (MESSAGE-ID)] ${lit('Message-ID: <a@example.org>\r\n\r\n')})\r\n` +
      `* 2 FETCH (FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] ${lit('Message-Id:\r\n <b@example.org>\r\n\r\n')} UID 9 RFC822.SIZE 55)\r\n`,
  );
  assert.deepEqual(a, { uid: 7, size: 1234, flags: ['\\Seen', '$Label1'], messageId: '<a@example.org>' });
  assert.deepEqual(b, { uid: 9, size: 55, flags: [], messageId: '<b@example.org>' });
});

test('a message without a Message-ID header (an empty literal or quoted string) has none; no UID or size is refused', () => {
  const [a, b, c] = fetchItems(
    '* 1 FETCH (UID 1 RFC822.SIZE 10 FLAGS (\\Seen) BODY[HEADER.FIELDS (MESSAGE-ID)] {2}\r\n\r\n)\r\n' +
      '* 2 FETCH (UID 2 RFC822.SIZE 11 FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] "")\r\n' +
      '* 3 FETCH (FLAGS (\\Seen))\r\n',
  );
  assert.deepEqual(a, { uid: 1, size: 10, flags: ['\\Seen'] });
  assert.deepEqual(b, { uid: 2, size: 11, flags: [] });
  assert.equal(c, undefined);
});
