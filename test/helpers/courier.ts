// A private, real Courier-IMAP (5.0, Debian's build) for integration tests: own temp dir, 127.0.0.1 on a random
// port, one Maildir per user, stopped by pid.
//
// The binaries come unpacked from the Debian packages by .ci/install-servers (.cache/servers/courier; courier-imap
// conflicts with the installed dovecot-imapd). Courier compiles its paths in, and no option moves them:
// /etc/courier/authdaemonrc and /etc/courier/userdb.dat (authdaemond, libauthuserdb), /run/courier/authdaemon/socket
// (authdaemond and the client side in libcourierauth), /usr/lib/courier-authlib (the modules authdaemond dlopens).
// So each instance runs in its own mount and pid namespace (`unshare --mount --pid --fork`, util-linux), where:
// - /usr is an overlay of the unpacked tree's usr/ on the real /usr (read-only): the compiled-in binary and module
//   paths resolve to the unpacked files, everything else is the machine's;
// - /etc is an overlay of <tmp>/etc (authdaemonrc, userdb) on the tree's etc/ on the real /etc (read-only);
// - /run is <tmp>/run bound over it, so the authdaemon socket is private to the instance.
// Nothing outside the namespace sees any of it; two instances never share a socket or a user database. This needs
// root (mount namespaces), which CI has; as non-root the tests skip with that reason.
//
// - Users: authuserdb (Courier's own user database, built with the unpacked makeuserdb), password stored as
//   {SHA256}<base64> (authlib's checkpassword supports it), uid/gid of `nobody` (Courier's imapd refuses uid 0).
// - Settings: the package's own /etc/courier/imapd and imapd-ssl are sourced, as its init script does, so the
//   capabilities and limits are Debian's (no LITERAL+, MAXPERIP 20, ...); only the listener (127.0.0.1:<port>) and
//   IMAP_STARTTLS=NO (no certificate) differ. `env` overrides any of them.
// - Stopping: the namespace's init is couriertcpd itself; when it exits the kernel kills every process left in the
//   namespace (authdaemond, every imapd). stop() still collects the tree by pid first and kills what is left.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from './dovecot.js';
import { pidAlive, processTree, register, stopTree, unregister } from './process-tree.js';
import { waitForGreeting } from './raw-session.js';
import { isRoot, unpackedServer } from './unpacked-servers.js';

export interface CourierOptions {
  /** Login names (default ['alice']); each gets a random password and a Maildir */
  users?: string[];
  /** Maildir++ quota per user in bytes (maildirmake -q <n>S); none by default */
  quotaBytes?: number;
  /** Overrides for the package's /etc/courier/imapd settings, e.g. { MAXPERIP: '4' } */
  env?: Record<string, string>;
}

export interface CourierUser {
  name: string;
  password: string;
  /** the user's Maildir on disk (root can read it) */
  maildir: string;
}

export interface CourierInstance {
  host: '127.0.0.1';
  port: number;
  users: CourierUser[];
  separator: '.';
  personalPrefix: 'INBOX.';
  version: string;
  dir: string;
  /** pid of `unshare` (its child couriertcpd is the namespace's init) */
  pid: number;
  logFile: string;
  stop(): Promise<number[]>;
  processes(): number[];
}

const NEEDED = [
  'usr/sbin/couriertcpd',
  'usr/lib/courier/courier/imaplogin',
  'usr/bin/imapd',
  'usr/bin/maildirmake.courier',
  'usr/sbin/makeuserdb',
  'usr/lib/courier/courier-authlib/authdaemond',
  'usr/lib/courier-authlib/libauthuserdb.so.0',
  'usr/libexec/gam_server',
  'etc/courier/imapd',
];

function unshareBinary(): string | undefined {
  return ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
}

/** undefined when a private Courier can be started here; else why not (shown as the test's skip reason). */
export function courierSkipReason(): string | undefined {
  const tree = unpackedServer('courier', NEEDED);
  if (typeof tree === 'string') return tree;
  if (!isRoot()) return 'Courier compiles /etc/courier and /run/courier in; the helper overlays them in a private mount namespace, which needs root';
  if (!unshareBinary()) return 'no unshare binary (util-linux)';
  if (spawnSync('getent', ['passwd', 'nobody']).status !== 0) return 'system user nobody is missing';
  return undefined;
}

