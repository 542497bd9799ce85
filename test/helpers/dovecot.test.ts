// The private-Dovecot helper itself: config rendering (unit), and start/restart/empty/stop, LD_PRELOAD of the
// quick-ACK shim and the size limit against the real binary (integration, skipped with the reason when absent).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildQuickAckShim, dovecotSkipReason, renderConfig, startDovecot, type DovecotInstance } from './dovecot.js';

const skip = dovecotSkipReason();
if (skip) console.log(`# Dovecot helper integration tests skipped: ${skip}`);

/** One IMAP session over a bare socket: sends each line after the previous tagged reply, returns all replies. */
async function session(port: number, lines: Array<string | Buffer[]>, onLoggedIn?: () => void): Promise<string[]> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setEncoding('latin1');
  let buf = '';
  const replies: string[] = [];
  const next = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(buf);
        if (!m) return;
        // Everything up to and including the tagged line, so untagged data (STATUS, ...) is kept.
        const upTo = buf.slice(0, m.index + m[0].length);
        buf = buf.slice(m.index + m[0].length);
        sock.off('data', onData);
        sock.off('error', reject);
        resolve(upTo);
      };
      const onData = (s: string) => {
        buf += s;
        check();
      };
      sock.on('data', onData);
      sock.once('error', reject);
      check();
    });
  try {
    replies.push(await next(/^\* OK.*\r\n/m));
    for (let i = 0; i < lines.length; i++) {
      const tag = `t${i}`;
      const l = lines[i]!;
      if (Array.isArray(l)) for (const part of l) sock.write(part);
      else sock.write(`${tag} ${l}\r\n`);
      replies.push(await next(new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, 'm')));
      if (i === 0) onLoggedIn?.();
    }
    return replies;
  } finally {
    sock.destroy();
  }
}

function appendLines(tag: string, mailbox: string, msg: string): Buffer[] {
  const body = Buffer.from(msg, 'latin1');
  return [Buffer.from(`${tag} APPEND ${mailbox} {${body.length}+}\r\n`), body, Buffer.from('\r\n')];
}

const MSG = 'From: a@example.org\r\nSubject: helper test\r\nMessage-ID: <helper@test>\r\n\r\nhello\r\n';

describe('renderConfig', () => {
  const base = { dir: '/tmp/x', port: 1143, mailUid: 65534, mailGid: 65534 };

  test('the config listens on loopback only, includes nothing from /etc/dovecot and keeps everything in the temp dir', () => {
    const conf = renderConfig({ ...base, options: {} });
    const settings = conf.split('\n').filter((l) => !l.startsWith('#'));
    assert.ok(!settings.some((l) => l.includes('!include')));
    assert.ok(!settings.some((l) => l.includes('/etc/dovecot')));
    assert.match(conf, /^listen = 127\.0\.0\.1$/m);
    assert.match(conf, /^base_dir = \/tmp\/x\/run$/m);
    assert.match(conf, /^state_dir = \/tmp\/x\/state$/m);
    assert.match(conf, /^log_path = \/tmp\/x\/dovecot\.log$/m);
    assert.match(conf, /^mail_location = maildir:\/tmp\/x\/Maildir:LAYOUT=fs$/m);
    assert.match(conf, /^ {4}port = 1143$/m);
    assert.match(conf, /^ssl = no$/m);
  });

  test('defaults are fsync never and 64 connections per user and IP; options override them', () => {
    const d = renderConfig({ ...base, options: {} });
    assert.match(d, /^mail_fsync = never$/m);
    assert.match(d, /^mail_max_userip_connections = 64$/m);
    const o = renderConfig({ ...base, options: { fsync: 'optimized', maxUserIpConnections: 7 } });
    assert.match(o, /^mail_fsync = optimized$/m);
    assert.match(o, /^mail_max_userip_connections = 7$/m);
  });

  test('preload goes into import_environment as LD_PRELOAD=path', () => {
    const conf = renderConfig({ ...base, options: { preload: '/tmp/shim.so' } });
    assert.match(conf, /^import_environment = .*\bLD_PRELOAD=\/tmp\/shim\.so$/m);
    assert.throws(() => renderConfig({ ...base, options: { preload: '/tmp/a b.so' } }));
  });

  test('imap_ plugins go to protocol imap, others to mail_plugins, and maxMailSize loads quota', () => {
    const conf = renderConfig({ ...base, options: { mailPlugins: ['imap_zlib', 'zlib'], maxMailSize: 1000 } });
    assert.match(conf, /^mail_plugins = \$mail_plugins zlib quota$/m);
    assert.match(conf, /^protocol imap \{\n {2}mail_plugins = \$mail_plugins imap_zlib\n\}$/m);
    assert.match(conf, /quota_max_mail_size = 1000/);
  });

  test('as non-root every internal user is the current user and chroots are emptied', () => {
    const conf = renderConfig({ ...base, selfUser: { name: 'me', group: 'us' }, options: {} });
    assert.match(conf, /^default_internal_user = me$/m);
    assert.match(conf, /^default_login_user = me$/m);
    assert.match(conf, /^default_internal_group = us$/m);
    const login = conf.slice(conf.indexOf('service imap-login {'));
    assert.match(login.slice(0, login.indexOf('\n}\n') + 3), /^ {2}chroot =$/m);
    assert.ok(!renderConfig({ ...base, options: {} }).includes('chroot ='));
  });

  test('tls adds the certificate and an implicit-TLS listener', () => {
    const conf = renderConfig({ ...base, tlsPort: 1993, certFile: '/c.pem', keyFile: '/k.pem', options: { tls: true } });
    assert.match(conf, /^ssl = yes$/m);
    assert.match(conf, /^ssl_cert = <\/c\.pem$/m);
    assert.match(conf, /port = 1993\n {4}ssl = yes/);
  });
});

