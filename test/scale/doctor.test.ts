import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DoctorReport, recommend, runDoctor } from '../../src/bench/doctor.js';
import { renderDoctor } from '../../src/cli/commands/doctor.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { type DovecotInstance, dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';
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
  assert.equal(r.recommended?.batch, 50);
  assert.equal(r.recommended?.nodelay, true);
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

// Issue 13: `doctor` crashed (SIGSEGV, exit 139) on every STARTTLS target. Run as the admin does, through the
// built binary in a child process, so a crash is an exit code and not the end of the test runner.
const dovecotSkip = dovecotSkipReason() ?? binarySkipReason();
if (dovecotSkip) console.log(`# skipping doctor over Dovecot: ${dovecotSkip}`);

describe('doctor against a private Dovecot over plain, STARTTLS and implicit TLS', { skip: dovecotSkip }, () => {
  let d: DovecotInstance;
  let dir: string;
  before(async () => {
    d = await startDovecot({ tls: true, maxUserIpConnections: 4 });
    dir = mkdtempSync(join(tmpdir(), 'mm-doctor-'));
  });
  after(async () => {
    await d?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  for (const [mode, flags] of [
    ['plain', ['--plain']],
    ['STARTTLS', ['--starttls']],
    ['implicit TLS', ['--tls']],
  ] as const) {
    test(`doctor over ${mode} measures TLS, login and the connection cap and exits 0`, async () => {
      const file = join(dir, `${mode.replace(/\W/g, '')}.json`);
      const port = mode === 'implicit TLS' ? d.tlsPort! : d.port;
      const r = await runCli(
        ['doctor', '--host', d.host, '--port', String(port), '--user', d.user, ...flags, ...(mode === 'plain' ? [] : ['--ca', d.caFile!]), '--max-sessions', '6', '--json', file],
        { MAILMIGRATE_PASSWORD: d.password },
        60_000,
      );
      assert.equal(r.code, 0, `exit ${r.code} (139 = the segfault)\n${r.stderr}\n${r.stdout}`);
      const j = JSON.parse(readFileSync(file, 'utf8')) as DoctorReport;
      if (mode === 'plain') assert.equal(j.tlsMs, undefined);
      else assert.ok(j.tlsMs !== undefined && j.tlsMs > 0, `TLS handshake measured over ${mode}`);
      assert.ok(j.loginMs !== undefined && j.loginMs >= 0);
      assert.ok(j.capabilities.includes('IMAP4REV1') || j.capabilities.includes('IMAP4rev1'), j.capabilities.join(' '));
      assert.equal(j.connectionCap, 4, 'Dovecot refuses the 5th session (mail_max_userip_connections = 4)');
      assert.ok(j.recommended, 'a server doctor logged in to gets recommendations');
      assert.doesNotMatch(readFileSync(file, 'utf8'), new RegExp(d.password));
    });
  }
});

test('doctor gives no recommendation for a server it never reached', async () => {
  const srv = await startServer();
  const port = srv.port;
  await srv.close();
  const r = await runDoctor({ target: { host: '127.0.0.1', port, tls: 'none', auth: { user: 'test', password: 'test' } }, timeoutMs: 2000 });
  assert.equal(r.recommended, undefined);
  assert.doesNotMatch(renderDoctor(r), /recommended: mailmigrate import/);
  assert.match(renderDoctor(r), /no recommended settings/);
});
