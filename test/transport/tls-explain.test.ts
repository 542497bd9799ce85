// TLS that explains itself (issue 13): the wrong TLS mode for a port, a certificate for another name, a --ca that
// does not verify — each ends quickly with a typed error that names the flag to use. Raw `net`/`tls` servers give
// the exact behaviour; the same situations run against a private Dovecot's plain and implicit-TLS ports.
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ConfigError, ConnectError } from '../../src/core/errors.js';
import { resolveTarget } from '../../src/cli/connection-options.js';
import { loadTls, type TlsMaterial } from '../../src/server/tls.js';
import { Connection, type ConnectionOptions } from '../../src/transport/connection.js';
import { type DovecotInstance, dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';

type After = { after(fn: () => unknown): void };
const GREETING = '* OK [CAPABILITY IMAP4rev1] test server ready\r\n';

/** Answers like a tiny IMAP server on any socket: greeting, then OK to every command, BYE on LOGOUT. */
function speakImap(sock: net.Socket): void {
  sock.on('error', () => undefined);
  sock.write(GREETING);
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    let nl: number;
    while ((nl = buf.indexOf('\r\n')) >= 0) {
      const [tag, verb] = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 2);
      if (verb?.toUpperCase() === 'LOGOUT') sock.end(`* BYE bye\r\n${tag} OK done\r\n`);
      else sock.write(`${tag} OK done\r\n`);
    }
  });
}

async function listen(t: After, srv: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  srv.on('secureConnection', (s: net.Socket) => sockets.add(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return (srv.address() as net.AddressInfo).port;
}

let material: TlsMaterial;
let otherMaterial: TlsMaterial;
before(async () => {
  material = (await loadTls('self-signed')).material;
  otherMaterial = (await loadTls('self-signed')).material;
});

const tlsServer = (t: After, m: TlsMaterial): Promise<number> => listen(t, tls.createServer({ cert: m.cert, key: m.key }, speakImap));
const plainServer = (t: After): Promise<number> => listen(t, net.createServer(speakImap));

async function openError(o: ConnectionOptions): Promise<Error> {
  try {
    const c = await Connection.open(o);
    await c.close();
  } catch (err) {
    return err as Error;
  }
  assert.fail('the connection opened');
}

test('--tls to a plain IMAP port says to use --starttls instead of printing an OpenSSL error', async (t) => {
  const port = await plainServer(t);
  const err = await openError({ host: '127.0.0.1', port, tls: 'implicit' });
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.code, 'E_TLS_MODE');
  assert.match(err.message, /answered in plain text where a TLS handshake was expected.*use --starttls/);
});

for (const mode of ['none', 'starttls'] as const) {
  test(`plain IMAP (${mode}) to an implicit-TLS port says to use --tls within seconds, not after the greeting timeout`, async (t) => {
    const port = await tlsServer(t, material);
    const started = Date.now();
    const err = await openError({ host: '127.0.0.1', port, tls: mode, timeouts: { greetingMs: 30_000, connectMs: 30_000 } });
    const ms = Date.now() - started;
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, 'E_TLS_MODE');
    assert.match(err.message, /implicit-TLS port; use --tls/);
    assert.ok(ms < 5000, `took ${ms} ms`);
  });
}

test('a server that is merely slow to greet is still waited for (the TLS probe finds no TLS)', async (t) => {
  const port = await listen(t, net.createServer((s) => setTimeout(() => speakImap(s), 2000)));
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', timeouts: { greetingMs: 8000 } });
  await c.close();
});

test('a certificate for another name names its subject and names and the expected name, and does not blame --ca', async (t) => {
  const port = await tlsServer(t, material);
  const err = await openError({ host: '127.0.0.1', port, tls: 'implicit', ca: Buffer.from(material.cert), servername: 'mail.example.org' });
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.code, 'E_TLS_NAME');
  assert.match(err.message, /not for "mail\.example\.org"/);
  assert.match(err.message, /CN=localhost/);
  assert.match(err.message, /DNS:localhost/);
  assert.match(err.message, /--servername/);
  assert.doesNotMatch(err.message, /--ca/);
});

