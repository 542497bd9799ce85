// Issue 13: what a client can make the embedded server hold — bytes before and after login, replies it does not
// read, connections, time. Each test proves a bound (memory measured, or bytes the server read) or a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { startServer } from '../../src/server/server.js';
import { MemoryStore } from '../../src/server/store.js';
import { DEFAULT_LIMITS } from '../../src/server/limits.js';
import { loggedIn, rawClient, startTls, withServer, type RawClient } from './raw-client.js';

const MiB = 1024 * 1024;

/** Writes up to `total` bytes in 1 MiB chunks, honouring backpressure, until the socket closes; returns bytes written. */
async function stream(socket: Socket, total: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 0x61);
  let sent = 0;
  while (sent < total && !socket.destroyed && socket.writable) {
    const ok = socket.write(chunk);
    sent += chunk.length;
    if (!ok) {
      const closed = once(socket, 'close').then(() => 'closed');
      const drained = once(socket, 'drain').then(() => 'drained');
      if ((await Promise.race([closed, drained])) === 'closed') break;
    }
  }
  return sent;
}

const rssMiB = () => process.memoryUsage().rss / MiB;

test('a 256 MiB LITERAL+ literal announced before login gets BYE and the server holds none of it', async (t) => {
  const s = await withServer(t);
  const c = await rawClient(s.port);
  t.after(() => c.close());
  const before = rssMiB();
  c.send(`a LOGIN test {${1024 * MiB}+}\r\n`);
  const sent = await stream(c.socket, 256 * MiB);
  await c.closed(10_000);
  assert.match(c.text(), /\* BYE Literal size too large before authentication\r\n/);
  // Before the fix the server buffered the whole literal (1 GiB sent: 2.1 GB RSS).
  assert.ok(s.stats.bytesIn < 4 * MiB, `server read ${s.stats.bytesIn} bytes of a literal it refused (client wrote ${sent})`);
  const grew = rssMiB() - before;
  assert.ok(grew < 64, `RSS grew ${grew.toFixed(0)} MiB`);
});

test('a big synchronizing literal before login gets BYE without "+", and a small one (a password) is accepted', async (t) => {
  const s = await withServer(t);
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send(`a LOGIN test {${1024 * MiB}}\r\n`);
  await c.closed();
  assert.doesNotMatch(c.text(), /^\+ /m);
  assert.match(c.text(), /\* BYE Literal size too large/);
  const d = await rawClient(s.port);
  t.after(() => d.close());
  d.send('b LOGIN test {4}\r\n');
  await d.waitFor(/\+ Ready/);
  d.send('test\r\n');
  await d.waitFor(/b OK /);
});

test('before login a line longer than 8 KiB closes the connection; after login 60 KiB lines are fine', async (t) => {
  const s = await withServer(t);
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send(`a LOGIN ${'x'.repeat(10_000)}`);
  await c.waitFor(/\* BYE Command line too long\r\n/);
  await c.closed();
  const d = await loggedIn(t, s);
  d.send(`b NOOP ${'y'.repeat(60_000)}\r\n`);
  await d.waitFor(/b OK /);
});

test('a command cannot grow without bound through empty literals before login', async (t) => {
  const s = await withServer(t);
  const c = await rawClient(s.port);
  t.after(() => c.close());
  // Each line is short and each literal empty; only the command's total size can stop this.
  c.send(`a LOGIN ${'{0+}\r\n'.repeat(5000)}\r\n`);
  await c.waitFor(/\* BYE (Command too large|Literal size too large)/);
  await c.closed();
});

test('APPENDLIMIT is advertised by default and a larger synchronizing literal is refused before "+"', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  assert.match(c.text(), new RegExp(`APPENDLIMIT=${DEFAULT_LIMITS.maxMessageBytes}[\\] ]`));
  c.send(`a APPEND INBOX {${DEFAULT_LIMITS.maxMessageBytes + 1}}\r\n`);
  await c.waitFor(/a NO \[TOOBIG\] /);
  assert.doesNotMatch(c.text(), /\+ Ready/);
  c.send('b NOOP\r\n');
  await c.waitFor(/b OK /);
});

test('an oversized LITERAL+ message within the discard bound is dropped as it comes and the session goes on', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 1000, limits: { maxDiscardBytes: 100_000 } });
  const c = await loggedIn(t, s);
  c.send(`a APPEND INBOX {5000+}\r\n${'z'.repeat(5000)}\r\nb NOOP\r\n`);
  await c.waitFor(/b OK /);
  assert.match(c.text(), /a NO \[TOOBIG\] Message larger than APPENDLIMIT 1000\r\n/);
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
});

