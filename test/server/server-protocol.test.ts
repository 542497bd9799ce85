import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loggedIn, rawClient, startTls, withServer } from './raw-client.js';


const MSG = 'Message-ID: <m1@example.org>\r\nSubject: Hello\r\n\r\nbody text\r\n';

test('the greeting and CAPABILITY advertise what the options enable', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 5000, capabilities: { literalPlus: false, literalMinus: true, binary: true, specialUse: true } });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  const greeting = c.text();
  assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL- NAMESPACE MULTIAPPEND UIDPLUS BINARY SPECIAL-USE CREATE-SPECIAL-USE UNSELECT ID APPENDLIMIT=5000\] /);
  assert.doesNotMatch(greeting, /STARTTLS|LITERAL\+/);
  c.send('a CAPABILITY\r\n');
  await c.waitFor(/a OK CAPABILITY completed\r\n/);
  assert.match(c.text(), /\* CAPABILITY IMAP4rev1 AUTH=PLAIN/);
});

test('LOGIN checks the password, and commands need authentication first', async (t) => {
  const s = await withServer(t, { users: { ann: 'secret' } });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('a LIST "" "*"\r\nb LOGIN ann wrong\r\nc LOGIN ann secret\r\nd LOGIN ann secret\r\n');
  await c.waitFor(/d BAD .*\r\n/);
  const text = c.text();
  assert.match(text, /a BAD Not authenticated\r\n/);
  assert.match(text, /b NO \[AUTHENTICATIONFAILED\] Authentication failed\r\n/);
  assert.match(text, /c OK \[CAPABILITY IMAP4rev1 LITERAL\+ .*\] Logged in\r\n/);
  assert.doesNotMatch(text, /secret|wrong/);
  assert.equal(s.stats.failedLogins, 1);
});

test('AUTHENTICATE PLAIN works with a continuation and with an initial response', async (t) => {
  const s = await withServer(t);
  const cred = Buffer.from('\0test\0test').toString('base64');
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('a AUTHENTICATE PLAIN\r\n');
  await c.waitFor(/\+ \r\n/);
  c.send(`${cred}\r\n`);
  await c.waitFor(/a OK \[CAPABILITY [^\]]+\] Logged in\r\n/);
  const d = await rawClient(s.port);
  t.after(() => d.close());
  d.send(`b AUTHENTICATE PLAIN ${Buffer.from('\0test\0nope').toString('base64')}\r\nc AUTHENTICATE PLAIN ${cred}\r\n`);
  await d.waitFor(/c OK .*\r\n/);
  assert.match(d.text(), /b NO \[AUTHENTICATIONFAILED\]/);
});

test('a synchronizing literal gets "+" and a non-synchronizing one does not; APPENDUID names the UIDs', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  const len = Buffer.byteLength(MSG);
  c.send(`a APPEND INBOX (\\Seen) {${len}}\r\n`);
  await c.waitFor(/\+ Ready for literal data\r\n/);
  c.send(`${MSG}\r\n`);
  await c.waitFor(/a OK \[APPENDUID \d+ 1\] APPEND completed\r\n/);
  const before = c.text().length;
  c.send(`b APPEND INBOX {${len}+}\r\n${MSG}\r\n`);
  await c.waitFor(/b OK \[APPENDUID \d+ 2\] APPEND completed\r\n/);
  assert.doesNotMatch(c.text().slice(before), /\+ Ready/);
  const box = s.store.get('INBOX')!;
  assert.equal(box.messages.length, 2);
  assert.deepEqual([...box.messages[0]!.flags], ['\\Seen']);
  assert.equal(s.store.body(box, box.messages[1]!).toString(), MSG);
});

