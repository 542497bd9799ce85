// The control plane's limits against a hostile or stuck server (issue 16, left from issue 13), over a real socket from
// a scripted fake server: a command that is never answered ends in a typed error within its deadline, a huge line or
// literal fails the connection instead of growing our memory, and IMAP ID names mailmigrate and its own version.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { TimeoutError } from '../../src/core/errors.js';
import { MAILMIGRATE_VERSION } from '../../src/mailbox/client-id.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { ControlTimeoutError } from '../../src/mailbox/control-session.js';
import { loadTls, type TlsMaterial } from '../../src/server/tls.js';

/** How the fake server answers one command line: a string to send (tagged reply included), or null to never answer. */
type Script = (tag: string, verb: string, line: string) => string | null;

const CAPS = 'IMAP4rev1 ID NAMESPACE AUTH=PLAIN';

/** The answers every session needs before the command under test; `then` decides the rest. */
function baseScript(then: Script): Script {
  return (tag, verb, line) => {
    if (verb === 'CAPABILITY') return `* CAPABILITY ${CAPS}\r\n${tag} OK done\r\n`;
    if (verb === 'LOGIN' || verb === 'AUTHENTICATE') return `${tag} OK [CAPABILITY ${CAPS}] logged in\r\n`;
    if (verb === 'ID') return `* ID ("name" "fake")\r\n${tag} OK done\r\n`;
    if (verb === 'NAMESPACE') return `* NAMESPACE (("" "/")) NIL NIL\r\n${tag} OK done\r\n`;
    if (verb === 'LOGOUT') return `* BYE bye\r\n${tag} OK done\r\n`;
    return then(tag, verb, line);
  };
}

/**
 * Starts the fake server (implicit TLS with `material`); every command line it received is kept in `lines`, the SNI
 * name of each TLS session in `sni`. Closed after the test.
 */
async function fakeServer(
  t: TestContext,
  script: Script,
  options: { caps?: string; material?: TlsMaterial } = {},
): Promise<{ port: number; lines: string[]; sni: Array<string | false> }> {
  const lines: string[] = [];
  const sni: Array<string | false> = [];
  const sockets = new Set<net.Socket>();
  const caps = options.caps ?? CAPS;
  const session = (sock: net.Socket): void => {
    if (sock instanceof tls.TLSSocket) sni.push((sock as tls.TLSSocket & { servername?: string | false }).servername ?? false);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write(`* OK [CAPABILITY ${caps}] fake ready\r\n`);
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        lines.push(line);
        const [tag = '', verb = ''] = line.split(' ');
        const uidVerb = verb.toUpperCase() === 'UID' ? `UID ${line.split(' ')[2]?.toUpperCase()}` : verb.toUpperCase();
        const out = script(tag, uidVerb, line);
        if (out !== null && !sock.destroyed) sock.write(out, 'latin1');
      }
    });
  };
  const server = options.material
    ? tls.createServer({ cert: options.material.cert, key: options.material.key }, session)
    : net.createServer(session);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, lines, sni };
}

const connect = (port: number, commandTimeoutMs = 300) =>
  ControlPlane.connect({ host: '127.0.0.1', port, secure: false, starttls: 'off', user: 'u', password: 'p', commandTimeoutMs, connectTimeoutMs: 2000 });

for (const [verb, call] of [
  ['STATUS', (p: ControlPlane) => p.status('Work')],
  ['LIST', (p: ControlPlane) => p.listFolders()],
  ['CREATE', (p: ControlPlane) => p.ensureFolder(['Work'])],
  ['SELECT', (p: ControlPlane) => p.permanentFlags('Work')],
] as const) {
  test(`a server that never answers ${verb} ends the call in a typed timeout within the deadline, and later calls fail fast`, { timeout: 20_000 }, async (t) => {
    const { port } = await fakeServer(t, baseScript((tag, v) => {
      if (v === verb) return null; // the command under test: never answered
      if (v === 'LIST') return `* LIST () "/" INBOX\r\n${tag} OK done\r\n`;
      return `${tag} OK done\r\n`;
    }));
    const plane = await connect(port);
    t.after(() => plane.close());
    const started = performance.now();
    const err = await call(plane).then(() => undefined, (e: unknown) => e);
    const elapsed = performance.now() - started;
    assert.ok(err instanceof ControlTimeoutError, `rejected with ${String(err)}`);
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.code, 'E_TIMEOUT');
    assert.equal(err.retry, 'now');
    assert.match(err.message, new RegExp(`${verb}.*no answer within 300 ms`));
    assert.ok(elapsed < 5_000, `settled after ${Math.round(elapsed)} ms`);
    await assert.rejects(plane.listFolders(), /E_CLOSED|already closed/);
  });
}

test('a server that greets and then never answers LOGIN ends connect() in a typed timeout', { timeout: 20_000 }, async (t) => {
  const { port } = await fakeServer(t, (tag, verb) => (verb === 'CAPABILITY' ? `* CAPABILITY ${CAPS}\r\n${tag} OK done\r\n` : null));
  const started = performance.now();
  await assert.rejects(connect(port, 300), (e: unknown) => e instanceof TimeoutError && /connect/.test(e.message));
  // greeting (2 s budget, unused) ×2 + the command deadline: well under the 5 s bound
  assert.ok(performance.now() - started < 6_000);
});