test('an oversized LITERAL+ message beyond the discard bound closes the connection without reading it', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 1000, limits: { maxDiscardBytes: 100_000 } });
  const c = await loggedIn(t, s);
  const before = s.stats.bytesIn;
  c.send(`a APPEND INBOX {${512 * MiB}+}\r\n`);
  await stream(c.socket, 128 * MiB);
  await c.closed(10_000);
  assert.match(c.text(), /\* BYE \[TOOBIG\] Message larger than APPENDLIMIT 1000\r\n/);
  assert.ok(s.stats.bytesIn - before < 4 * MiB, `server read ${s.stats.bytesIn - before} bytes`);
});

test('after one refused LITERAL+ message, the command\'s later literals are dropped only up to the discard bound', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 1000, limits: { maxDiscardBytes: 100_000 } });
  const c = await loggedIn(t, s);
  const before = s.stats.bytesIn;
  // The first literal is refused (too big) but small enough to skip; the second is not asked about any more.
  c.send(`a APPEND INBOX {5000+}\r\n${'z'.repeat(5000)} {${512 * MiB}+}\r\n`);
  await stream(c.socket, 64 * MiB);
  await c.closed(10_000);
  assert.match(c.text(), /\* BYE \[TOOBIG\] Literal too large to skip\r\n/);
  assert.ok(s.stats.bytesIn - before < 4 * MiB, `server read ${s.stats.bytesIn - before} bytes`);
});

test('before login the literal forms follow the capabilities too: no LITERAL+ literal where none is offered', async (t) => {
  const s = await withServer(t, { capabilities: { literalPlus: false } });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('a LOGIN {4+}\r\ntest {4+}\r\ntest\r\nb NOOP\r\n');
  await c.waitFor(/b OK /);
  assert.match(c.text(), /a BAD Non-synchronizing literals are not enabled\r\n/);
  assert.equal(s.stats.logins, 0);
});

test('a MULTIAPPEND larger than maxCommandBytes is refused whole and stores nothing', async (t) => {
  const s = await withServer(t, { maxMessageBytes: 1000, limits: { maxCommandBytes: 2500 } });
  const c = await loggedIn(t, s);
  const msg = `Subject: m\r\n\r\n${'b'.repeat(880)}\r\n`;
  const lit = `{${msg.length}+}\r\n${msg}`;
  c.send(`a APPEND INBOX ${lit} ${lit} ${lit}\r\nb NOOP\r\n`);
  await c.waitFor(/b OK /);
  assert.match(c.text(), /a NO \[TOOBIG\] Command larger than 2500 bytes/);
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
});

test('a client that pipelines FETCHes without reading the replies stops being served until it reads', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  const body = `Subject: big\r\n\r\n${'q'.repeat(256 * 1024)}\r\n`;
  c.send(`a APPEND INBOX {${body.length}+}\r\n${body}\r\nb SELECT INBOX\r\n`);
  await c.waitFor(/b OK /);
  c.socket.pause();
  const commandsBefore = s.stats.commands;
  const N = 200; // 200 × 256 KiB = 50 MiB of replies queued in the server if it ignored backpressure
  const last = `f${N - 1} OK `;
  // A rolling tail instead of RawClient.waitFor: matching a regex over 50 MiB at every chunk would take minutes.
  let tail = '';
  const done = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      tail = (tail + d.toString('latin1')).slice(-256);
      if (tail.includes(last)) {
        c.socket.off('data', onData);
        resolve();
      }
    };
    c.socket.on('data', onData);
  });
  let burst = '';
  for (let i = 0; i < N; i++) burst += `f${i} FETCH 1 BODY.PEEK[]\r\n`;
  c.send(burst);
  await new Promise((r) => setTimeout(r, 400));
  const served = s.stats.commands - commandsBefore;
  // The kernel's socket buffers take a few replies; the rest must wait for the client to read.
  assert.ok(served < 40, `server ran ${served} of ${N} FETCHes while the client read nothing`);
  c.socket.resume();
  await done;
  assert.equal(s.stats.commands - commandsBefore, N);
});

test('a connection that does not log in is closed after loginTimeoutMs; a logged-in one stays', async (t) => {
  const s = await withServer(t, { limits: { loginTimeoutMs: 200 } });
  const idle = await rawClient(s.port);
  t.after(() => idle.close());
  const user = await loggedIn(t, s);
  await idle.waitFor(/\* BYE Disconnected for inactivity\r\n/, 2000);
  await idle.closed();
  await new Promise((r) => setTimeout(r, 100));
  user.send('a NOOP\r\n');
  await user.waitFor(/a OK /);
});

test('an authenticated connection idle longer than idleTimeoutMs gets BYE Autologout', async (t) => {
  const s = await withServer(t, { limits: { idleTimeoutMs: 200 } });
  const c = await loggedIn(t, s);
  await c.waitFor(/\* BYE Autologout/, 2000);
  await c.closed();
});

