import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { binarySkipReason, FIXTURES, runCli } from './cli-helpers.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# skipping import-over-TLS tests: ${skip}`);

describe('import over TLS to a private Dovecot with its own CA', { skip }, () => {
  let d: DovecotInstance;
  before(async () => {
    d = await startDovecot({ tls: true });
  });
  after(async () => {
    await d?.stop();
  });
  const env = () => ({ MAILMIGRATE_PASSWORD: d.password });
  const count = async (): Promise<number> => {
    const cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'required', ca: readFileSync(d.caFile!), user: d.user, password: d.password });
    try {
      return (await cp.status('INBOX')).messages;
    } finally {
      await cp.close();
    }
  };

  test('implicit TLS with --ca verifies the certificate and imports', async () => {
    const r = await runCli(['import', join(FIXTURES, 'maildir'), '--host', '127.0.0.1', '--port', String(d.tlsPort), '--tls', '--ca', d.caFile!, '--user', d.user, '--quiet'], env());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /appended/);
    assert.ok((await count()) > 0);
  });

  test('STARTTLS with --ca works on the plain port, and a second run skips everything', async () => {
    const r = await runCli(['import', join(FIXTURES, 'maildir'), '--host', '127.0.0.1', '--port', String(d.port), '--starttls', '--ca', d.caFile!, '--user', d.user, '--quiet', '--journal', join(d.baseDir, 'j.jsonl')], env());
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  test('without --ca the untrusted certificate stops the run before login, naming --ca and --insecure', async () => {
    const r = await runCli(['import', join(FIXTURES, 'maildir'), '--host', '127.0.0.1', '--port', String(d.tlsPort), '--tls', '--user', d.user, '--quiet'], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--ca/);
    assert.match(r.stderr, /--insecure/);
    assert.ok(!(r.stdout + r.stderr).includes(d.password));
  });
});

