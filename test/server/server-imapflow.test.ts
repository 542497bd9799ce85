// The server driven by an independent client, imapflow, which shares no code with ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { startServer, type ServerOptions, type ImapServer } from '../../src/server/server.js';

async function withServer(t: { after(fn: () => unknown): void }, opts: ServerOptions = {}): Promise<ImapServer> {
  const s = await startServer(opts);
  t.after(() => s.close());
  return s;
}

async function client(t: { after(fn: () => unknown): void }, s: ImapServer, extra: Record<string, unknown> = {}): Promise<ImapFlow> {
  const c = new ImapFlow({ host: s.host, port: s.port, secure: false, auth: { user: 'test', pass: 'test' }, logger: false, ...extra } as never);
  c.on('error', () => {});
  await c.connect();
  t.after(() => c.close());
  return c;
}

const small = 'Message-ID: <small@example.org>\r\nSubject: small\r\n\r\nhi\r\n';
const large = 'Message-ID: <large@example.org>\r\nSubject: large\r\n\r\n' + 'x'.repeat(20_000) + '\r\n';

test('imapflow lists, creates, appends, searches, fetches, deletes messages and mailboxes', async (t) => {
  const s = await withServer(t, { capabilities: { specialUse: true } });
  const c = await client(t, s);
  await c.mailboxCreate('Archive/2024');
  const a1 = await c.append('INBOX', small, ['\\Seen'], new Date('2024-01-02T03:04:05Z'));
  const a2 = await c.append('INBOX', large); // over 4 KiB: imapflow uses a synchronizing literal
  assert.equal(a1 && a1.uid, 1);
  assert.equal(a2 && a2.uid, 2);
  const st = await c.status('INBOX', { messages: true, uidNext: true, unseen: true });
  assert.ok(st);
  assert.deepEqual([st.messages, st.uidNext, st.unseen], [2, 3, 1]);
  assert.deepEqual((await c.list()).map((m) => m.path).sort(), ['Archive', 'Archive/2024', 'INBOX']);
  const lock = await c.getMailboxLock('INBOX');
  try {
    assert.deepEqual(await c.search({ header: { 'message-id': '<large@example.org>' } }, { uid: true }), [2]);
    const got = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true, internalDate: true, size: true, source: true, headers: ['message-id'] }, { uid: true })) {
      got.push(m);
    }
    assert.equal(got.length, 2);
    assert.equal(got[0]!.source!.toString(), small);
    assert.equal(got[1]!.source!.toString(), large);
    assert.equal(got[0]!.size, small.length);
    assert.ok(got[0]!.flags!.has('\\Seen'));
    assert.equal((got[0]!.internalDate as Date).toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(got[1]!.headers!.toString().trim(), 'Message-ID: <large@example.org>');
    await c.messageDelete({ uid: '1' }, { uid: true });
    assert.deepEqual(await c.search({ all: true }, { uid: true }), [2]);
  } finally {
    lock.release();
  }
  await c.mailboxDelete('Archive/2024');
  assert.equal(s.store.get('Archive/2024'), undefined);
  assert.equal(s.stats.appended, 2);
});

test('imapflow gets the injected NO [TRYCREATE] as a failed append', async (t) => {
  const s = await withServer(t, { faults: { fail: { code: 'TRYCREATE', times: 1 } } });
  const c = await client(t, s);
  await assert.rejects(c.append('INBOX', small), (err: { serverResponseCode?: string }) => err.serverResponseCode === 'TRYCREATE');
  assert.ok(await c.append('INBOX', small));
});

test('imapflow upgrades with STARTTLS against the self-signed certificate and uses implicit TLS', async (t) => {
  const s = await withServer(t, { tls: 'self-signed', requireTlsForLogin: true });
  const c = await client(t, s, { tls: { rejectUnauthorized: false } });
  // requireTlsForLogin: the login (and so this append) can only have succeeded after STARTTLS.
  assert.ok(await c.append('INBOX', small));
  const s2 = await withServer(t, { implicitTls: true });
  const d = await client(t, s2, { secure: true, tls: { rejectUnauthorized: false } });
  assert.ok(await d.append('INBOX', small));
});

test('a Maildir store writes Maildir++ files and keeps UIDVALIDITY and UIDs across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-server-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s1 = await startServer({ store: { maildir: dir } });
  let validity: bigint | undefined;
  try {
    const c = new ImapFlow({ host: s1.host, port: s1.port, secure: false, auth: { user: 'test', pass: 'test' }, logger: false });
    c.on('error', () => {});
    await c.connect();
    await c.mailboxCreate('Sent');
    const r = await c.append('Sent', small, ['\\Seen']);
    validity = r ? r.uidValidity : undefined;
    await c.append('Sent', large);
    await c.logout();
  } finally {
    await s1.close();
  }
  assert.equal(readdirSync(join(dir, '.Sent', 'cur')).filter((f) => f.endsWith(':2,S')).length, 1);
  const s2 = await withServer(t, { store: { maildir: dir } });
  const c2 = await client(t, s2);
  const st = await c2.status('Sent', { messages: true, uidNext: true, uidValidity: true });
  assert.ok(st);
  assert.deepEqual([st.messages, st.uidNext, st.uidValidity], [2, 3, validity]);
  const r3 = await c2.append('Sent', small);
  assert.equal(r3 && r3.uid, 3);
  const lock = await c2.getMailboxLock('Sent');
  try {
    const m = await c2.fetchOne('2', { source: true, flags: true }, { uid: true });
    assert.equal(m && m.source!.toString(), large);
    await c2.messageDelete({ uid: '1' }, { uid: true });
  } finally {
    lock.release();
  }
  assert.equal(readdirSync(join(dir, '.Sent', 'cur')).length, 2);
});