describe('a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  before(async () => {
    d = await startDovecot();
  });
  after(async () => {
    await d?.stop();
  });

  test('it greets on 127.0.0.1, logs the random user in and accepts an APPEND', async () => {
    assert.match(d.version, /^2\.\d+/);
    assert.ok(d.password.length >= 16);
    const r = await session(d.port, [`LOGIN ${d.user} ${d.password}`, appendLines('t1', 'INBOX', MSG), 'LOGOUT']);
    assert.match(r[0]!, /^\* OK .*Dovecot/);
    assert.match(r[1]!, /^t0 OK .*MULTIAPPEND/);
    assert.match(r[2]!, /^t1 OK \[APPENDUID \d+ 1\]/m);
    const files = readdirSync(`${d.maildir}/new`).concat(readdirSync(`${d.maildir}/cur`));
    assert.equal(files.length, 1, 'the message is in the instance Maildir');
  });

  test('a wrong password is refused', async () => {
    const r = await session(d.port, [`LOGIN ${d.user} not-${d.password}`]);
    assert.match(r[1]!, /^t0 NO/m);
  });

  test('restart keeps the port and the mail and gets a new master pid', async () => {
    const oldPid = d.pid;
    const port = d.port;
    await d.restart();
    assert.equal(d.port, port);
    assert.notEqual(d.pid, oldPid);
    const r = await session(d.port, [`LOGIN ${d.user} ${d.password}`, 'STATUS INBOX (MESSAGES)']);
    assert.match(r.join(''), /MESSAGES [1-9]/);
  });

  test('emptyAccount deletes every message and every folder except INBOX', async () => {
    await session(d.port, [`LOGIN ${d.user} ${d.password}`, 'CREATE A/B/C', 'CREATE Other', appendLines('t3', 'A/B', MSG)]);
    await d.emptyAccount();
    const list = (await d.doveadm(['mailbox', 'list', '-u', d.user])).trim().split('\n');
    assert.deepEqual(list, ['INBOX']);
    const status = await d.doveadm(['mailbox', 'status', '-u', d.user, 'messages', 'INBOX']);
    assert.match(status, /messages=0/);
  });
});

describe('a private Dovecot started with the quick-ACK shim preloaded', { skip }, () => {
  let d: DovecotInstance;
  let shim: string;
  before(async () => {
    shim = await buildQuickAckShim();
    d = await startDovecot({ preload: shim });
  });
  after(async () => {
    await d?.stop();
  });

  test('the shim is built once and the imap process maps it while accepting an APPEND', async () => {
    assert.ok(existsSync(shim));
    assert.equal(await buildQuickAckShim(), shim, 'cached');
    let mapped: boolean | undefined;
    const r = await session(d.port, [`LOGIN ${d.user} ${d.password}`, appendLines('t1', 'INBOX', MSG), 'NOOP'], () => {
      // While logged in, the master has an imap child; its memory map proves LD_PRELOAD reached it.
      // (/proc/<pid>/environ cannot: Dovecot's process title overwrites it.)
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
          if (ppid === d.pid && /^dovecot\/imap(\s|\0|$)/.test(cmd)) {
            mapped = readFileSync(`/proc/${name}/maps`, 'utf8').includes(shim);
          }
        } catch {
          // process ended meanwhile
        }
      }
    });
    assert.match(r[2]!, /^t1 OK \[APPENDUID/m);
    assert.equal(mapped, true, 'found the imap process and the shim in its maps');
  });
});

describe('a private Dovecot with maxMailSize', { skip }, () => {
  let d: DovecotInstance;
  before(async () => {
    d = await startDovecot({ maxMailSize: 2000 });
  });
  after(async () => {
    await d?.stop();
  });

  test('a message above the limit is refused and one below it is stored', async () => {
    const big = MSG + 'x'.repeat(3000) + '\r\n';
    const r = await session(d.port, [`LOGIN ${d.user} ${d.password}`, appendLines('t1', 'INBOX', big), appendLines('t2', 'INBOX', MSG)]);
    assert.match(r[2]!, /^t1 NO/m);
    assert.match(r[3]!, /^t2 OK/m);
  });
});
