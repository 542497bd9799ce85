import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startServer } from '../../src/server/server.js';
import { loggedIn, rawClient, withServer } from './raw-client.js';


const MSG = 'Subject: f\r\n\r\nfault\r\n';
const appendCmd = (tag: string) => `${tag} APPEND INBOX {${MSG.length}+}\r\n${MSG}\r\n`;

test('continuationDelayMs holds back "+" and taggedDelayMs holds back the tagged reply', async (t) => {
  const s = await withServer(t, { faults: { continuationDelayMs: 150 } });
  const c = await loggedIn(t, s);
  let t0 = performance.now();
  c.send(`a APPEND INBOX {${MSG.length}}\r\n`);
  await c.waitFor(/\+ Ready/);
  assert.ok(performance.now() - t0 >= 100, 'continuation came too early');
  c.send(`${MSG}\r\n`);
  await c.waitFor(/a OK/);
  s.faults.set({ continuationDelayMs: undefined, taggedDelayMs: 150, delayVerbs: ['NOOP'] });
  t0 = performance.now();
  c.send('b NOOP\r\n');
  await c.waitFor(/b OK/);
  assert.ok(performance.now() - t0 >= 100, 'tagged reply came too early');
});

test('dropAfterBytes closes the connection mid-literal and nothing is stored', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  s.faults.set({ dropAfterBytes: 'L LOGIN test test\r\n'.length + 30 });
  c.send(appendCmd('a'));
  await c.closed();
  assert.doesNotMatch(c.text(), /a OK/);
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
});

test('dropAfterCommands drops before running, or after running with dropAfterRunning', async (t) => {
  const s = await withServer(t, { faults: { dropAfterCommands: 1 } });
  const c = await loggedIn(t, s);
  c.send(appendCmd('a'));
  await c.closed();
  assert.equal(s.store.get('INBOX')!.messages.length, 0);
  s.faults.set({ dropAfterRunning: true });
  const d = await loggedIn(t, s);
  d.send(appendCmd('b'));
  await d.closed();
  assert.doesNotMatch(d.text(), /b OK/);
  assert.equal(s.store.get('INBOX')!.messages.length, 1, 'stored although never acknowledged');
});

test('byeAfterCommands and byeOnGreeting send BYE [UNAVAILABLE] and close', async (t) => {
  const s = await withServer(t, { faults: { byeAfterCommands: 1 } });
  const c = await loggedIn(t, s);
  c.send('a NOOP\r\n');
  await c.waitFor(/\* BYE \[UNAVAILABLE\] /);
  await c.closed();
  s.faults.set({ byeOnGreeting: true });
  const d = await rawClient(s.port);
  t.after(() => d.close());
  assert.match(d.text(), /^\* BYE \[UNAVAILABLE\] /);
  await d.closed();
});

test('fail answers with each chosen response code, as many times as asked', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  for (const code of ['TRYCREATE', 'OVERQUOTA', 'LIMIT', 'UNAVAILABLE']) {
    s.faults.set({ fail: { code, times: 1 } });
    c.send(appendCmd(`x${code}`) + appendCmd(`y${code}`));
    await c.waitFor(new RegExp(`y${code} OK`));
    assert.match(c.text(), new RegExp(`x${code} NO \\[${code}\\] `));
  }
  s.faults.set({ fail: { verbs: ['NOOP'], status: 'BAD', text: 'nope' } });
  c.send('n NOOP\r\n');
  await c.waitFor(/n BAD nope\r\n/);
  assert.equal(s.store.get('INBOX')!.messages.length, 4);
});

test('throttle replies like Microsoft 365 and can then disconnect', async (t) => {
  const s = await withServer(t, { faults: { throttle: { backoffMs: 250, times: 1 } } });
  const c = await loggedIn(t, s);
  c.send(appendCmd('a') + appendCmd('b'));
  await c.waitFor(/b OK/);
  assert.match(c.text(), /a NO Request is throttled\. Suggested Backoff Time: 250 ms\r\n/);
  s.faults.set({ throttle: { backoffMs: 10, thenBye: true } });
  c.send(appendCmd('c'));
  await c.waitFor(/c NO Request is throttled.*\r\n\* BYE /);
  await c.closed();
});