test('MULTIAPPEND stores all messages with one uid-set, or none when one is invalid', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  const len = Buffer.byteLength(MSG);
  c.send(`a APPEND INBOX {${len}+}\r\n${MSG} (\\Bogus) {${len}+}\r\n${MSG}\r\n`);
  await c.waitFor(/a BAD .*\r\n/);
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
  c.send(`b APPEND INBOX {${len}+}\r\n${MSG} (\\Flagged) " 1-Feb-2020 10:00:00 +0100" {${len}+}\r\n${MSG} {${len}+}\r\n${MSG}\r\n`);
  await c.waitFor(/b OK \[APPENDUID \d+ 1:3\] APPEND completed\r\n/);
  const box = s.store.get('INBOX')!;
  assert.equal(box.messages.length, 3);
  assert.equal(box.messages[1]!.internalDate.toISOString(), '2020-02-01T09:00:00.000Z');
});

test('with only LITERAL- a non-synchronizing literal over 4096 bytes is BAD [TOOBIG] and the stream stays in sync', async (t) => {
  const s = await withServer(t, { capabilities: { literalPlus: false, literalMinus: true } });
  const c = await loggedIn(t, s);
  const big = 'Subject: x\r\n\r\n' + 'y'.repeat(5000);
  c.send(`a APPEND INBOX {${big.length}+}\r\n${big}\r\nb NOOP\r\nc APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\n`);
  await c.waitFor(/c OK .*\r\n/);
  assert.match(c.text(), /a BAD \[TOOBIG\] /);
  assert.match(c.text(), /b OK NOOP completed\r\n/);
  assert.equal(s.store.get('INBOX')!.messages.length, 1);
});

test('without LITERAL+ or LITERAL- a non-synchronizing literal is refused', async (t) => {
  const s = await withServer(t, { capabilities: { literalPlus: false } });
  const c = await loggedIn(t, s);
  c.send(`a APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\nb NOOP\r\n`);
  await c.waitFor(/b OK/);
  assert.match(c.text(), /a BAD Non-synchronizing literals are not enabled\r\n/);
});

test('APPENDLIMIT refuses a larger synchronizing literal before "+", and a missing mailbox gets TRYCREATE', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 100 });
  const c = await loggedIn(t, s);
  c.send('a APPEND INBOX {101}\r\n');
  await c.waitFor(/a NO \[TOOBIG\] .*\r\n/);
  c.send('b APPEND Nowhere {10}\r\n');
  await c.waitFor(/b NO \[TRYCREATE\] Mailbox does not exist\r\n/);
  c.send(`c APPEND Nowhere {${MSG.length}+}\r\n${MSG}\r\n`);
  await c.waitFor(/c NO \[TRYCREATE\]/);
  assert.doesNotMatch(c.text(), /\+ Ready/);
});

test('NUL needs a binary literal, which BINARY allows', async (t) => {
  const s = await withServer(t, { capabilities: { binary: true } });
  const c = await loggedIn(t, s);
  const data = 'Subject: n\r\n\r\na\0b\r\n';
  c.send(`a APPEND INBOX {${data.length}+}\r\n${data}\r\nb APPEND INBOX ~{${data.length}+}\r\n${data}\r\n`);
  await c.waitFor(/b OK/);
  assert.match(c.text(), /a NO \[UNKNOWN-CTE\]/);
  c.send('c SELECT INBOX\r\nd UID FETCH 1 BINARY.PEEK[]\r\n');
  await c.waitFor(/d OK/);
  assert.ok(c.text().includes(`BINARY[] ~{${data.length}}\r\n${data})`));
});

test('pipelined commands in one write are all answered, in order', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  let cmds = '';
  for (let i = 0; i < 50; i++) cmds += `n${i} APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\n`;
  c.send(cmds);
  await c.waitFor(/n49 OK .*\r\n/);
  const tags = [...c.text().matchAll(/^(n\d+) OK/gm)].map((m) => m[1]);
  assert.deepEqual(tags, Array.from({ length: 50 }, (_, i) => `n${i}`));
  assert.equal(s.stats.appended, 50);
});

