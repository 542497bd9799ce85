// ControlPlane against a private, real Dovecot (test/helpers/dovecot.ts). Skipped, with the reason shown, where
// no dovecot binary exists. One plain instance and one TLS instance serve the whole file.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AuthError, ConnectError, MailmigrateError } from '../../src/core/errors.js';
import { ControlPlane, parseMessageIdHeader } from '../../src/mailbox/control-plane.js';
import { dovecotSkipReason, freePort, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';

const skip = dovecotSkipReason();
if (skip) console.log(`# control-plane Dovecot tests skipped: ${skip}`);

/** Appends raw bytes over a bare socket: the control plane deliberately has no APPEND. */
async function rawAppend(d: DovecotInstance, mailbox: string, data: string, flags = ''): Promise<string> {
  const sock = net.connect(d.port, '127.0.0.1');
  sock.setEncoding('latin1');
  let buf = '';
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(buf);
        if (m) {
          sock.off('data', onData);
          resolve(m[0]);
        }
      };
      const onData = (s: string) => {
        buf += s;
        check();
      };
      sock.on('data', onData);
      sock.once('error', reject);
      check();
    });
  try {
    await waitFor(/^\* OK.*\r\n/m);
    sock.write(`a LOGIN ${d.user} ${d.password}\r\n`);
    await waitFor(/^a OK.*\r\n/m);
    const body = Buffer.from(data, 'latin1');
    sock.write(`b APPEND "${mailbox}" (${flags}) {${body.length}+}\r\n`);
    sock.write(body);
    sock.write('\r\n');
    return await waitFor(/^b (OK|NO|BAD).*\r\n/m);
  } finally {
    sock.end('z LOGOUT\r\n');
    sock.destroy();
  }
}

function message(id: string, subject = 'hello'): string {
  return `From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\nMessage-ID: ${id}\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n\r\nbody of ${subject}\r\n`;
}

test('parseMessageIdHeader unfolds a folded header and returns the id', () => {
  assert.equal(parseMessageIdHeader('Message-ID:\r\n <x@y>\r\n\r\n'), '<x@y>');
  assert.equal(parseMessageIdHeader(Buffer.from('message-id: <a@b>  \r\n')), '<a@b>');
  assert.equal(parseMessageIdHeader('Subject: no id\r\n'), undefined);
});