test('stallAfterCommands leaves the connection open and silent', async (t) => {
  const s = await withServer(t);
  const c = await loggedIn(t, s);
  s.faults.set({ stallAfterCommands: 1 });
  c.send('a NOOP\r\nb NOOP\r\n');
  await assert.rejects(c.waitFor(/a OK/, 300), /timeout/);
  assert.equal(c.socket.destroyed, false);
  s.faults.set({ stallAfterCommands: 0 });
  const d = await rawClient(s.port, { greeting: false });
  t.after(() => d.close());
  await assert.rejects(d.waitFor(/\*/, 200), /timeout/);
});

test('disconnectAfterErrors drops the connection after K failures in a row, and an OK resets the count', async (t) => {
  const s = await withServer(t, { faults: { disconnectAfterErrors: 3 } });
  const c = await loggedIn(t, s);
  c.send('a FROB\r\nb FROB\r\nc NOOP\r\nd FROB\r\ne FROB\r\n');
  await c.waitFor(/e BAD/);
  assert.doesNotMatch(c.text(), /BYE/);
  c.send('f FROB\r\n');
  await c.waitFor(/f BAD .*\r\n\* BYE Too many invalid commands\r\n/);
  await c.closed();
});

test('the per-user connection cap refuses login N+1 with NO [UNAVAILABLE], or with BYE when asked', async (t) => {
  const s = await withServer(t, { maxConnectionsPerUser: 2 });
  await loggedIn(t, s);
  const b = await loggedIn(t, s);
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('x LOGIN test test\r\n');
  await c.waitFor(/x NO \[UNAVAILABLE\] Maximum number of connections from user\+IP exceeded/);
  b.close();
  await new Promise((r) => setTimeout(r, 50));
  c.send('y LOGIN test test\r\n');
  await c.waitFor(/y OK/);
  const s2 = await withServer(t, { maxConnectionsPerUser: 1, connectionCapReply: 'bye' });
  await loggedIn(t, s2);
  const d = await rawClient(s2.port);
  t.after(() => d.close());
  d.send('z LOGIN test test\r\n');
  await d.waitFor(/\* BYE \[UNAVAILABLE\] /);
  await d.closed();
});

test('maxConnections greets connection N+1 with BYE [UNAVAILABLE]', async (t) => {
  const s = await withServer(t, { maxConnections: 1 });
  const a = await rawClient(s.port);
  t.after(() => a.close());
  const b = await rawClient(s.port);
  t.after(() => b.close());
  assert.match(b.text(), /^\* BYE \[UNAVAILABLE\] Too many connections\r\n/);
  assert.equal(s.stats.refusedConnections, 1);
});

test('a server restarts on the same port with the same store', async (t) => {
  const s1 = await startServer();
  const c = await loggedIn(t, s1);
  c.send(appendCmd('a'));
  await c.waitFor(/a OK \[APPENDUID (\d+) 1\]/);
  const validity = /APPENDUID (\d+)/.exec(c.text())![1];
  await s1.close();
  await c.closed();
  const s2 = await withServer(t, { port: s1.port, store: s1.store });
  assert.equal(s2.port, s1.port);
  const d = await loggedIn(t, s2);
  d.send(appendCmd('b'));
  await d.waitFor(new RegExp(`b OK \\[APPENDUID ${validity} 2\\]`));
});

test('disconnectAll sends BYE to every connection', async (t) => {
  const s = await withServer(t);
  const a = await loggedIn(t, s);
  s.disconnectAll('maintenance');
  await a.waitFor(/\* BYE \[UNAVAILABLE\] maintenance\r\n/);
  await a.closed();
});
