// The private-Courier helper: the namespace script (unit), and start, LOGIN, CAPABILITY, NAMESPACE, CREATE, APPEND,
// LIST, STATUS, quota and stop against the unpacked binaries (integration, skipped with the reason when
// .ci/install-servers has not run or we are not root).

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { courierSkipReason, renderCourierScript, startCourier, type CourierInstance } from './courier.js';
import { pidAlive, processGroup } from './process-tree.js';
import { refused, session, type SessionLine } from './raw-session.js';

const skip = courierSkipReason();
if (skip) console.log(`# Courier helper integration tests skipped: ${skip}`);

const MSG = 'From: a@example.org\r\nSubject: courier helper\r\nMessage-ID: <courier-helper@test>\r\n\r\nhello\r\n';

describe('the Courier namespace script', () => {
  const base = { dir: '/tmp/mm-courier-x', tree: '/repo/.cache/servers/courier', port: 1143, env: {} };

  test('it overlays the unpacked tree on /usr and /etc, binds a private /run and listens on loopback only', () => {
    const s = renderCourierScript(base);
    assert.match(s, /^mount -t overlay \S+ -o lowerdir=\/repo\/\.cache\/servers\/courier\/usr:\/usr \/usr$/m);
    assert.match(s, /^mount -t overlay \S+ -o lowerdir=\/tmp\/mm-courier-x\/etc:\/repo\/\.cache\/servers\/courier\/etc:\/etc \/etc$/m);
    assert.match(s, /^mount --bind \/tmp\/mm-courier-x\/run \/run$/m);
    assert.match(s, /couriertcpd -address=127\.0\.0\.1 .* 1143 /);
    // Gamin's socket is named per instance (abstract sockets are shared by every instance: they live in the network
    // namespace), exported before couriertcpd starts the imapds
    assert.match(s, /^GAM_CLIENT_ID='mm-courier-x'$/m);
    assert.ok(s.indexOf('set -a') < s.indexOf('GAM_CLIENT_ID') && s.indexOf('GAM_CLIENT_ID') < s.indexOf('set +a'));
    // the user database is built before its dir becomes a read-only overlay layer
    assert.ok(s.indexOf('makeuserdb') < s.indexOf('lowerdir=/tmp/mm-courier-x/etc'));
  });

  test('settings override the package defaults after they are read, and odd names or paths are refused', () => {
    const s = renderCourierScript({ ...base, env: { MAXPERIP: '4', IMAP_CAPABILITY: "IMAP4rev1 it's" } });
    assert.ok(s.indexOf("MAXPERIP='4'") > s.indexOf('. /etc/courier/imapd'));
    assert.match(s, /IMAP_CAPABILITY='IMAP4rev1 it'\\''s'/);
    assert.throws(() => renderCourierScript({ ...base, env: { 'A;rm': 'x' } }), /bad Courier setting name/);
    assert.throws(() => renderCourierScript({ ...base, dir: '/tmp/a,b' }), /overlay/);
  });
});

describe('a private Courier', { skip }, () => {
  let c: CourierInstance;
  before(async () => {
    c = await startCourier({ users: ['alice', 'bob'] });
  });
  after(async () => {
    await c?.stop();
  });

  test('it greets on 127.0.0.1 as Courier-IMAP and accepts the right password', async () => {
    const u = c.users[0]!;
    const r = await session(c.port, [`LOGIN ${u.name} ${u.password}`, 'LOGOUT']);
    assert.match(r[0]!, /^\* OK .*Courier-IMAP ready/);
    assert.match(r[1]!, /^t0 OK/m);
    assert.doesNotMatch(r[1]!, /ALERT/, 'no FAM/Gamin alert: gam_server is unpacked too');
    assert.match(c.version, /^5\./);
  });

  test("a wrong password is refused, and one user's password does not open another account", async () => {
    const [alice, bob] = c.users;
    assert.match((await session(c.port, [`LOGIN ${alice!.name} not-${alice!.password}`]))[1]!, /^t0 NO/m);
    assert.match((await session(c.port, [`LOGIN ${alice!.name} ${bob!.password}`]))[1]!, /^t0 NO/m);
  });

  test('CAPABILITY is Debian\'s: UIDPLUS, NAMESPACE, QUOTA, UTF8=ACCEPT, but neither LITERAL+ nor MULTIAPPEND', async () => {
    const u = c.users[0]!;
    const r = await session(c.port, [`LOGIN ${u.name} ${u.password}`, 'CAPABILITY']);
    const caps = /^\* CAPABILITY (.*)\r$/m.exec(r[2]!)?.[1]?.split(' ') ?? [];
    for (const cap of ['IMAP4rev1', 'UIDPLUS', 'NAMESPACE', 'QUOTA', 'UTF8=ACCEPT']) assert.ok(caps.includes(cap), `${cap} in ${caps.join(' ')}`);
    for (const cap of ['LITERAL+', 'MULTIAPPEND']) assert.ok(!caps.includes(cap), `${cap} not in ${caps.join(' ')}`);
  });

  test('NAMESPACE reports the personal prefix "INBOX." and the delimiter "."', async () => {
    const u = c.users[0]!;
    const r = await session(c.port, [`LOGIN ${u.name} ${u.password}`, 'NAMESPACE']);
    assert.match(r[2]!, /^\* NAMESPACE \(\("INBOX\." "\."\)\)/m);
  });

  test('CREATE, APPEND, LIST and STATUS work, and the folder is a Maildir++ subfolder on disk', async () => {
    const u = c.users[0]!;
    const r = await session(c.port, [
      `LOGIN ${u.name} ${u.password}`,
      'CREATE INBOX.Work',
      { append: 'INBOX.Work', message: MSG, flags: '\\Seen' },
      { append: 'INBOX', message: MSG },
      'LIST "" "*"',
      'STATUS INBOX.Work (MESSAGES UIDNEXT)',
      'STATUS INBOX (MESSAGES)',
    ]);
    assert.match(r[2]!, /^t1 OK/m);
    assert.match(r[3]!, /^t2 OK \[APPENDUID \d+ 1\]/m);
    assert.match(r[4]!, /^t3 OK \[APPENDUID \d+ 1\]/m);
    assert.match(r[5]!, /^\* LIST \([^)]*\) "\." "INBOX"\r$/m);
    assert.match(r[5]!, /^\* LIST \([^)]*\) "\." "INBOX\.Work"\r$/m);
    assert.match(r[6]!, /^\* STATUS "INBOX\.Work" \(MESSAGES 1 UIDNEXT 2\)/m);
    assert.match(r[7]!, /^\* STATUS "INBOX" \(MESSAGES 1\)/m);
    assert.equal(readdirSync(join(u.maildir, '.Work', 'cur')).length, 1);
  });

  test('the other user sees none of it (separate Maildirs)', async () => {
    const b = c.users[1]!;
    const r = await session(c.port, [`LOGIN ${b.name} ${b.password}`, 'STATUS INBOX (MESSAGES)', 'LIST "" "*"']);
    assert.match(r[2]!, /\(MESSAGES 0\)/);
    assert.doesNotMatch(r[3]!, /Work/);
  });
});