test('an untrusted certificate with --ca given says that CA did not verify it, not "pass --ca"', async (t) => {
  const port = await tlsServer(t, material);
  const withCa = await openError({ host: '127.0.0.1', port, tls: 'implicit', ca: Buffer.from(otherMaterial.cert), servername: 'localhost' });
  assert.equal((withCa as ConnectError).code, 'E_TLS_VERIFY');
  assert.match(withCa.message, /the CA given with --ca did not verify it/);
  assert.doesNotMatch(withCa.message, /give its CA with --ca/);
  const without = await openError({ host: '127.0.0.1', port, tls: 'implicit', servername: 'localhost' });
  assert.match(without.message, /give its CA with --ca FILE, or skip verification with --insecure/);
});

test('--servername is sent as SNI and the certificate is checked against it', async (t) => {
  let sni: string | undefined;
  const srv = tls.createServer({ cert: material.cert, key: material.key }, (s) => {
    sni = (s as tls.TLSSocket & { servername?: string }).servername;
    speakImap(s);
  });
  const port = await listen(t, srv);
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'implicit', ca: Buffer.from(material.cert), servername: 'localhost' });
  await c.close();
  assert.equal(sni, 'localhost');
});

test('the --servername option is parsed, checked and passed on; it makes no sense with --plain', async () => {
  const io = { env: { MAILMIGRATE_PASSWORD: 'pw' } };
  const t = await resolveTarget({ host: '192.0.2.7', user: 'u', tls: true, servername: 'Mail.Example.org' }, io);
  assert.equal(t?.servername, 'mail.example.org');
  await assert.rejects(resolveTarget({ host: '192.0.2.7', user: 'u', tls: true, servername: 'bad name!' }, io), ConfigError);
  await assert.rejects(resolveTarget({ host: '192.0.2.7', user: 'u', tls: true, servername: '10.0.0.1' }, io), ConfigError);
  await assert.rejects(resolveTarget({ host: '127.0.0.1', user: 'u', plain: true, servername: 'localhost' }, io), /has no effect with --plain/);
  await assert.rejects(resolveTarget({ servername: 'localhost' }, io), /needs --host/);
});

const skip = dovecotSkipReason();
describe('the wrong TLS mode against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let ca: Buffer;
  before(async () => {
    d = await startDovecot({ tls: true });
    ca = readFileSync(d.caFile!);
  });
  after(() => d?.stop());
  const auth = () => ({ user: d.user, password: d.password });

  test('plain IMAP to Dovecot\'s implicit-TLS port: "use --tls", quickly', async () => {
    const started = Date.now();
    const err = await openError({ host: d.host, port: d.tlsPort!, tls: 'none', auth: auth(), timeouts: { greetingMs: 30_000 } });
    assert.equal((err as ConnectError).code, 'E_TLS_MODE', err.message);
    assert.ok(Date.now() - started < 5000);
  });

  test('--tls to Dovecot\'s plain port: "use --starttls"', async () => {
    const err = await openError({ host: d.host, port: d.port, tls: 'implicit', ca, auth: auth() });
    assert.equal((err as ConnectError).code, 'E_TLS_MODE', err.message);
  });

  test('STARTTLS and implicit TLS with --servername localhost succeed; another name is explained', async () => {
    for (const [tlsMode, port] of [['starttls', d.port], ['implicit', d.tlsPort!]] as const) {
      const c = await Connection.open({ host: d.host, port, tls: tlsMode, ca, servername: 'localhost', auth: auth() });
      await c.close();
      const err = await openError({ host: d.host, port, tls: tlsMode, ca, servername: 'imap.example.net', auth: auth() });
      assert.equal((err as ConnectError).code, 'E_TLS_NAME', err.message);
      assert.match(err.message, /CN=localhost/);
    }
  });
});
