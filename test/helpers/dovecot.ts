// A private, real Dovecot for integration tests and benchmarks.
//
// Each instance lives in its own temp dir: config, base_dir (sockets, master.pid), state_dir, log, passwd-file and
// the Maildir. Nothing is read from /etc/dovecot (no !include), and it listens on 127.0.0.1 only, on a random port.
//
// Mail layout: `maildir:<tmp>/Maildir:LAYOUT=fs` — folders are plain directories under Maildir and the hierarchy
// delimiter is '/', so what a test sees on disk mirrors the IMAP tree (Maildir++'s default '.' layout would
// store "A/B" as ".A.B").
//
// Users and privileges (Dovecot 2.3):
// - As root (CI and this machine): Dovecot refuses to run mail processes as uid 0 *whatever first_valid_uid says*
//   ("userdb returned 0 as uid", measured on 2.3.19), so the mail user is `nobody` (65534) and the Maildir and home
//   are chowned to it; root can still read them. The master needs its own internal users `dovecot` (auth, anvil,
//   stats) and `dovenull` (imap-login, chrooted), both created by the Debian package. The auth process runs as
//   `dovecot`, so the passwd-file is root:dovecot 0640 and the temp dir is 0711 (traversable, not listable).
// - As non-root: the master cannot setuid or chroot, so every internal/login user is set to the current user,
//   the chroots are emptied and mail runs as the current uid/gid. Everything stays inside the temp dir and the
//   port is > 1024, so no privilege is needed. (Dovecot documents this as "running Dovecot as a non-root user".)
//
// LD_PRELOAD (the quick-ACK shim for benchmarks) reaches the imap processes through `import_environment =
// ... LD_PRELOAD=<path>`: the master puts key=value entries into every child's environment. /proc/<pid>/environ
// cannot prove it, because Dovecot's process-title code overwrites that memory (it reads as blanks); the test
// checks /proc/<pid>/maps of the imap process for the shared object instead.
//
// Stopping: by the master's own pid (base_dir/master.pid): SIGTERM, wait, then SIGKILL for the master and any of
// its remaining children — never by process name. Instances still running when the process exits are killed
// synchronously from an 'exit' handler (and on SIGINT/SIGTERM, which otherwise skip 'exit').

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pidAlive, processTree } from './process-tree.js';
import { waitForGreeting } from './raw-session.js';

const execFileP = promisify(execFile);

export interface DovecotOptions {
  /** mail_fsync; default 'never' (fsync costs 15–35 % here, docs/measurements.md) */
  fsync?: 'never' | 'optimized';
  /** mail_max_userip_connections; Dovecot's default is 10, ours 64 */
  maxUserIpConnections?: number;
  /** Self-signed cert (openssl CLI): STARTTLS on the plain port plus an implicit-TLS port (tlsPort) */
  tls?: boolean;
  /** LD_PRELOAD path for Dovecot's processes (bench: buildQuickAckShim()) */
  preload?: string;
  /** Max message size in bytes (quota plugin's quota_max_mail_size): bigger APPENDs get NO. Dovecot 2.3.19 does not
   *  advertise APPENDLIMIT (RFC 7889) for it — no binary or plugin here contains that string. */
  maxMailSize?: number;
  /** Extra mail plugins; names starting with "imap_" go to `protocol imap` (e.g. imap_zlib for COMPRESS) */
  mailPlugins?: string[];
  /** Declare Drafts/Sent/Junk/Trash/Archive with special_use (auto = no): advertises SPECIAL-USE. Default false,
   *  so the capabilities match a stock config (docs/measurements.md). A record (folder name → use, e.g.
   *  { 'Sent Items': '\\Sent' }) declares those names instead, as a localized or Exchange-style server has them. */
  specialUseMailboxes?: boolean | Record<string, string>;
  /** More users (name → password) besides the default one, e.g. for fleet tests with many accounts. When given, each
   *  user gets its own Maildir (<dir>/users/<name>) and home, the default user included; without it nothing changes. */
  extraUsers?: Record<string, string>;
}

export interface DovecotInstance {
  host: '127.0.0.1';
  port: number;
  tlsPort?: number;
  user: string;
  password: string;
  baseDir: string;
  maildir: string;
  caFile?: string;
  pid: number;
  version: string;
  /** The config file, for doveadm -c and for reading in a failing test */
  configFile: string;
  logFile: string;
  stop(): Promise<void>;
  /** Same port, same mail, new master pid */
  restart(): Promise<void>;
  /** Runs `doveadm -c <conf> <args>`; returns stdout. Pass `-u <user>` yourself for mail commands. */
  doveadm(args: string[]): Promise<string>;
  /** Deletes every message and every folder except INBOX */
  emptyAccount(): Promise<void>;
}