export interface CourierScriptInput {
  dir: string;
  tree: string;
  port: number;
  env: Record<string, string>;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The script run as the namespace's first process; pure, so it can be unit-tested. */
export function renderCourierScript(c: CourierScriptInput): string {
  for (const p of [c.dir, c.tree]) if (/[\s,:'"\\]/.test(p)) throw new Error(`path unusable in an overlay mount option: ${p}`);
  const overrides = Object.entries(c.env).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`bad Courier setting name ${JSON.stringify(k)}`);
    return `${k}=${shQuote(v)}`;
  });
  return [
    '# Generated by test/helpers/courier.ts; runs inside `unshare --mount --pid --fork` as root.',
    // -e only: the package's settings files read unset variables.
    'set -e',
    // Mounts made here stay in this namespace.
    `mount -t overlay mm-courier-usr -o lowerdir=${c.tree}/usr:/usr /usr`,
    // makeuserdb writes <tmp>/etc/courier/userdb.dat, before that dir becomes an overlay layer.
    `/usr/sbin/makeuserdb -f ${c.dir}/etc/courier/userdb`,
    `mount -t overlay mm-courier-etc -o lowerdir=${c.dir}/etc:${c.tree}/etc:/etc /etc`,
    `mount --bind ${c.dir}/run /run`,
    // As the package's init script: its settings, exported to couriertcpd and every imapd.
    'set -a',
    '. /etc/courier/imapd',
    '. /etc/courier/imapd-ssl',
    'IMAP_STARTTLS=NO',
    // Gamin (FAM), which a waiter for a folder's lock sleeps in, finds its gam_server by an abstract socket name,
    // @/tmp/fam-<user>-<GAM_CLIENT_ID>, and abstract sockets belong to the network namespace, which every instance
    // shares with the machine. Without an id of its own an imapd reached another instance's gam_server, which
    // aborted on the peer pid 0 it saw across pid namespaces ("gam_listener_new: assertion failed: (pid != 0)");
    // a lock waiter lost the deletion event in the reconnect and slept its whole 120 s (measured: an APPEND held
    // over 60 s with no lock file left, 195 "end from FAM server connection" in one log, 3 instances at once).
    `GAM_CLIENT_ID=${shQuote(basename(c.dir))}`,
    ...overrides,
    'set +a',
    '/usr/lib/courier/courier-authlib/authdaemond &',
    'i=0',
    'while [ ! -S /run/courier/authdaemon/socket ]; do',
    '  i=$((i+1)); [ $i -le 200 ] || { echo "authdaemond did not create its socket within 10 s" >&2; exit 1; }',
    '  sleep 0.05',
    'done',
    'if [ -n "${IMAP_ULIMITD:-}" ]; then ulimit -v "$IMAP_ULIMITD"; fi',
    'umask "${IMAP_UMASK:-022}"',
    `exec /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs="$MAXDAEMONS" -maxperip="$MAXPERIP" -nodnslookup -noidentlookup ${c.port} /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir`,
    '',
  ].join('\n');
}

function tail(s: string, n = 1500): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}