test('over STARTTLS the idle timer counts the TLS session\'s traffic: busy stays, idle is logged out', async (t) => {
  const s = await withServer(t, { tls: 'self-signed', limits: { idleTimeoutMs: 300 } });
  const c = await rawClient(s.port);
  t.after(() => c.close());
  const secure = await startTls(t, s, c);
  secure.write('b LOGIN test test\r\n');
  await secure.until(/b OK/);
  for (let i = 0; i < 8; i++) {
    secure.write(`n${i} NOOP\r\n`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.doesNotMatch(secure.text(), /BYE/, 'logged out while busy');
  assert.match(secure.text(), /n7 OK/);
  const closed = once(secure.socket, 'close');
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not logged out')), 2000))]);
  assert.match(secure.text(), /\* BYE Autologout/);
});

async function openIdle(port: number, n: number): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const sock = connect({ host: '127.0.0.1', port });
    sock.on('error', () => {});
    out.push(sock);
    await once(sock, 'connect');
  }
  return out;
}

test('200 idle connections from one address do not lock out a client from another address', async (t) => {
  const s = await withServer(t);
  const idle = await openIdle(s.port, 200);
  t.after(() => idle.forEach((x) => x.destroy()));
  // 127.0.0.2 is another loopback address: another client, as far as the server can tell.
  const other = connect({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.2' });
  t.after(() => other.destroy());
  let text = '';
  other.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await once(other, 'connect');
  other.write('a LOGIN test test\r\n');
  for (let i = 0; i < 100 && !/a OK /.test(text); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(text, /^\* OK .*\r\na OK /s);
  assert.equal(s.stats.refusedConnections, 200 - DEFAULT_LIMITS.maxConnectionsPerIp);
});

test('the per-address cap greets one connection too many with BYE and frees its slot when one closes', async (t) => {
  const s = await withServer(t, { limits: { maxConnectionsPerIp: 2 } });
  const a = await rawClient(s.port);
  t.after(() => a.close());
  const b = await rawClient(s.port);
  t.after(() => b.close());
  const c = await rawClient(s.port);
  t.after(() => c.close());
  assert.match(c.text(), /^\* BYE \[UNAVAILABLE\] Too many connections from your address\r\n/);
  a.close();
  await new Promise((r) => setTimeout(r, 50));
  const d = await rawClient(s.port);
  t.after(() => d.close());
  assert.match(d.text(), /^\* OK /);
});

test('a server on a non-loopback address refuses to start with the default test account', async () => {
  await assert.rejects(startServer({ host: '0.0.0.0' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_CONFIG');
    assert.match(err.message, /users: .*0\.0\.0\.0.*loopback only/);
    return true;
  });
});

test('an internal error reaches onInternalError and the client gets BYE [SERVERBUG] without its text', async (t) => {
  class BrokenStore extends MemoryStore {
    override append(): number[] {
      throw new TypeError('secret-bearing internal detail');
    }
  }
  const seen: unknown[] = [];
  const s = await withServer(t, { store: new BrokenStore(), onInternalError: (e) => seen.push(e) });
  const c: RawClient = await loggedIn(t, s);
  c.send('a APPEND INBOX {14+}\r\nSubject: x\r\n\r\n\r\n');
  await c.waitFor(/\* BYE \[SERVERBUG\] Internal server error\r\n/);
  await c.closed();
  assert.equal(seen.length, 1);
  assert.match(String(seen[0]), /secret-bearing internal detail/);
  assert.doesNotMatch(c.text(), /secret-bearing/);
});

test('bytes sent before the greeting are not buffered without bound: the server stops reading', async (t) => {
  const s = await withServer(t, { acceptDelayMs: 1500 });
  const c = await rawClient(s.port, { greeting: false });
  t.after(() => c.close());
  const writing = stream(c.socket, 64 * MiB);
  await new Promise((r) => setTimeout(r, 700));
  // Before the fix every byte sent before the greeting (or during any async step) was queued in the reader.
  assert.ok(s.stats.bytesIn < 4 * MiB, `server read ${s.stats.bytesIn} bytes it could not process yet`);
  c.close();
  await writing;
});

test('fault switches reach connections already open, and clearing them gives those connections back the plain path', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  s.faults.set({ fail: { verbs: ['NOOP'], status: 'NO', code: 'UNAVAILABLE', text: 'injected' } });
  c.send('a NOOP\r\n');
  await c.waitFor(/a NO \[UNAVAILABLE\] injected\r\n/);
  s.faults.clear();
  c.send('b NOOP\r\n');
  await c.waitFor(/b OK /);
});