test('mailbox commands: CREATE, LIST, LSUB, NAMESPACE, STATUS, SELECT, EXAMINE, DELETE, SPECIAL-USE', async (t) => {
  const s = await withServer(t, { capabilities: { specialUse: true } });
  const c = await loggedIn(t, s);
  c.send('a CREATE "Archive/2024"\r\nb CREATE Sent (USE (\\Sent))\r\nc CREATE Sent\r\nd LIST "" "*"\r\ne LIST "" "%"\r\n' +
    'f NAMESPACE\r\ng STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\nh LIST (SPECIAL-USE) "" "*"\r\n' +
    'i CREATE "K&AOk-se"\r\nj LSUB "" "*"\r\n');
  await c.waitFor(/j OK .*\r\n/);
  const text = c.text();
  assert.match(text, /c NO \[ALREADYEXISTS\]/);
  assert.match(text, /\* LIST \(\\HasChildren\) "\/" Archive\r\n/);
  assert.match(text, /\* LIST \(\\HasNoChildren\) "\/" Archive\/2024\r\n/);
  assert.match(text, /\* LIST \(\\HasNoChildren \\Sent\) "\/" Sent\r\n/);
  assert.doesNotMatch(text.slice(text.indexOf('d OK'), text.indexOf('e OK')), /Archive\/2024/);
  assert.match(text, /\* NAMESPACE \(\("" "\/"\)\) NIL NIL\r\n/);
  assert.match(text, /\* STATUS INBOX \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)\r\n/);
  assert.equal([...text.slice(text.indexOf('g OK'), text.indexOf('h OK')).matchAll(/\* LIST/g)].length, 1);
  assert.ok(s.store.get('Kése'), 'modified UTF-7 names are stored decoded');
  c.send('k SELECT Archive/2024\r\nl DELETE Archive/2024\r\no DELETE INBOX\r\nm EXAMINE INBOX\r\nn DELETE Archive/2024\r\np SELECT Nope\r\n');
  await c.waitFor(/p NO .*\r\n/);
  const t2 = c.text();
  assert.match(t2, /\* OK \[UIDVALIDITY \d+\] UIDs valid\r\n/);
  assert.match(t2, /k OK \[READ-WRITE\] SELECT completed/);
  assert.match(t2, /l NO \[INUSE\]/);
  assert.match(t2, /m OK \[READ-ONLY\] EXAMINE completed/);
  assert.match(t2, /n OK DELETE completed/);
  assert.match(t2, /o NO \[CANNOT\]/);
  assert.match(t2, /p NO \[NONEXISTENT\]/);
  assert.equal(s.store.get('Archive/2024'), undefined);
});

test('UID SEARCH and UID FETCH return byte-exact items; STORE and EXPUNGE delete a message', async (t) => {
  const s = await withServer(t);
  const m2 = 'Message-ID: <m2@example.org>\r\nSubject: Two\r\n\r\n' + 'z'.repeat(300) + '\r\n';
  s.store.append('INBOX', [{ data: Buffer.from(MSG), flags: [], internalDate: new Date('2024-01-02T03:04:05Z') }, { data: Buffer.from(m2), flags: ['\\Seen'] }]);
  const c = await loggedIn(t, s);
  c.send('s SELECT INBOX\r\na UID SEARCH HEADER Message-ID <m2@example.org>\r\nb UID SEARCH ALL\r\nc UID SEARCH LARGER 100\r\n' +
    'd UID SEARCH NOT SEEN\r\ne UID FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n' +
    'f UID FETCH 1:* (BODY.PEEK[])\r\n');
  await c.waitFor(/f OK .*\r\n/);
  const text = c.text();
  assert.match(text, /\* 2 EXISTS\r\n/);
  assert.match(text, /\* SEARCH 2\r\na OK/);
  assert.match(text, /\* SEARCH 1 2\r\nb OK/);
  assert.match(text, /\* SEARCH 2\r\nc OK/);
  assert.match(text, /\* SEARCH 1\r\nd OK/);
  const hdr = 'Message-ID: <m1@example.org>\r\n\r\n';
  assert.ok(text.includes(`* 1 FETCH (UID 1 FLAGS () INTERNALDATE " 2-Jan-2024 03:04:05 +0000" RFC822.SIZE ${MSG.length} BODY[HEADER.FIELDS (MESSAGE-ID)] {${hdr.length}}\r\n${hdr})\r\n`));
  assert.ok(text.includes(`* 2 FETCH (UID 2 BODY[] {${m2.length}}\r\n${m2})\r\n`));
  c.send('g UID STORE 1 +FLAGS (\\Deleted)\r\nh UID EXPUNGE 1\r\ni SEARCH ALL\r\nj STORE 1 +FLAGS.SILENT (\\Deleted)\r\nk EXPUNGE\r\n');
  await c.waitFor(/k OK .*\r\n/);
  const t2 = c.text();
  assert.match(t2, /\* 1 FETCH \(UID 1 FLAGS \(\\Deleted\)\)\r\ng OK/);
  assert.match(t2, /\* 1 EXPUNGE\r\nh OK/);
  assert.match(t2, /\* SEARCH 1\r\ni OK/);
  assert.match(t2, /\* 1 EXPUNGE\r\nk OK/);
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
});