export async function startCourier(options: CourierOptions = {}): Promise<CourierInstance> {
  const tree = unpackedServer('courier', NEEDED);
  if (typeof tree === 'string') throw new Error(tree);
  const why = courierSkipReason();
  if (why) throw new Error(why);
  const names = options.users ?? ['alice'];
  for (const n of names) if (!/^[a-z][a-z0-9_-]*$/.test(n)) throw new Error(`user name ${JSON.stringify(n)}: use [a-z][a-z0-9_-]*`);
  const nobody = spawnSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).stdout.trim().split(':');
  const mailUid = Number(nobody[2]);
  const mailGid = Number(nobody[3]);

  const dir = await mkdtemp(join(tmpdir(), 'mm-courier-'));
  const libEnv = { ...process.env, LD_LIBRARY_PATH: tree.libraryPath };
  let pid = 0;
  try {
    // The imapd runs as nobody and must reach its home through the temp dir.
    await chmod(dir, 0o711);
    for (const d of ['etc/courier', 'run/courier/authdaemon', 'home']) await mkdir(join(dir, d), { recursive: true });
    await writeFile(
      join(dir, 'etc/courier/authdaemonrc'),
      ['authmodulelist="authuserdb"', 'daemons=2', 'authdaemonvar=/run/courier/authdaemon', 'DEBUG_LOGIN=0', 'DEFAULTOPTIONS=""', 'LOGGEROPTS=""', ''].join('\n'),
    );
    const users: CourierUser[] = [];
    const userdb: string[] = [];
    for (const name of names) {
      const password = randomBytes(12).toString('hex');
      const home = join(dir, 'home', name);
      const maildir = join(home, 'Maildir');
      await mkdir(home);
      const mk = (args: string[]): void => {
        const r = spawnSync(join(tree.dir, 'usr/bin/maildirmake.courier'), args, { env: libEnv, encoding: 'utf8', timeout: 10_000 });
        if (r.status !== 0) throw new Error(`maildirmake ${args.join(' ')}: ${r.stderr || r.error?.message}`);
      };
      mk([maildir]);
      if (options.quotaBytes !== undefined) mk(['-q', `${options.quotaBytes}S`, maildir]);
      const own = spawnSync('chown', ['-R', `${mailUid}:${mailGid}`, home], { encoding: 'utf8', timeout: 10_000 });
      if (own.status !== 0) throw new Error(`chown ${home}: ${own.stderr || own.error?.message}`);
      const hash = createHash('sha256').update(password).digest('base64');
      userdb.push(`${name}\tuid=${mailUid}|gid=${mailGid}|home=${home}|mail=${maildir}|systempw={SHA256}${hash}`);
      users.push({ name, password, maildir });
    }
    // makeuserdb refuses a userdb readable by group or others.
    await writeFile(join(dir, 'etc/courier/userdb'), userdb.join('\n') + '\n', { mode: 0o600 });
    await chown(join(dir, 'etc/courier/userdb'), 0, 0);

    const logFile = join(dir, 'courier.log');
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const script = join(dir, 'namespace.sh');
      await writeFile(script, renderCourierScript({ dir, tree: tree.dir, port, env: options.env ?? {} }));
      const fd = openSync(logFile, 'a');
      // A clean environment, as the init script's `env -i`: only what the script sets reaches the servers.
      const child = spawn(unshareBinary()!, ['--mount', '--propagation', 'private', '--pid', '--fork', '--', '/bin/sh', script], {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        stdio: ['ignore', fd, fd],
        // Own session and process group. Measured: on SIGTERM something in Courier's tree signals its whole process
        // group, and a process group spans pid namespaces — in ours it was the test runner's, which died of it.
        detached: true,
      });
      closeSync(fd);
      child.unref();
      pid = child.pid ?? 0;
      if (!pid) throw new Error('could not spawn unshare for Courier');
      register(pid);
      try {
        await waitForGreeting(port, 15_000, () => pidAlive(pid));
        break;
      } catch (err) {
        await stopTree(pid, 1000, { signalAll: true });
        unregister(pid);
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt < 4 && /in use/i.test(log)) continue;
        throw new Error(`Courier did not start: ${(err as Error).message}\n${tail(log)}`);
      }
    }

    const rootPid = pid;
    return {
      host: '127.0.0.1',
      port,
      users,
      separator: '.',
      personalPrefix: 'INBOX.',
      version: tree.version.replace(/^courier-imap /, ''),
      dir,
      pid: rootPid,
      logFile,
      processes: () => processTree(rootPid),
      async stop() {
        const stopped = await stopTree(rootPid, 3000, { signalAll: true });
        unregister(rootPid);
        if (!process.env.MAILMIGRATE_KEEP_SERVERS) await rm(dir, { recursive: true, force: true });
        return stopped;
      },
    };
  } catch (err) {
    if (pid) {
      await stopTree(pid, 1000, { signalAll: true });
      unregister(pid);
    }
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
