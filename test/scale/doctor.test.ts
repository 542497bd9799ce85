import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DoctorReport, runDoctor, type WriteRun } from '../../src/bench/doctor.js';
import { recommend } from '../../src/bench/doctor-advice.js';
import { DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { WRITE_TEST_MAX_MESSAGES, WRITE_TEST_MESSAGE_BYTES } from '../../src/bench/write-test.js';
import { realServers } from '../helpers/imap-servers.js';
import { renderDoctor } from '../../src/cli/commands/doctor.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { type DovecotInstance, dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';
import { startServer } from '../../src/server/server.js';
import { type AddressInfo, createServer } from 'node:net';

test('doctor against the embedded server reports timings, capabilities, the connection cap and a split-write stall', async (t) => {
  const srv = await startServer({ maxConnectionsPerUser: 4 });
  t.after(() => srv.close());
  const r = await runDoctor({
    target: { host: srv.host, port: srv.port, tls: 'starttls-optional', auth: { user: 'test', password: 'test' } },
    controlPlane: { host: srv.host, port: srv.port, secure: false, starttls: 'opportunistic', user: 'test', password: 'test' },
    writeTest: true,
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
  // Bounded: a fixed plan of small messages, each way of appending measured by phase.
  const w = r.writeTest!;
  assert.ok(w.messages > 0 && w.messages <= WRITE_TEST_MAX_MESSAGES, `${w.messages} messages`);
  assert.ok(w.bytes <= w.messages * WRITE_TEST_MESSAGE_BYTES, `${w.bytes} bytes`);
  assert.deepEqual(w.runs.map((x) => x.name), ['split writes, Nagle on', 'one at a time', 'pipelined, depth 2', 'MULTIAPPEND of 4', '2 connections, one at a time']);
  for (const run of w.runs) assert.ok(run.perMessageMs > 0 && run.totalP50Ms !== undefined, run.name);
  assert.match(renderDoctor(r), /appended \d+ probe message\(s\), \d+ bytes, to the scratch folder mailmigrate-doctor-\S+; then deleted the folder/);
  if (r.writeTest?.stalls !== true) {
    // The stall is a timing shape (replies in the delayed-ACK window above the server's own latency): under a full
    // suite on two busy cores one run's waits can drift out of that window (seen once in three runs at load 10:
    // split 58.9 ms against coalesce 0.46 ms, not judged a stall). One more write test must then see it; a
    // diagnosis that no longer sees the stall fails both.
    const again = await runDoctor({
      target: { host: srv.host, port: srv.port, tls: 'starttls-optional', auth: { user: 'test', password: 'test' } },
      controlPlane: { host: srv.host, port: srv.port, secure: false, starttls: 'opportunistic', user: 'test', password: 'test' },
      writeTest: true,
      maxSessions: 10,
    });
    assert.equal(again.writeTest?.stalls, true, `twice no stall: split ${r.writeTest?.splitP50Ms} then ${again.writeTest?.splitP50Ms} ms vs coalesce ${r.writeTest?.coalesceP50Ms} then ${again.writeTest?.coalesceP50Ms} ms`);
  }
  assert.ok(!srv.store.list().some((m) => m.name.startsWith('mailmigrate-doctor')), 'no scratch folder left on the server');
  // The batch advice follows what this run measured (the rule itself is tested on fixed numbers below); on a loaded
  // machine 8 messages one at a time vs MULTIAPPEND can land either way, so the test checks the advice matches them.
  const one = w.runs.find((x) => x.name === 'one at a time')!;
  const multi = w.runs.find((x) => x.name === 'MULTIAPPEND of 4')!;
  assert.equal(r.recommended?.batch, multi.perMessageMs < one.perMessageMs * 0.8 ? DEFAULT_SETTINGS.batch : 1, r.recommended?.reasons['batch']);
  assert.match(r.recommended?.reasons['batch'] ?? '', /\(write test\)/);
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
  const rich = recommend({ 'LITERAL+': true, MULTIAPPEND: true }, null);
  assert.equal(rich.batch, DEFAULT_SETTINGS.batch);
  assert.equal(rich.literalMode, 'auto');
  assert.equal(rich.connections, 2);
  const poor = recommend({ 'LITERAL+': false, 'LITERAL-': false, MULTIAPPEND: false }, 2);
  assert.equal(poor.batch, 1);
  assert.equal(poor.literalMode, 'sync');
  assert.equal(poor.connections, 1);
  assert.match(poor.reasons['connections']!, /2 session/);
});

const run = (name: string, perMessageMs: number, over: Partial<WriteRun> = {}): WriteRun => ({
  name, messages: 8, connections: 1, depth: 1, batch: 1, split: false, perMessageMs,
  continuationWaitP50Ms: 0, serverWaitP50Ms: perMessageMs, totalP50Ms: perMessageMs, ...over,
});

test('the recommendation follows the write test: what was measured faster on this server, never quoted numbers', () => {
  // A Courier-like server: no LITERAL+ or MULTIAPPEND; a second pipelined command waits ~48 ms for its continuation,
  // a second connection waits on the folder lock.
  const courier = recommend({ 'LITERAL+': false, MULTIAPPEND: false }, null, {
    stalls: false,
    runs: [
      run('one at a time', 4),
      run('pipelined, depth 2', 45, { depth: 2, continuationWaitP50Ms: 48 }),
      run('2 connections, one at a time', 300, { connections: 2 }),
    ],
  });
  assert.deepEqual([courier.connections, courier.pipeline, courier.batch], [1, 1, 1]);
  assert.match(courier.reasons['pipeline']!, /did not help.*waited 48\.?\d* ms for its continuation/);
  assert.match(courier.reasons['connections']!, /did not help/);
  // A Dovecot-like server: batches and a second connection clearly faster, pipelining no better.
  const dovecot = recommend({ 'LITERAL+': true, MULTIAPPEND: true }, null, {
    stalls: false,
    runs: [
      run('one at a time', 1),
      run('pipelined, depth 2', 0.95, { depth: 2 }),
      run('MULTIAPPEND of 4', 0.3, { batch: 4 }),
      run('2 connections, one at a time', 0.6, { connections: 2 }),
    ],
  });
  assert.deepEqual([dovecot.connections, dovecot.pipeline, dovecot.batch], [2, 1, DEFAULT_SETTINGS.batch]);
  for (const r of [courier, dovecot]) {
    for (const [k, why] of Object.entries(r.reasons)) assert.doesNotMatch(why, /docs\/measurements|1,340|1,022|394/, `${k}: ${why}`);
  }
  assert.match(dovecot.reasons['batch']!, /write test/);
});

// The write test on every real server of the harness: it writes, measures and removes what it wrote.
for (const server of realServers) {
  const skip = server.skipReason() ?? binarySkipReason();
  test(`${server.name}: doctor's write test appends a bounded number of probe messages, recommends from them and leaves no folder behind; --no-write-test writes nothing`, { skip }, async (t) => {
    const s = await server.start();
    t.after(() => s.stop());
    const u = s.users[0]!;
    const dir = mkdtempSync(join(tmpdir(), `mm-doctor-${server.name}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const before = (await s.listFolders(u)).map((f) => f.path).sort();
    const args = ['doctor', '--host', s.host, '--port', String(s.port), '--user', u.name, '--plain', '--max-sessions', '4'];
    const r = await runCli([...args, '--json', join(dir, 'w.json')], { MAILMIGRATE_PASSWORD: u.password }, 120_000);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = JSON.parse(readFileSync(join(dir, 'w.json'), 'utf8')) as DoctorReport;
    const w = j.writeTest!;
    assert.ok(w, r.stdout);
    console.log(`# ${server.name}: ${w.runs.map((x) => `${x.name} ${x.perMessageMs.toFixed(1)} ms/msg`).join('; ')} → ${j.recommended?.flags}`);
    assert.equal(w.deleted, true);
    assert.ok(w.messages >= 16 && w.messages <= WRITE_TEST_MAX_MESSAGES, `${w.messages} messages`);
    assert.match(r.stdout, /then deleted the folder and every message in it/);
    assert.ok(Object.values(j.recommended!.reasons).some((why) => /write test/.test(why)), JSON.stringify(j.recommended));
    assert.deepEqual((await s.listFolders(u)).map((f) => f.path).sort(), before, 'no scratch folder left');
    const n = await runCli([...args, '--no-write-test', '--json', join(dir, 'n.json')], { MAILMIGRATE_PASSWORD: u.password }, 60_000);
    assert.equal(n.code, 0, n.stderr + n.stdout);
    assert.equal((JSON.parse(readFileSync(join(dir, 'n.json'), 'utf8')) as DoctorReport).writeTest, undefined);
    assert.doesNotMatch(n.stdout, /write test/);
  });
}

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

test('doctor stops reading a greeting line that never ends and reports it, instead of buffering it', async (t) => {
  // A hostile or broken server: a greeting that grows without a line end. The handshake probe frames replies with the
  // response reader and its small bounds, so it fails at once with the reason rather than waiting out the timeout.
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.write('* OK ');
    const chunk = 'x'.repeat(16 * 1024);
    const timer = setInterval(() => s.write(chunk), 1);
    s.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const started = Date.now();
  const r = await runDoctor({ target: { host: '127.0.0.1', port, tls: 'none', auth: { user: 'test', password: 'test' } }, timeoutMs: 20_000 });
  const connect = r.findings.find((f) => f.code === 'connect');
  assert.ok(connect && connect.severity === 'error', JSON.stringify(r.findings));
  assert.match(connect.message, /longer than \d+ bytes/);
  assert.ok(Date.now() - started < 10_000, 'refused on the bound, not on the timeout');
  assert.equal(r.recommended, undefined);
});
