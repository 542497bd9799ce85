// Untagged responses are routed, not hoarded; chatter does not extend a reply deadline; the APPEND transport's
// reader refuses large literals; [ALERT] reaches the user (issue 13). Raw `net` servers send the exact bytes.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ProtocolError, TimeoutError } from '../../src/core/errors.js';
import { Connection } from '../../src/transport/connection.js';
import { Pool, type PoolEvent } from '../../src/transport/pool.js';

type Handler = (sock: net.Socket, line: string) => void;

/** A raw IMAP server: sends `greeting`, then calls `onLine` for each command line. Closed after the test. */
async function rawServer(t: { after(fn: () => unknown): void }, greeting: string, onLine: Handler): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write(greeting);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        onLine(sock, line);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return (srv.address() as net.AddressInfo).port;
}

const GREETING = '* OK [CAPABILITY IMAP4rev1 LITERAL+] raw test server\r\n';
const tagOf = (line: string): string => line.split(' ')[0]!;

test('a server repeating "* 1 EXISTS" and "* OK still here" cannot hold a command past its reply deadline', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearInterval));
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (/ NOOP$/i.test(line)) {
      timers.push(setInterval(() => sock.write('* 1 EXISTS\r\n* OK still here\r\n'), 20));
    }
  });
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', timeouts: { replyMs: 300, continuationMs: 300 } });
  t.after(() => c.destroy(new ProtocolError('test over')));
  const started = Date.now();
  const outcome = await Promise.race([
    c.command('NOOP').then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5000)),
  ]);
  assert.ok(outcome instanceof TimeoutError, `expected a timeout, got ${String(outcome)}`);
  assert.equal(outcome.phase, 'tagged');
  assert.ok(outcome.sent, 'the NOOP was sent: its outcome is unknown');
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms for a 300 ms deadline`);
});

test('untagged responses nobody asked for are dropped: 16 MB of "* 1 EXISTS" (1.4 million responses) during one command keeps the heap flat', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const LINES = 16 * 1024 * 1024 / 12;
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (!/ NOOP$/i.test(line)) return;
    // Write in 1 MB chunks as the socket drains, so the server side holds little memory itself.
    const chunk = Buffer.from('* 1 EXISTS\r\n'.repeat(1024 * 1024 / 12));
    let sent = 0;
    const more = (): void => {
      while (sent < LINES) {
        sent += 1024 * 1024 / 12;
        if (!sock.write(chunk)) return void sock.once('drain', more);
      }
      sock.write(`${tagOf(line)} OK done\r\n`);
    };
    more();
  });
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none' });
  t.after(() => c.close());
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const res = await c.command('NOOP');
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  assert.equal(res.untagged.length, 0);
  const growthMb = (peak - base) / 1024 / 1024;
  assert.ok(growthMb < 24, `heap grew ${growthMb.toFixed(1)} MB while reading 16 MB of chatter`);
});

test('the APPEND transport refuses a large literal in a response instead of buffering it', async (t) => {
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (/ NOOP$/i.test(line)) sock.write('* 1 FETCH (BODY[] {100000000}\r\n' + 'x'.repeat(70_000));
  });
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none' });
  await assert.rejects(c.command('NOOP'), (e: unknown) => e instanceof Error && /literal of 100000000 bytes exceeds|response larger than 262144 bytes/.test(e.message + String((e as { cause?: unknown }).cause)));
  assert.ok(c.closed);
});

test('[ALERT] in the greeting and in a tagged reply is emitted as a pool event for the user', async (t) => {
  const port = await rawServer(t, '* OK [ALERT] Maintenance tonight at 22:00 UTC\r\n', (sock, line) => {
    const tag = tagOf(line);
    if (/ CAPABILITY$/i.test(line)) sock.write(`* CAPABILITY IMAP4rev1 LITERAL+\r\n${tag} OK done\r\n`);
    else if (/ APPEND /i.test(line)) sock.write(`${tag} OK [ALERT] Your mailbox is 95% full\r\n`);
    else if (/ LOGOUT$/i.test(line)) sock.end(`* BYE\r\n${tag} OK bye\r\n`);
  });
  const events: PoolEvent[] = [];
  const pool = await Pool.open({ host: '127.0.0.1', port, tls: 'none', knownFolders: ['INBOX'], onEvent: (e) => events.push(e) });
  const out = await pool.append('INBOX', [{ mailbox: 'INBOX', flags: [], data: Buffer.from('Subject: x\r\n\r\nbody\r\n') }]);
  await pool.close();
  assert.equal(out[0]!.status, 'appended');
  const alerts = events.filter((e) => e.type === 'alert').map((e) => (e as { text: string }).text);
  assert.deepEqual(alerts, ['Maintenance tonight at 22:00 UTC', 'Your mailbox is 95% full']);
});

test('a timing observer that throws does not leave the command unsettled on a real connection', async (t) => {
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (/ NOOP$/i.test(line)) sock.write(`${tagOf(line)} OK done\r\n`);
  });
  const failures: unknown[] = [];
  const c = await Connection.open({
    host: '127.0.0.1',
    port,
    tls: 'none',
    onRecord: () => {
      throw new Error('ENOSPC: no space left on device');
    },
    onObserverError: (e) => failures.push(e),
  });
  t.after(() => c.destroy(new ProtocolError('test over')));
  const outcome = await Promise.race([c.command('NOOP').then(() => 'settled'), new Promise((r) => setTimeout(() => r('unsettled after 3 s'), 3000))]);
  assert.equal(outcome, 'settled');
  assert.equal(c.closed, false, 'the observer\'s failure must not tear the connection down');
  assert.equal(failures.length, 1);
});

test('an APPEND answered after the reply timeout: the connection waits for the answer (reported once as overdue) instead of leaving the outcome unknown', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearTimeout));
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (/ APPEND /i.test(line)) timers.push(setTimeout(() => sock.write(`${tagOf(line)} OK [APPENDUID 7 42] stored late\r\n`), 900));
  });
  const notices: unknown[] = [];
  const c = await Connection.open({
    host: '127.0.0.1', port, tls: 'none', timeouts: { replyMs: 300, continuationMs: 300, lateAnswerMs: 5000 }, onOverdue: (n) => notices.push(n),
  });
  t.after(() => c.destroy(new ProtocolError('test over')));
  const p = c.append('INBOX', [{ mailbox: 'INBOX', flags: [], data: Buffer.from('hello') }]);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(c.overdue, true, 'silent past the reply timeout: no new work for this connection');
  const res = await p;
  assert.deepEqual(res.uids, [42]);
  assert.equal(c.overdue, false, 'answered: the connection takes work again');
  assert.equal(notices.length, 1);
  assert.equal((await c.command('NOOP').catch((e: unknown) => e)) instanceof TimeoutError, true, 'the normal reply timeout applies again (this server never answers NOOP)');
});

test('a whole APPEND the server never answers, with chatter: given up after the reply timeout plus the late-answer wait, outcome unknown', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearInterval));
  const port = await rawServer(t, GREETING, (sock, line) => {
    if (/ APPEND /i.test(line)) timers.push(setInterval(() => sock.write('* OK still here\r\n'), 50));
  });
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', timeouts: { replyMs: 300, continuationMs: 300, lateAnswerMs: 700 } });
  t.after(() => c.destroy(new ProtocolError('test over')));
  const started = Date.now();
  const e = await c.append('INBOX', [{ mailbox: 'INBOX', flags: [], data: Buffer.from('hello') }]).catch((x: unknown) => x);
  const took = Date.now() - started;
  assert.ok(e instanceof TimeoutError && e.sent, `expected an unknown outcome, got ${String(e)}`);
  assert.equal(e.timeoutMs, 1000);
  assert.ok(took >= 950 && took < 4000, `gave up after ${took} ms`);
});

test('a streamed untagged answer goes to the oldest command in flight that asked for it, and to no younger one', async (t) => {
  // Holds the answers until the three FETCHes and the NOOP are in, then answers them in order, as a server does.
  const held: string[] = [];
  const port = await rawServer(t, GREETING, (sock, line) => {
    held.push(line);
    if (held.length < 4) return;
    let out = '';
    for (const [i, l] of held.entries()) {
      out += l.includes('FETCH') ? `* ${i + 1} FETCH (UID ${10 * (i + 1)})\r\n* 2 EXISTS\r\n${tagOf(l)} OK done\r\n` : `${tagOf(l)} OK done\r\n`;
    }
    sock.write(out);
  });
  const c = await Connection.open({ host: '127.0.0.1', port, tls: 'none', pipelineDepth: 4 });
  t.after(() => c.destroy(new ProtocolError('test over')));
  const got: string[][] = [[], [], []];
  const fetches = got.map((list) => c.command('UID FETCH', [{ atom: '1:*' }, { atom: '(UID)' }], { untagged: ['FETCH', 'EXISTS'], onUntagged: (u) => list.push(`${u.type} ${u.text}`) }));
  const noop = c.command('NOOP', [], { untagged: ['EXISTS'] });
  await Promise.all(fetches);
  const n = await noop;
  assert.deepEqual(got, [['FETCH (UID 10)', 'EXISTS '], ['FETCH (UID 20)', 'EXISTS '], ['FETCH (UID 30)', 'EXISTS ']]);
  // Every EXISTS came while a FETCH asking for it was the oldest in flight: that FETCH took it, the NOOP behind them
  // (which also asked) saw none. Before, each streamed answer went to every command in flight that asked for it.
  assert.equal(n.untagged.length, 0);
});
