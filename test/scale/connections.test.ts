import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { runConnectionsBench } from '../../src/bench/connections.js';
import { loopbackSources, preflightConnections } from '../../src/bench/connections-preflight.js';
import { LeanSession, quoteImap } from '../../src/bench/held-session.js';
import { parseSlabSocketBytes } from '../../src/bench/socket-memory.js';

test('200 sessions are held against the embedded server in a child process, with RSS per session and percentiles', async () => {
  const r = await runConnectionsBench({ sessions: 200, holdMs: 1500, noopIntervalMs: 500 });
  assert.equal(r.sessions, 200);
  assert.equal(r.established, 200, JSON.stringify(r.errors));
  assert.equal(r.failed, 0);
  assert.equal(r.dropped, 0);
  assert.ok(r.connectMs.p50 >= 0 && r.connectMs.p50 <= r.connectMs.p99 && r.connectMs.p99 <= r.connectMs.max);
  assert.ok(r.loginMs.max > 0);
  assert.ok(r.noops > 0, 'sessions sent NOOPs while held');
  // 200 sessions cost something, and not megabytes each (the 10k figure comes from npm run bench:scale).
  assert.ok(r.rssPerSessionBytes < 200_000, `rss per session ${r.rssPerSessionBytes}`);
  assert.ok(r.preflight.fits);
});

test('the preflight refuses more sessions than the open-file limit allows and says what to change', () => {
  const p = preflightConnections({
    sessions: 30_000, fdLimit: { soft: 20_000, hard: 20_000 }, fdsInUse: 30,
    portRange: { low: 32768, high: 60999, count: 28232 }, sources: [], embeddedServer: true,
  });
  assert.equal(p.fits, false);
  assert.match(p.problems.join('\n'), /open-file limit is 20000/);
  assert.match(p.problems.join('\n'), /ulimit -n/);
  assert.match(p.problems.join('\n'), /--source 127\.0\.0\.2/);
});

test('the preflight accepts 10,000 sessions under the limits of this machine', () => {
  const p = preflightConnections({
    sessions: 10_000, fdLimit: { soft: 20_000, hard: 20_000 }, fdsInUse: 30,
    portRange: { low: 32768, high: 60999, count: 28232 }, sources: [], embeddedServer: true,
  });
  assert.deepEqual(p.problems, []);
  assert.equal(p.fits, true);
});

test('enough source addresses make a session count past one address range fit the port check', () => {
  const portRange = { low: 32768, high: 60999, count: 28232 };
  const sources = loopbackSources(60_000, portRange);
  assert.deepEqual(sources, ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  assert.deepEqual(loopbackSources(1000, portRange), []);
  const p = preflightConnections({ sessions: 60_000, fdLimit: { soft: 100_000, hard: 100_000 }, fdsInUse: 10, portRange, sources, embeddedServer: false });
  assert.equal(p.fits, true, p.problems.join('\n'));
});

test('sessions spread over a second source address are established from it', async () => {
  const r = await runConnectionsBench({ sessions: 20, sources: ['127.0.0.1', '127.0.0.2'], holdMs: 100, noopIntervalMs: 0 });
  assert.equal(r.established, 20, JSON.stringify(r.errors));
  assert.deepEqual(r.preflight.sources, ['127.0.0.1', '127.0.0.2']);
});

test('slab bytes are summed over the TCP socket caches only', () => {
  const text = [
    'slabinfo - version: 2.1',
    'TCP                 10     12   2432   13    8 : tunables    0    0    0 : slabdata      1      1      0',
    'sock_inode_cache    20     20    832   19    4 : tunables    0    0    0 : slabdata      1      1      0',
    'kmalloc-64        1000   1000     64   64    1 : tunables    0    0    0 : slabdata      1      1      0',
  ].join('\n');
  assert.equal(parseSlabSocketBytes(text), 10 * 2432 + 20 * 832);
  assert.equal(parseSlabSocketBytes('slabinfo - version: 2.1\n'), undefined);
});

test('LOGIN strings are quoted with backslash escapes, and CR/LF is refused', () => {
  assert.equal(quoteImap('a"b\\c'), '"a\\"b\\\\c"');
  assert.throws(() => quoteImap('a\r\nb'), /quoted strings/);
});

/** A scripted server: writes `answer(line)` for each client line, the greeting one byte per write (or, with
 *  `drip` false, at once: a 70 KiB greeting dripped a byte a millisecond took 74 s of the suite). */
async function scriptedServer(t: { after(fn: () => unknown): void }, greeting: string, answer: (line: string) => string, drip = true) {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    let i = 0;
    if (!drip) i = (s.write(greeting), greeting.length);
    const dripping = setInterval(() => (i < greeting.length ? s.write(greeting[i++]!) : clearInterval(dripping)), 1);
    s.on('close', () => clearInterval(dripping));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        s.write(answer(buf.slice(0, nl + 1)));
        buf = buf.slice(nl + 1);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

function holdOne(port: number): Promise<{ err: string | undefined; session: LeanSession }> {
  return new Promise((resolve) => {
    const session: LeanSession = new LeanSession({ host: '127.0.0.1', port }, '"u" "p"', (err) => resolve({ err, session }), { onNoop: () => undefined, onDrop: () => undefined });
  });
}

test('the lean holder reads a greeting split at every byte and names a refusal at the connection cap by its response code', async (t) => {
  const port = await scriptedServer(t, '* OK [CAPABILITY IMAP4rev1] ready\r\n', (line) => (line.startsWith('a LOGIN') ? 'a NO [UNAVAILABLE] Maximum number of connections from user+IP exceeded\r\n' : ''));
  const { err, session } = await holdOne(port);
  session.close();
  assert.equal(err, 'refused-cap');
});

test('the lean holder logs in, then answers NOOPs from a server that sends untagged chatter first', async (t) => {
  const port = await scriptedServer(t, '* OK ready\r\n', (line) => (line.startsWith('a ') ? '* CAPABILITY IMAP4rev1\r\na OK logged in\r\n' : line.startsWith('n ') ? '* 3 EXISTS\r\n* 1 RECENT\r\nn OK NOOP done\r\n' : ''));
  let noops = 0;
  const session = await new Promise<LeanSession>((resolve, reject) => {
    const s: LeanSession = new LeanSession({ host: '127.0.0.1', port }, '"u" "p"', (err) => (err ? reject(new Error(err)) : resolve(s)), { onNoop: () => noops++, onDrop: () => undefined });
  });
  t.after(() => session.close());
  for (let i = 0; i < 3; i++) {
    session.noop();
    const before = noops;
    const until = Date.now() + 3000;
    while (noops === before && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(noops, 3);
});

test('the lean holder gives up on a reply line longer than its bound instead of buffering it', async (t) => {
  const port = await scriptedServer(t, `* OK ${'x'.repeat(70 * 1024)}\r\n`, () => '', false);
  const { err, session } = await holdOne(port);
  session.close();
  assert.equal(err, 'line-too-long');
});