describe('ControlPlane against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let cp: ControlPlane;

  before(async () => {
    d = await startDovecot({ specialUseMailboxes: true });
    cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  });
  after(async () => {
    await cp?.close();
    await d?.stop();
  });

  test('connect reads the post-login capabilities', () => {
    assert.ok(cp.capabilities.has('UIDPLUS'));
    assert.ok(cp.capabilities.has('MULTIAPPEND'));
    assert.ok(cp.capabilities.has('SPECIAL-USE'));
  });

  test('delimiter is the slash of a LAYOUT=fs maildir', async () => {
    assert.equal(await cp.delimiter(), '/');
  });

  test('ensureFolder creates missing parents, is idempotent, and keeps Unicode names', async () => {
    const path = await cp.ensureFolder(['Archiv', 'Größe & Co', '2023']);
    assert.equal(path, 'Archiv/Größe & Co/2023');
    assert.equal(await cp.ensureFolder(['Archiv', 'Größe & Co', '2023']), path);
    const folders = await cp.listFolders();
    const byPath = new Map(folders.map((f) => [f.path, f]));
    assert.ok(byPath.has('Archiv'), 'parent created');
    assert.ok(byPath.has('Archiv/Größe & Co'), 'middle created');
    const leaf = byPath.get(path)!;
    assert.deepEqual(leaf.name, ['Archiv', 'Größe & Co', '2023']);
    assert.equal(leaf.delimiter, '/');
    assert.equal(leaf.wire, 'Archiv/Gr&APYA3w-e &- Co/2023', 'modified UTF-7 on the wire (RFC 3501 §5.1.3)');
  });

  test('ensureFolder of INBOX or [] is INBOX and creates nothing', async () => {
    assert.equal(await cp.ensureFolder([]), 'INBOX');
    assert.equal(await cp.ensureFolder(['inbox']), 'INBOX');
  });

  test('ensureFolder refuses a name part that contains the delimiter', async () => {
    await assert.rejects(cp.ensureFolder(['a/b']), (err: unknown) => err instanceof MailmigrateError && err.code === 'E_FOLDER_NAME');
  });

  test('ensureFolder with a special use falls back to plain CREATE when CREATE-SPECIAL-USE is absent', async () => {
    assert.ok(!cp.capabilities.has('CREATE-SPECIAL-USE'), 'Dovecot 2.3 does not advertise it');
    const path = await cp.ensureFolder(['Sent'], '\\Sent');
    assert.equal(path, 'Sent');
    const sent = (await cp.listFolders()).find((f) => f.path === 'Sent');
    // The config declares Sent as \Sent, so the server reports it once the folder exists.
    assert.equal(sent?.specialUse, '\\Sent');
  });

  test('status counts messages and reports UIDNEXT and UIDVALIDITY', async () => {
    const path = await cp.ensureFolder(['Status']);
    const before = await cp.status(path);
    assert.equal(before.messages, 0);
    assert.ok(before.uidValidity > 0);
    assert.match(await rawAppend(d, path, message('<s1@test>')), /^b OK \[APPENDUID \d+ \d+\]/);
    const afterAppend = await cp.status(path);
    assert.equal(afterAppend.messages, 1);
    assert.equal(afterAppend.uidNext, before.uidNext + 1);
    assert.equal(afterAppend.uidValidity, before.uidValidity);
  });

  test('permanentFlags lists the system flags and allows new keywords', async () => {
    const pf = await cp.permanentFlags('INBOX');
    for (const f of ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft']) assert.ok(pf.flags.includes(f), f);
    assert.ok(!pf.flags.includes('\\*'));
    assert.equal(pf.anyKeyword, true);
  });

  test('findByMessageId matches the exact id only, not a longer id that contains it', async () => {
    const path = await cp.ensureFolder(['Find']);
    await rawAppend(d, path, message('<abc@test>'));
    await rawAppend(d, path, message('<xabc@test.more>'));
    await rawAppend(d, path, message('<abc@test>', 'duplicate'));
    const hits = await cp.findByMessageId(path, '<abc@test>');
    assert.equal(hits.length, 2);
    assert.ok(hits[0]!.uid < hits[1]!.uid);
    assert.ok(hits.every((h) => h.size > 0));
    assert.deepEqual(await cp.findByMessageId(path, 'abc@test'), hits, 'angle brackets are optional');
    assert.deepEqual(await cp.findByMessageId(path, '<nothing@test>'), []);
  });

  test('listMessages returns uid, size, Message-ID, flags and INTERNALDATE; fetchBody returns the stored bytes', async () => {
    const path = await cp.ensureFolder(['List']);
    assert.deepEqual(await cp.listMessages(path), []);
    const raw = message('<l1@test>', 'listed');
    await rawAppend(d, path, raw, '\\Seen $Label1');
    const list = await cp.listMessages(path);
    assert.equal(list.length, 1);
    const m = list[0]!;
    assert.equal(m.messageId, '<l1@test>');
    assert.equal(m.size, Buffer.byteLength(raw, 'latin1'));
    assert.ok(m.flags.includes('\\Seen'));
    assert.ok(m.flags.includes('$Label1'));
    assert.ok(m.internalDate instanceof Date && !Number.isNaN(m.internalDate.getTime()));
    const body = await cp.fetchBody(path, m.uid);
    assert.equal(body.toString('latin1'), raw);
    await assert.rejects(cp.fetchBody(path, m.uid + 1000), (err: unknown) => err instanceof MailmigrateError && err.code === 'E_NOT_FOUND');
  });

  test('deleteMessage expunges one UID and deleteFolder removes the folder', async () => {
    const path = await cp.ensureFolder(['Trashable']);
    await rawAppend(d, path, message('<d1@test>'));
    await rawAppend(d, path, message('<d2@test>'));
    const [first, second] = await cp.listMessages(path);
    await cp.deleteMessage(path, first!.uid);
    assert.deepEqual((await cp.listMessages(path)).map((m) => m.uid), [second!.uid]);
    await cp.deleteFolder(path);
    assert.ok(!(await cp.listFolders()).some((f) => f.path === path));
  });

  test('a refused connection is a ConnectError with retry later', async () => {
    const port = await freePort();
    await assert.rejects(
      ControlPlane.connect({ host: '127.0.0.1', port, secure: false, user: 'x', password: 'y', connectTimeoutMs: 5000 }),
      (err: unknown) => err instanceof ConnectError && err.code === 'E_CONNREFUSED' && err.retry === 'later',
    );
  });

  test('operations after close fail with E_CLOSED', async () => {
    const c = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    await c.close();
    await assert.rejects(c.listFolders(), (err: unknown) => err instanceof MailmigrateError && err.code === 'E_CLOSED');
  });

  // Last in the suite: after a failed login Dovecot's anvil delays further logins from 127.0.0.1 (auth penalty).
  test('a wrong password is an AuthError whose message does not contain the password', async () => {
    const secret = 'wrong-' + d.password;
    await assert.rejects(
      ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: secret }),
      (err: unknown) => {
        assert.ok(err instanceof AuthError, String(err));
        assert.equal(err.code, 'E_AUTH');
        assert.ok(!JSON.stringify({ m: err.message, s: err.stack }).includes(secret));
        return true;
      },
    );
  });
});

describe('ControlPlane over TLS against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let ca: Buffer;

  before(async () => {
    d = await startDovecot({ tls: true });
    ca = await readFile(d.caFile!);
  });
  after(async () => {
    await d?.stop();
  });

  test('a self-signed server with verification on is refused with a hint naming --ca and --insecure', async () => {
    await assert.rejects(
      ControlPlane.connect({ host: d.host, port: d.tlsPort!, secure: true, user: d.user, password: d.password }),
      (err: unknown) => {
        assert.ok(err instanceof ConnectError, String(err));
        assert.equal(err.code, 'E_TLS_UNTRUSTED');
        assert.match(err.message, /--ca/);
        assert.match(err.message, /--insecure/);
        return true;
      },
    );
  });

  test('implicit TLS works with the server CA passed as ca', async () => {
    const c = await ControlPlane.connect({ host: d.host, port: d.tlsPort!, secure: true, ca, user: d.user, password: d.password });
    try {
      assert.ok((await c.listFolders()).some((f) => f.path === 'INBOX'));
    } finally {
      await c.close();
    }
  });

  test('STARTTLS required upgrades the plain port, verified by the CA', async () => {
    const c = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'required', ca, user: d.user, password: d.password });
    try {
      assert.ok(c.capabilities.has('UIDPLUS'));
    } finally {
      await c.close();
    }
  });

  test('STARTTLS without the CA fails verification too', async () => {
    await assert.rejects(
      ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'required', user: d.user, password: d.password }),
      (err: unknown) => err instanceof ConnectError && err.code === 'E_TLS_UNTRUSTED',
    );
  });

  test('rejectUnauthorized false (--insecure) accepts the self-signed certificate', async () => {
    const c = await ControlPlane.connect({ host: d.host, port: d.tlsPort!, secure: true, rejectUnauthorized: false, user: d.user, password: d.password });
    await c.close();
  });
});
