import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import {
  addConnectionOptions,
  controlPlaneOptions,
  describeTarget,
  isLoopbackHost,
  resolveTarget,
  resolveTlsAndPort,
  transportOptions,
} from '../../src/cli/connection-options.js';
import { ConfigError } from '../../src/core/errors.js';

const env = (e: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...e });

test('loopback hosts are recognised and remote ones are not', () => {
  for (const h of ['localhost', '127.0.0.1', '127.3.2.1', '::1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['mail.example.com', '10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost.example.com']) assert.equal(isLoopbackHost(h), false, h);
});

test('the default is implicit TLS on 993 and required STARTTLS on another port to a remote host', () => {
  assert.deepEqual(resolveTlsAndPort({}, 'mail.example.com'), { tls: 'implicit', port: 993 });
  assert.deepEqual(resolveTlsAndPort({ port: '143' }, 'mail.example.com'), { tls: 'starttls', port: 143 });
  assert.deepEqual(resolveTlsAndPort({ port: '1143' }, '127.0.0.1'), { tls: 'starttls-optional', port: 1143 });
  assert.deepEqual(resolveTlsAndPort({ starttls: true }, 'mail.example.com'), { tls: 'starttls', port: 143 });
  assert.deepEqual(resolveTlsAndPort({ plain: true }, 'mail.example.com'), { tls: 'none', port: 143 });
  assert.deepEqual(resolveTlsAndPort({ tls: true, port: '9993' }, 'x'), { tls: 'implicit', port: 9993 });
});

test('bad ports and conflicting TLS flags are ConfigErrors naming the option', () => {
  assert.throws(() => resolveTlsAndPort({ port: '0' }, 'x'), (e: unknown) => e instanceof ConfigError && e.option === '--port');
  assert.throws(() => resolveTlsAndPort({ port: '12ab' }, 'x'), ConfigError);
  assert.throws(() => resolveTlsAndPort({ tls: true, plain: true }, 'x'), (e: unknown) => e instanceof ConfigError && e.option === '--tls');
});

test('no host resolves to undefined, and host-only options without a host are refused', async () => {
  assert.equal(await resolveTarget({}, { env: env() }), undefined);
  await assert.rejects(resolveTarget({ user: 'a' }, { env: env() }), (e: unknown) => e instanceof ConfigError && e.option === '--user');
});

test('host, user and password come from the environment when no flag is given', async () => {
  const t = await resolveTarget({ port: '1143' }, { env: env({ MAILMIGRATE_HOST: '127.0.0.1', MAILMIGRATE_USER: 'alice', MAILMIGRATE_PASSWORD: 's3cret' }) });
  assert.ok(t);
  assert.equal(t.host, '127.0.0.1');
  assert.equal(t.user, 'alice');
  assert.equal(t.password, 's3cret');
  assert.equal(t.passwordSource, 'env');
  assert.equal(t.tls, 'starttls-optional');
  assert.ok(!describeTarget(t).includes('s3cret'));
});

test('a password file wins over the environment and only its first line counts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-conn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pw');
  writeFileSync(file, 'from-file\nsecond line\n', { mode: 0o600 });
  const r = await resolveTarget({ host: 'mail.example.com', user: 'bob', passwordFile: file }, { env: env({ MAILMIGRATE_PASSWORD: 'from-env' }) });
  assert.equal(r?.password, 'from-file');
  assert.equal(r?.passwordSource, 'file');
  await assert.rejects(
    resolveTarget({ host: 'x', user: 'bob', passwordFile: join(dir, 'missing') }, { env: env() }),
    (e: unknown) => e instanceof ConfigError && e.option === '--password-file' && !e.message.includes('from-file'),
  );
});

test('without a password source and without a terminal the error says how to give one', async () => {
  await assert.rejects(resolveTarget({ host: 'x', user: 'u' }, { env: env() }), /MAILMIGRATE_PASSWORD/);
});

test('the prompt is used when there is a terminal and nothing else', async () => {
  let asked = '';
  const r = await resolveTarget({ host: 'mail.example.com', user: 'u' }, {
    env: env(),
    prompt: async (q) => {
      asked = q;
      return 'typed';
    },
  });
  assert.equal(r?.password, 'typed');
  assert.match(asked, /u@mail\.example\.com/);
});

test('control-plane options follow the same TLS policy as the transport', async () => {
  const base = { host: 'mail.example.com', user: 'u' };
  const io = { env: env({ MAILMIGRATE_PASSWORD: 'p' }) };
  const implicit = controlPlaneOptions((await resolveTarget(base, io))!);
  assert.equal(implicit.secure, true);
  const required = controlPlaneOptions((await resolveTarget({ ...base, port: '143' }, io))!);
  assert.equal(required.secure, false);
  assert.equal(required.starttls, 'required');
  const plain = controlPlaneOptions((await resolveTarget({ ...base, plain: true }, io))!);
  assert.equal(plain.starttls, 'off');
  const insecure = controlPlaneOptions((await resolveTarget({ ...base, insecure: true }, io))!);
  assert.equal(insecure.rejectUnauthorized, false);
});

test('a --ca file without a PEM certificate is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-conn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca'), 'nope');
  await assert.rejects(resolveTarget({ host: 'x', user: 'u', ca: join(dir, 'ca') }, { env: env({ MAILMIGRATE_PASSWORD: 'p' }) }), (e: unknown) => e instanceof ConfigError && e.option === '--ca');
});

test('commander accepts the shared options and rejects two TLS modes at once', async () => {
  const make = (): Command => {
    const c = addConnectionOptions(new Command('x')).exitOverride().configureOutput({ writeErr: () => undefined });
    c.action(() => undefined);
    return c;
  };
  const ok = make();
  await ok.parseAsync(['--host', 'h', '--port', '1', '--user', 'u', '--tls', '--insecure', '--password-file', 'f', '--ca', 'c'], { from: 'user' });
  assert.deepEqual(ok.opts(), { host: 'h', port: '1', user: 'u', tls: true, insecure: true, passwordFile: 'f', ca: 'c' });
  await assert.rejects(make().parseAsync(['--tls', '--plain'], { from: 'user' }));
  await assert.rejects(make().parseAsync(['--password', 'x'], { from: 'user' }));
});

test('an OAuth token file makes both planes use XOAUTH2 and asks for no password', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-conn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'ya29.token-value\n', { mode: 0o600 });
  const r = await resolveTarget({ host: 'imap.example.com', user: 'bob@example.com', oauthTokenFile: file }, { env: env() });
  assert.ok(r);
  assert.equal(r.accessToken, 'ya29.token-value');
  assert.deepEqual(transportOptions(r).auth, { user: 'bob@example.com', accessToken: 'ya29.token-value' });
  const cp = controlPlaneOptions(r);
  assert.equal(cp.accessToken, 'ya29.token-value');
  assert.equal(cp.password, undefined);
  assert.ok(!describeTarget(r).includes('ya29'));
  await assert.rejects(
    resolveTarget({ host: 'imap.example.com', user: 'bob', oauthTokenFile: file, passwordFile: file }, { env: env() }),
    (e: unknown) => e instanceof ConfigError && e.option === '--oauth-token-file',
  );
  writeFileSync(file, '\n');
  await assert.rejects(resolveTarget({ host: 'imap.example.com', user: 'bob', oauthTokenFile: file }, { env: env() }), /is empty/);
});