describe('a private Courier with a quota', { skip }, () => {
  let c: CourierInstance;
  before(async () => {
    c = await startCourier({ quotaBytes: 3000 });
  });
  after(async () => {
    await c?.stop();
  });

  test('an APPEND beyond the Maildir++ quota is refused with "NO [ALERT] You exceeded your mail quota." (no [OVERQUOTA])', async () => {
    const u = c.users[0]!;
    const r = await session(c.port, [`LOGIN ${u.name} ${u.password}`, 'GETQUOTAROOT INBOX', { append: 'INBOX', message: 'x'.repeat(5000) }]);
    assert.match(r[2]!, /^\* QUOTA "ROOT" \(STORAGE 0 3\)/m);
    assert.match(r[3]!, /^t2 NO \[ALERT\] You exceeded your mail quota\.\r$/m);
  });
});

describe('two private Courier instances at once', { skip }, () => {
  let a: CourierInstance;
  let b: CourierInstance;
  before(async () => {
    [a, b] = await Promise.all([startCourier(), startCourier()]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  // Regression: a waiter for Courier's folder lock (tmp/courier.lock) sleeps in Gamin (FAM) until the lock file is
  // deleted, for up to 120 s. Gamin's server is found by an abstract socket name (@/tmp/fam-nobody-), and abstract
  // sockets belong to the network namespace, which every instance shares: an imapd of one instance reached the
  // gam_server of another, which aborted on a peer pid of 0 ("gam_listener_new: assertion failed: (pid != 0)"), and
  // the lock's deletion event was lost in the reconnect. Measured under load: an APPEND held 120 s (the import
  // printed "Server silent for 60 s") while no lock file existed; 195 "end from FAM server connection" in one log.
  test("each instance's imapds talk to their own Gamin server: APPENDs into both at once break no FAM connection", async () => {
    const appends = (c: CourierInstance): SessionLine[] => {
      const u = c.users[0]!;
      const lines: SessionLine[] = [`LOGIN ${u.name} ${u.password}`];
      for (let i = 0; i < 15; i++) lines.push({ append: 'INBOX', message: MSG.replace('courier-helper@', `courier-helper-${i}@`) });
      return lines;
    };
    const sessions = await Promise.all([a, b, a, b].map((c) => session(c.port, appends(c), 30_000)));
    for (const r of sessions) for (const reply of r.slice(2)) assert.match(reply, /^t\d+ OK /m);
    for (const c of [a, b]) {
      const log = await readFile(c.logFile, 'utf8');
      assert.doesNotMatch(log, /end from FAM server connection|Failed to connect to socket|FAM/, `${c.logFile}:\n${log}`);
    }
  });
});

describe('stopping a private Courier', { skip }, () => {
  test('stop() ends couriertcpd, the authdaemon and every imapd, and the port is closed', async () => {
    const c = await startCourier();
    const u = c.users[0]!;
    const sock = net.connect(c.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write(`a LOGIN ${u.name} ${u.password}\r\n`);
    await new Promise((r) => setTimeout(r, 300));
    const before = c.processes();
    // unshare, couriertcpd, two authdaemond workers and their parent, the client's imapd
    assert.ok(before.length >= 5, `the whole tree is seen (${before.join(', ')})`);
    // Regression: Courier's tree signals its own process group on SIGTERM; sharing ours, it killed the test runner.
    assert.notEqual(processGroup(c.pid), processGroup(process.pid), 'the server runs in its own process group');
    const stopped = await c.stop();
    sock.destroy();
    for (const p of [...before, ...stopped]) assert.equal(pidAlive(p), false, `pid ${p} is gone`);
    assert.equal(await refused(c.port), true, 'nothing listens on the port any more');
  });
});