const DOVECOT_PATHS = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'];

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export function dovecotBinary(): string | undefined {
  return DOVECOT_PATHS.find((p) => existsSync(p)) ?? findOnPath('dovecot');
}

function doveadmBinary(dovecot: string): string {
  const sibling = join(dirname(dovecot), '..', 'bin', 'doveadm');
  return existsSync(sibling) ? sibling : (findOnPath('doveadm') ?? 'doveadm');
}

interface Account {
  uid: number;
  gid: number;
}

function lookupPasswd(name: string): Account | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function lookupGroupId(name: string): number | undefined {
  const r = spawnSync('getent', ['group', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return Number(r.stdout.trim().split(':')[2]);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** undefined when a private Dovecot can be started here; else why not (shown as the test's skip reason). */
export function dovecotSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `private Dovecot tests need Linux (this is ${process.platform})`;
  const bin = dovecotBinary();
  if (!bin) return 'no dovecot binary (looked in /usr/sbin, /usr/local/sbin and PATH); install dovecot-imapd, or run .ci/run';
  if (isRoot()) {
    for (const u of ['dovecot', 'dovenull', 'nobody']) {
      if (!lookupPasswd(u)) return `running as root but system user "${u}" is missing (the Debian dovecot-core package creates it)`;
    }
  }
  return undefined;
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read it, close. The caller retries on EADDRINUSE. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ConfigInput {
  dir: string;
  port: number;
  tlsPort?: number | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  mailUid: number;
  mailGid: number;
  /** Set only when not root: the current user becomes every internal user (no setuid/chroot possible) */
  selfUser?: { name: string; group: string } | undefined;
  options: DovecotOptions;
}

/** The whole dovecot.conf as a string; pure, so it can be unit-tested. */
export function renderConfig(c: ConfigInput): string {
  const o = c.options;
  const importEnv = ['TZ', 'CORE_OUTOFMEM', 'CORE_ERROR', 'LISTEN_PID', 'LISTEN_FDS'];
  if (o.preload) {
    if (/\s/.test(o.preload)) throw new Error(`preload path must not contain spaces: ${o.preload}`);
    importEnv.push(`LD_PRELOAD=${o.preload}`);
  }
  const plugins = o.mailPlugins ?? [];
  const generalPlugins = plugins.filter((p) => !p.startsWith('imap_'));
  const imapPlugins = plugins.filter((p) => p.startsWith('imap_'));
  if (o.maxMailSize !== undefined && !generalPlugins.includes('quota')) generalPlugins.push('quota');

  const lines: string[] = [
    '# Generated by test/helpers/dovecot.ts: private test instance, loopback only. Includes nothing from /etc/dovecot.',
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${c.dir}/run`,
    `state_dir = ${c.dir}/state`,
    `log_path = ${c.dir}/dovecot.log`,
    `info_log_path = ${c.dir}/dovecot.log`,
    'log_timestamp = "%Y-%m-%d %H:%M:%S "',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    // Failed logins are answered at once (default 2 s): tests check wrong passwords on purpose.
    'auth_failure_delay = 0',
    // Mail runs as `nobody` when we are root, as ourselves otherwise; both must pass the uid/gid range checks.
    'first_valid_uid = 0',
    'first_valid_gid = 0',
    // With extra users every user needs a mailbox of their own; the single-user layout stays as it always was.
    o.extraUsers ? `mail_location = maildir:${c.dir}/users/%u:LAYOUT=fs` : `mail_location = maildir:${c.dir}/Maildir:LAYOUT=fs`,
    `mail_fsync = ${o.fsync ?? 'never'}`,
    `mail_max_userip_connections = ${o.maxUserIpConnections ?? 64}`,
    `import_environment = ${importEnv.join(' ')}`,
    // The test user's sessions should end when we stop the instance, not linger.
    'shutdown_clients = yes',
  ];
  if (generalPlugins.length) lines.push(`mail_plugins = $mail_plugins ${generalPlugins.join(' ')}`);
  if (c.selfUser) {
    lines.push(
      `default_internal_user = ${c.selfUser.name}`,
      `default_internal_group = ${c.selfUser.group}`,
      `default_login_user = ${c.selfUser.name}`,
    );
  }
  if (c.certFile && c.keyFile) {
    lines.push('ssl = yes', `ssl_cert = <${c.certFile}`, `ssl_key = <${c.keyFile}`, 'ssl_min_protocol = TLSv1.2');
  } else {
    lines.push('ssl = no');
  }
  lines.push(
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${c.dir}/passwd`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${c.mailUid} gid=${c.mailGid} home=${c.dir}/home${o.extraUsers ? '/%u' : ''}`,
    '}',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
  );
  if (o.specialUseMailboxes) {
    const declared =
      typeof o.specialUseMailboxes === 'object'
        ? Object.entries(o.specialUseMailboxes)
        : [
            ['Drafts', '\\Drafts'],
            ['Sent', '\\Sent'],
            ['Junk', '\\Junk'],
            ['Trash', '\\Trash'],
            ['Archive', '\\Archive'],
          ];
    for (const [name, use] of declared) {
      lines.push(`  mailbox ${JSON.stringify(name)} {`, `    special_use = ${use}`, '  }');
    }
  }
  lines.push('}');
  const chroot = c.selfUser ? ['  chroot ='] : [];
  lines.push(
    'service imap-login {',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${c.port}`,
    '  }',
    '  inet_listener imaps {',
    '    address = 127.0.0.1',
    `    port = ${c.tlsPort ?? 0}`,
    ...(c.tlsPort ? ['    ssl = yes'] : []),
    '  }',
    ...chroot,
    '}',
  );
  if (c.selfUser) {
    // A non-root master cannot chroot; these services chroot by default in 2.3.
    for (const svc of ['anvil', 'imap-urlauth-login', 'imap-urlauth']) lines.push(`service ${svc} {`, '  chroot =', '}');
  }
  if (imapPlugins.length) lines.push('protocol imap {', `  mail_plugins = $mail_plugins ${imapPlugins.join(' ')}`, '}');
  if (o.maxMailSize !== undefined) {
    // Only the per-message limit; the quota itself stays unlimited. (2.3.19 refuses, but does not advertise APPENDLIMIT.)
    lines.push('plugin {', '  quota = maildir:User quota', `  quota_max_mail_size = ${o.maxMailSize}`, '}');
  }
  return lines.join('\n') + '\n';
}

// ---- process bookkeeping ---------------------------------------------------------------------------------------

const live = new Set<{ pidFile: string }>();
let exitHookInstalled = false;

/** Children of `pid` (from /proc/<n>/stat field 4): the master's own processes, not matched by name. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function readPid(pidFile: string): number | undefined {
  try {
    const n = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Last resort from 'exit'/signal handlers, where nothing asynchronous runs any more. */
function killSync(pidFile: string): void {
  const pid = readPid(pidFile);
  if (!pid || !pidAlive(pid)) return;
  const children = childPids(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) sleepSync(20);
  for (const p of pidAlive(pid) ? [pid, ...children] : children) {
    try {
      if (pidAlive(p)) spawnSync('kill', ['-KILL', String(p)]);
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const inst of live) killSync(inst.pidFile);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const inst of live) killSync(inst.pidFile);
      process.kill(process.pid, sig); // default action now that our listener is gone
    });
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await execFileP('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile,
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}

function tail(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export async function startDovecot(options: DovecotOptions = {}): Promise<DovecotInstance> {
  const reason = dovecotSkipReason();
  if (reason) throw new Error(reason);
  const bin = dovecotBinary()!;
  const doveadm = doveadmBinary(bin);
  const version = (await execFileP(bin, ['--version'])).stdout.trim().split(/\s+/)[0] ?? 'unknown';

  const root = isRoot();
  const dir = await mkdtemp(join(tmpdir(), 'mailmigrate-dovecot-'));
  // 0711: Dovecot's unprivileged processes (auth as `dovecot`, mail as `nobody`) must traverse it.
  await chmod(dir, 0o711);
  const user = 'mm-test';
  const password = randomBytes(12).toString('hex');

  let mail: Account;
  let selfUser: ConfigInput['selfUser'];
  if (root) {
    mail = lookupPasswd('nobody')!;
  } else {
    mail = { uid: process.getuid!(), gid: process.getgid!() };
    const me = userInfo().username;
    const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || me;
    selfUser = { name: me, group };
  }

  for (const d of ['run', 'state', 'home', 'Maildir']) await mkdir(join(dir, d));
  await chown(join(dir, 'home'), mail.uid, mail.gid);
  await chown(join(dir, 'Maildir'), mail.uid, mail.gid);
  if (options.extraUsers) {
    await mkdir(join(dir, 'users'));
    await chown(join(dir, 'users'), mail.uid, mail.gid);
  }
  const passwdFile = join(dir, 'passwd');
  const extra = Object.entries(options.extraUsers ?? {});
  for (const [name, pw] of extra) {
    // passwd-file fields are ':'-separated; a name or password holding ':' or a line break would corrupt the file.
    if (/[:\s]/.test(name) || /[:\r\n]/.test(pw) || name === user) throw new Error(`extraUsers: unusable user "${name}"`);
  }
  await writeFile(passwdFile, [[user, password], ...extra].map(([n, p]) => `${n}:{PLAIN}${p}\n`).join(''), { mode: 0o640 });
  if (root) {
    const dovecotGid = lookupGroupId('dovecot');
    if (dovecotGid !== undefined) await chown(passwdFile, 0, dovecotGid);
  }

  const cert = options.tls ? await makeCertificate(dir) : undefined;
  const configFile = join(dir, 'dovecot.conf');
  const logFile = join(dir, 'dovecot.log');
  const pidFile = join(dir, 'run', 'master.pid');
  const handle = { pidFile };

  let port = 0;
  let tlsPort: number | undefined;

  const launch = async (): Promise<number> => {
    // The master daemonizes and its forked copy inherits our stdio: with pipes, spawnSync would wait for the
    // daemon to close them, i.e. forever. A file lets spawnSync return when the foreground process exits.
    const errFile = join(dir, 'startup.err');
    const fd = openSync(errFile, 'w');
    let res;
    try {
      res = spawnSync(bin, ['-c', configFile], { stdio: ['ignore', fd, fd], timeout: 30_000 });
    } finally {
      closeSync(fd);
    }
    if (res.status !== 0) {
      const out = (await readFile(errFile, 'utf8').catch(() => '')) + '\n' + (await readFile(logFile, 'utf8').catch(() => ''));
      const err = new Error(`dovecot failed to start (exit ${res.status ?? res.signal}): ${tail(out)}`);
      (err as NodeJS.ErrnoException).code = /Address already in use/.test(out) ? 'EADDRINUSE' : 'EDOVECOT';
      throw err;
    }
    live.add(handle);
    installExitHook();
    // The daemonized master writes master.pid a moment after the foreground process has exited.
    let pid = readPid(pidFile);
    for (let i = 0; !pid && i < 500; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pid = readPid(pidFile);
    }
    if (!pid) throw new Error(`dovecot started but ${pidFile} did not appear within 10 s`);
    try {
      // Dovecot forks imap-login lazily after the listener is up: wait for a real greeting, not only the port.
      await waitForGreeting(port, 10_000);
    } catch (err) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`${(err as Error).message}\n${tail(log)}`);
    }
    return pid;
  };

  let pid = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    tlsPort = cert ? await freePort() : undefined;
    await writeFile(
      configFile,
      renderConfig({ dir, port, tlsPort, certFile: cert?.certFile, keyFile: cert?.keyFile, mailUid: mail.uid, mailGid: mail.gid, selfUser, options }),
    );
    try {
      pid = await launch();
      break;
    } catch (err) {
      // Another process may take the port between our probe and Dovecot's bind: try fresh ports a few times.
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      killSync(pidFile);
      live.delete(handle);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  // The end of an instance (stop()): nothing of it is looked at afterwards, so no graceful shutdown. SIGTERM made
  // the master take ~1.1 s to exit (it waits for its services), and ~100 instances start and stop in one `npm test`
  // (issue 13). Stopped first, so it forks nothing after its tree is listed; then all of it, by pid.
  const killMaster = async (): Promise<void> => {
    const p = readPid(pidFile) ?? pid;
    if (!p || !pidAlive(p)) return;
    try {
      process.kill(p, 'SIGSTOP');
    } catch {
      return;
    }
    const all = processTree(p);
    for (const c of all) {
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const c of all) await waitGone(c, 2000);
  };

  // A service restart (restart()): SIGTERM, as an admin's `systemctl restart` does.
  const stopMaster = async (): Promise<void> => {
    const p = readPid(pidFile) ?? pid;
    if (!p || !pidAlive(p)) return;
    const children = childPids(p);
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      return;
    }
    // The clients' imap processes go at once, as in a service restart: the master itself takes ~1 s to exit.
    for (const c of children) {
      try {
        process.kill(c, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    if (!(await waitGone(p, 5000))) {
      for (const c of [p, ...children]) if (pidAlive(c)) process.kill(c, 'SIGKILL');
      await waitGone(p, 2000);
    }
    // Measured here: after SIGTERM to the master, its imap children can live on (re-parented to init) and keep
    // serving their clients, so a "restart" would cut nobody. Stop them too — they are ours, by pid — so stop() and
    // restart() behave like a real service restart (shutdown_clients = yes) and the port is really released.
    for (const c of children) {
      if (!pidAlive(c)) continue;
      try {
        process.kill(c, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    for (const c of children) {
      if (!(await waitGone(c, 1000)) && pidAlive(c)) {
        try {
          process.kill(c, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await waitGone(c, 1000);
      }
    }
  };

  const instance: DovecotInstance = {
    host: '127.0.0.1',
    port,
    user,
    password,
    baseDir: dir,
    maildir: options.extraUsers ? join(dir, 'users', user) : join(dir, 'Maildir'),
    pid,
    version,
    configFile,
    logFile,
    async stop() {
      if (!live.has(handle)) return;
      await killMaster();
      live.delete(handle);
      if (!process.env.MAILMIGRATE_KEEP_DOVECOT) await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      if (!live.has(handle)) throw new Error('restart() after stop()');
      await stopMaster();
      live.delete(handle);
      let lastErr: unknown;
      // Same port: Dovecot sets SO_REUSEADDR, so only a briefly lingering child can hold it; retry for ~2 s.
      for (let i = 0; i < 20; i++) {
        // Dovecot refuses to start while master.pid names a process kill(0) still reaches, a zombie included, and
        // the master we stopped stays one until init reaps it. Seen here: "Dovecot is already running with PID …"
        // 5 s after the kill; the restart failed and the restart test's import retried a dead port for 11 minutes.
        // That master was ours and is stopped (pidAlive says no to a zombie): its pid file is stale.
        const stale = readPid(pidFile);
        if (stale !== undefined && !pidAlive(stale)) await rm(pidFile, { force: true });
        try {
          instance.pid = await launch();
          return;
        } catch (err) {
          lastErr = err;
          killSync(pidFile);
          live.delete(handle);
          const retry = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' || /already running/.test((err as Error).message);
          if (!retry) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw lastErr;
    },
    async doveadm(args: string[]) {
      const { stdout } = await execFileP(doveadm, ['-c', configFile, ...args], { maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    },
    async emptyAccount() {
      const list = await instance.doveadm(['mailbox', 'list', '-u', user]);
      // Deepest first, so children go before their parents.
      const folders = list
        .split('\n')
        .map((s) => s.trim())
        .filter((s) => s && s !== 'INBOX')
        .sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
      for (const f of folders) {
        await instance.doveadm(['mailbox', 'delete', '-u', user, '-s', f]).catch(async (err: unknown) => {
          // A parent that was only implied by a child (\NonExistent) may be gone already.
          if ((await instance.doveadm(['mailbox', 'list', '-u', user, f])).trim()) throw err;
        });
      }
      await instance.doveadm(['expunge', '-u', user, 'mailbox', 'INBOX', 'all']);
    },
  };
  if (tlsPort !== undefined) instance.tlsPort = tlsPort;
  if (cert) instance.caFile = cert.certFile;
  return instance;
}

// ---- the quick-ACK shim ----------------------------------------------------------------------------------------

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(join(dir, 'bench', 'quickack-shim.c'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (bench/quickack-shim.c) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/**
 * Compiles bench/quickack-shim.c once per source version into a world-readable dir under the temp dir (Dovecot's
 * login processes load it as `dovenull`), and returns the .so path.
 */
export async function buildQuickAckShim(): Promise<string> {
  const src = join(repoRoot(), 'bench', 'quickack-shim.c');
  const stamp = Math.floor((await stat(src)).mtimeMs).toString(36);
  const outDir = join(tmpdir(), 'mailmigrate-shim');
  await mkdir(outDir, { recursive: true, mode: 0o755 });
  await chmod(outDir, 0o755);
  const out = join(outDir, `quickack-shim-${stamp}.so`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}.tmp`;
  await execFileP('cc', ['-shared', '-fPIC', '-O2', '-o', partial, src, '-ldl']);
  await chmod(partial, 0o755);
  await rename(partial, out); // atomic: a concurrent builder never sees a half-written .so
  return out;
}