test('a server that sends an endless line fails the connection with a protocol error instead of buffering it', { timeout: 20_000 }, async (t) => {
  const chunk = 'x'.repeat(64 * 1024);
  const { port } = await fakeServer(t, baseScript((tag, v) => {
    // 4 MiB without a line end in answer to STATUS: over the 1 MiB line limit
    if (v === 'STATUS') return `* STATUS Work (MESSAGES ${chunk.repeat(64)}`;
    return `${tag} OK done\r\n`;
  }));
  const plane = await connect(port, 10_000);
  t.after(() => plane.close());
  const before = process.memoryUsage().rss;
  const err = await plane.status('Work').then(() => undefined, (e: unknown) => e as Error);
  assert.ok(err, 'STATUS rejected');
  assert.equal((err as { code?: string }).code, 'E_PROTOCOL', String(err));
  assert.match(err!.message, /oversized response during STATUS Work \(LineTooLarge\)/);
  assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
});

test('a literal announced larger than any message we accept fails the connection before it is read', { timeout: 20_000 }, async (t) => {
  const { port } = await fakeServer(t, baseScript((tag, v) => {
    if (v === 'UID FETCH') return `* 1 FETCH (UID 1 BODY[] {500000000}\r\n`;
    if (v === 'SELECT') return `* 1 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n${tag} OK [READ-WRITE] done\r\n`;
    return `${tag} OK done\r\n`;
  }));
  const plane = await connect(port, 10_000);
  t.after(() => plane.close());
  const started = performance.now();
  // 500 MB: under imapflow's own 1 GB default, over our 80 MiB bound
  const err = await plane.fetchBody('INBOX', 1).then(() => undefined, (e: unknown) => e as Error & { code?: string });
  assert.ok(err, 'the FETCH rejected');
  assert.equal(err.code, 'E_PROTOCOL', String(err));
  assert.match(err.message, /LiteralTooLarge/);
  assert.ok(performance.now() - started < 5_000);
});

test('IMAP ID names mailmigrate and its own version, and nothing of imapflow', { timeout: 20_000 }, async (t) => {
  const { port, lines } = await fakeServer(t, baseScript((tag) => `${tag} OK done\r\n`));
  const plane = await connect(port);
  await plane.close();
  const id = lines.find((l) => / ID /i.test(l));
  assert.ok(id, `an ID command was sent (lines: ${lines.join(' | ')})`);
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(MAILMIGRATE_VERSION, pkg.version);
  assert.match(id, /"name" "mailmigrate"/);
  assert.match(id, new RegExp(`"version" "${pkg.version.replace(/\./g, '\\.')}"`));
  assert.doesNotMatch(id, /imapflow|Postal Systems|support-url/i);
});

test('on a server offering UTF8=ACCEPT, the control plane still sends folder names in modified UTF-7, as the APPEND transport does', { timeout: 20_000 }, async (t) => {
  const caps = `${CAPS} ENABLE UTF8=ACCEPT`;
  const { port, lines } = await fakeServer(t, (tag, verb) => {
    if (verb === 'CAPABILITY') return `* CAPABILITY ${caps}\r\n${tag} OK done\r\n`;
    if (verb === 'LOGIN') return `${tag} OK [CAPABILITY ${caps}] logged in\r\n`;
    if (verb === 'ENABLE') return `* ENABLED UTF8=ACCEPT\r\n${tag} OK done\r\n`;
    if (verb === 'NAMESPACE') return `* NAMESPACE (("" "/")) NIL NIL\r\n${tag} OK done\r\n`;
    if (verb === 'LIST') return `* LIST () "/" INBOX\r\n${tag} OK done\r\n`;
    if (verb === 'LOGOUT') return `* BYE bye\r\n${tag} OK done\r\n`;
    return `${tag} OK done\r\n`;
  }, { caps });
  const plane = await connect(port);
  t.after(() => plane.close());
  assert.equal(await plane.ensureFolder(['Café']), 'Café');
  await plane.status('Café');
  assert.ok(!lines.some((l) => / ENABLE /i.test(l)), `no ENABLE sent: ${lines.join(' | ')}`);
  const create = lines.find((l) => / CREATE /i.test(l));
  assert.match(create ?? '', /CREATE "?Caf&AOk-"?$/, create);
  assert.match(lines.find((l) => / STATUS /i.test(l)) ?? '', /STATUS "?Caf&AOk-"? /);
  assert.ok(!lines.some((l) => /Café/.test(Buffer.from(l, 'latin1').toString('utf8'))), 'no UTF-8 name on the wire');
});

test('--servername reaches the control plane: sent as SNI, and the certificate is checked against it rather than --host', { timeout: 20_000 }, async (t) => {
  const { material } = await loadTls('self-signed');
  const { port, sni } = await fakeServer(t, baseScript((tag) => `${tag} OK done\r\n`), { material });
  const base = { host: '127.0.0.1', port, secure: true, user: 'u', password: 'p', ca: Buffer.from(material.cert), connectTimeoutMs: 2000, commandTimeoutMs: 2000 };
  const plane = await ControlPlane.connect({ ...base, servername: 'localhost' });
  await plane.close();
  assert.equal(sni[0], 'localhost');
  // The certificate is checked against that name, not the host: one it does not name is refused.
  await assert.rejects(ControlPlane.connect({ ...base, servername: 'mail.example.org' }), /certificate|E_TLS|altnames|mail\.example\.org/i);
});