test('a session sees messages appended by another session as EXISTS on NOOP', async (t) => {
  const s = await withServer(t);
  const a = await loggedIn(t, s);
  a.send('s SELECT INBOX\r\n');
  await a.waitFor(/s OK/);
  s.store.append('INBOX', [{ data: Buffer.from(MSG), flags: [] }]);
  a.send('n NOOP\r\n');
  await a.waitFor(/\* 1 EXISTS\r\nn OK/);
});

test('unknown commands and garbage are BAD, and an over-long line closes the connection', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  c.send('a FROB\r\nb UID FROB 1\r\n');
  await c.waitFor(/b BAD/);
  assert.match(c.text(), /a BAD Unknown command/);
  c.send('x'.repeat(70_000));
  await c.waitFor(/\* BYE Command line too long\r\n/);
  await c.closed();
});

test('LOGOUT says BYE, answers OK and closes', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  c.send('z LOGOUT\r\n');
  await c.waitFor(/\* BYE .*\r\nz OK LOGOUT completed\r\n/);
  await c.closed();
});

test('STARTTLS upgrades with a self-signed certificate and drops plaintext sent after it', async (t) => {
  const s = await withServer(t, { tls: 'self-signed' });
  assert.ok(String(s.certificate).includes('BEGIN CERTIFICATE'));
  const c = await rawClient(s.port);
  t.after(() => c.close());
  assert.match(c.text(), /STARTTLS/);
  const secure = await startTls(t, s, c, 'x LOGIN test test\r\n');
  secure.write('b CAPABILITY\r\nc LOGIN test test\r\n');
  await secure.until(/c OK/);
  assert.doesNotMatch(secure.text(), /STARTTLS|^x /m);
  assert.match(secure.text(), /c OK \[CAPABILITY/);
});

test('a listener that requires TLS for login says LOGINDISABLED and refuses LOGIN in the clear', async (t) => {
  const s = await withServer(t, { requireTlsForLogin: true });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  assert.match(c.text(), /LOGINDISABLED/);
  assert.doesNotMatch(c.text(), /AUTH=PLAIN/);
  c.send('a LOGIN test test\r\n');
  await c.waitFor(/a NO \[PRIVACYREQUIRED\]/);
});

test('a non-loopback host requires TLS for login by default', async () => {
  const { isLoopbackHost } = await import('../../src/server/server.js');
  assert.equal(isLoopbackHost('127.0.0.1'), true);
  assert.equal(isLoopbackHost('::1'), true);
  assert.equal(isLoopbackHost('0.0.0.0'), false);
  assert.equal(isLoopbackHost('192.168.1.2'), false);
});
