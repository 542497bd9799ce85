import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../../src/server/server.js';
import { Connection } from '../../src/transport/connection.js';
import { AuthError } from '../../src/core/errors.js';

const SECRET = 's3cr3t-Passw0rd';

async function withServer<T>(opts: Parameters<typeof startServer>[0], fn: (port: number) => Promise<T>): Promise<T> {
  const s = await startServer({ users: { alice: SECRET }, ...opts });
  try {
    return await fn(s.port);
  } finally {
    await s.close();
  }
}

test('AUTHENTICATE PLAIN with SASL-IR logs in in one round trip and re-reads capabilities', async () => {
  await withServer({}, async (port) => {
    const records: string[] = [];
    const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', auth: { user: 'alice', password: SECRET }, onRecord: (r) => records.push(r.verb) });
    try {
      assert.ok(c.capabilities.multiappend, 'post-login capabilities known');
      assert.equal(records.filter((v) => v === 'AUTHENTICATE').length, 1);
    } finally {
      await c.close();
    }
  });
});

test('AUTHENTICATE PLAIN without SASL-IR answers the server\'s continuation', async () => {
  await withServer({ capabilities: { saslIr: false } }, async (port) => {
    const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', auth: { user: 'alice', password: SECRET } });
    await c.close();
  });
});

test('LOGIN is used when asked for', async () => {
  await withServer({}, async (port) => {
    const verbs: string[] = [];
    const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', auth: { user: 'alice', password: SECRET, mechanism: 'LOGIN' }, onRecord: (r) => verbs.push(r.verb) });
    await c.close();
    assert.ok(verbs.includes('LOGIN'));
  });
});

test('a refused login is an AuthError that does not contain the password', async () => {
  await withServer({}, async (port) => {
    await assert.rejects(
      Connection.open({ host: '127.0.0.1', port, tls: 'none', auth: { user: 'alice', password: 'wrong-' + SECRET } }),
      (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && !e.message.includes(SECRET) && /alice/.test(e.message),
    );
  });
});

/** A byte-exact server for XOAUTH2 (RFC 7628-style SASL as Gmail and Microsoft 365 use it). */
function xoauthServer(expectToken: string): Promise<{ port: number; seen: string[]; close: () => void }> {
  const seen: string[] = [];
  const srv = net.createServer((sock) => {
    sock.write('* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR LITERAL+] ready\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        seen.push(line);
        const [tag, verb, mech, ir] = line.split(' ');
        if (verb === 'AUTHENTICATE' && mech === 'XOAUTH2') {
          const decoded = Buffer.from(ir ?? '', 'base64').toString('utf8');
          if (decoded === `user=bob\x01auth=Bearer ${expectToken}\x01\x01`) sock.write(`${tag} OK [CAPABILITY IMAP4rev1 MULTIAPPEND] done\r\n`);
          else {
            // Failure flow: a base64 JSON challenge, the client answers with an empty line, then NO.
            sock.write(`+ ${Buffer.from('{"status":"401"}').toString('base64')}\r\n`);
            (sock as net.Socket & { failTag?: string }).failTag = tag;
          }
        } else if (line === '' && (sock as net.Socket & { failTag?: string }).failTag) {
          sock.write(`${(sock as net.Socket & { failTag?: string }).failTag} NO [AUTHENTICATIONFAILED] invalid token\r\n`);
        } else if (verb === 'LOGOUT') {
          sock.end(`* BYE\r\n${tag} OK bye\r\n`);
        } else if (tag) sock.write(`${tag} BAD unexpected\r\n`);
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as net.AddressInfo).port, seen, close: () => srv.close() })));
}

test('XOAUTH2 sends the caller\'s token as SASL-IR and reads capabilities from the OK', async () => {
  const s = await xoauthServer('tok-123');
  try {
    const c = await Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: 'bob', accessToken: 'tok-123' } });
    assert.ok(c.capabilities.multiappend);
    await c.close();
    assert.match(s.seen[0]!, /^A\d+ AUTHENTICATE XOAUTH2 \S+$/);
  } finally {
    s.close();
  }
});

test('a rejected XOAUTH2 token ends with an AuthError after the empty-line answer to the error challenge', async () => {
  const s = await xoauthServer('right');
  try {
    await assert.rejects(
      Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: 'bob', accessToken: 'wrong-token' }, timeouts: { replyMs: 3000 } }),
      (e: unknown) => e instanceof AuthError && !e.message.includes('wrong-token'),
    );
    assert.ok(s.seen.includes(''), 'the client answered the error challenge with an empty line');
  } finally {
    s.close();
  }
});

test('every finished command is also published on the diagnostics channel', async () => {
  const { default: diagnosticsChannel } = await import('node:diagnostics_channel');
  const { RECORD_CHANNEL } = await import('../../src/transport/record-channel.js');
  const seen: string[] = [];
  const listener = (r: unknown) => seen.push((r as { verb: string }).verb);
  diagnosticsChannel.subscribe(RECORD_CHANNEL, listener);
  try {
    await withServer({}, async (port) => {
      const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', auth: { user: 'alice', password: SECRET } });
      await c.append('INBOX', [{ mailbox: 'INBOX', flags: [], data: Buffer.from('Subject: x\r\n\r\nx\r\n') }]);
      await c.close();
    });
  } finally {
    diagnosticsChannel.unsubscribe(RECORD_CHANNEL, listener);
  }
  assert.ok(seen.includes('AUTHENTICATE') && seen.includes('APPEND'), seen.join(','));
});
