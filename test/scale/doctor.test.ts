import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recommend, runDoctor } from '../../src/bench/doctor.js';
import { startServer } from '../../src/server/server.js';

test('doctor against the embedded server reports timings, capabilities, the connection cap and a split-write stall', async (t) => {
  const srv = await startServer({ maxConnectionsPerUser: 4 });
  t.after(() => srv.close());
  const r = await runDoctor({
    target: { host: srv.host, port: srv.port, tls: 'starttls-optional', auth: { user: 'test', password: 'test' } },
    controlPlane: { host: srv.host, port: srv.port, secure: false, starttls: 'opportunistic', user: 'test', password: 'test' },
    writeTest: true,
    writeTestMessages: 8,
    maxSessions: 10,
  });
  assert.ok(r.connectMs !== undefined && r.connectMs >= 0);
  assert.ok(r.loginMs !== undefined && r.loginMs >= 0);
  assert.equal(r.tlsMs, undefined, 'the embedded server offers no STARTTLS without a certificate');
  for (const c of ['LITERAL+', 'MULTIAPPEND', 'UIDPLUS']) assert.ok(r.capabilities.includes(c), c);
  assert.equal(r.connectionCap, 4);
  assert.match(r.connectionCapRefusal ?? '', /UNAVAILABLE/);
  assert.ok(r.findings.some((f) => f.code === 'connection-cap' && f.severity === 'warn'));
  assert.ok(r.writeTest?.deleted, 'the scratch folder is deleted');
  assert.equal(r.writeTest?.stalls, true, `split ${r.writeTest?.splitP50Ms} ms vs coalesce ${r.writeTest?.coalesceP50Ms} ms`);
  assert.ok(!srv.store.list().some((m) => m.name.startsWith('mailmigrate-doctor')), 'no scratch folder left on the server');
  assert.equal(r.recommended.batch, 50);
  assert.equal(r.recommended.nodelay, true);
  assert.ok(!JSON.stringify(r).includes('"test","password"'));
});

test('doctor reports an unreachable server as a finding instead of throwing', async () => {
  const srv = await startServer();
  const port = srv.port;
  await srv.close();
  const r = await runDoctor({ target: { host: '127.0.0.1', port, tls: 'none', auth: { user: 'test', password: 'test' } }, timeoutMs: 2000 });
  assert.ok(r.findings.some((f) => f.code === 'connect' && f.severity === 'error'));
  assert.equal(r.connectionCap, null);
  assert.deepEqual(r.capabilities, []);
});

test('the recommendation follows the capabilities and a tight connection cap', () => {
  const rich = recommend({ 'LITERAL+': true, MULTIAPPEND: true }, null, false);
  assert.equal(rich.batch, 50);
  assert.equal(rich.literalMode, 'auto');
  assert.equal(rich.connections, 2);
  const poor = recommend({ 'LITERAL+': false, 'LITERAL-': false, MULTIAPPEND: false }, 2, undefined);
  assert.equal(poor.batch, 1);
  assert.equal(poor.literalMode, 'sync');
  assert.equal(poor.connections, 1);
  assert.match(poor.reasons['connections']!, /2 session/);
});
