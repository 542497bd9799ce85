// The private server a bench:peers run imports into (`--server dovecot|cyrus|courier`): the test harness's own
// instances (test/helpers), behind what the benchmark needs — where to connect, how to empty the account between
// runs, and the pid whose process tree is the whole instance (for the CPU meter and for --pin).
import { spawnSync } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { courierSkipReason, startCourier } from '../../test/helpers/courier.js';
import { cyrusSkipReason, startCyrus } from '../../test/helpers/cyrus.js';
import { dovecotSkipReason, startDovecot } from '../../test/helpers/dovecot.js';
import { processTreeStats } from './cpu-meter.js';

export type ServerKind = 'dovecot' | 'cyrus' | 'courier';
export const SERVER_KINDS: readonly ServerKind[] = ['dovecot', 'cyrus', 'courier'];

export interface BenchServerOptions {
  /** Dovecot only: mail_fsync */
  readonly fsync?: 'never' | 'optimized';
  /** Dovecot only: LD_PRELOAD for its processes (the quick-ACK shim) */
  readonly preload?: string;
}

export interface BenchServer {
  readonly kind: ServerKind;
  /** "Dovecot 2.3.19", "Cyrus 3.6.1", … */
  readonly title: string;
  readonly version: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The root of the instance's process tree: Dovecot's master, Cyrus' master, Courier's `unshare`. */
  readonly rootPid: number;
  /** Dovecot's config file (doveadm import runs against it); undefined on the others. */
  readonly dovecotConfig: string | undefined;
  /** The personal namespace's prefix (RFC 2342) a top-level folder is named under: "" or "INBOX.". */
  readonly folderPrefix: string;
  /** Deletes every message of INBOX and every other folder (--folders). */
  emptyAccount(): Promise<void>;
  stop(): Promise<void>;
}

export function serverSkipReason(kind: ServerKind): string | undefined {
  if (kind === 'dovecot') return dovecotSkipReason();
  if (kind === 'cyrus') return cyrusSkipReason();
  return courierSkipReason();
}

/** Empties the account over IMAP (Cyrus, Courier): every folder but INBOX deleted, INBOX's messages expunged. */
async function emptyInbox(port: number, user: string, password: string): Promise<void> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
    emitLogs: false,
    disableAutoIdle: true,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    // Deepest first: Cyrus and Courier refuse to delete a folder with children ("has inferior hierarchical names").
    const others = (await c.list()).filter((f) => f.path.toUpperCase() !== 'INBOX').sort((a, b) => b.path.length - a.path.length);
    for (const f of others) await c.mailboxDelete(f.path);
    const lock = await c.getMailboxLock('INBOX');
    try {
      if (c.mailbox && c.mailbox.exists > 0) await c.messageDelete('1:*');
    } finally {
      lock.release();
    }
  } finally {
    await c.logout().catch(() => c.close());
  }
}

export async function startBenchServer(kind: ServerKind, o: BenchServerOptions = {}): Promise<BenchServer> {
  if (kind === 'dovecot') {
    const d = await startDovecot({ fsync: o.fsync ?? 'never', ...(o.preload ? { preload: o.preload } : {}) });
    return {
      kind,
      title: `Dovecot ${d.version}`,
      version: d.version,
      host: '127.0.0.1',
      port: d.port,
      user: d.user,
      password: d.password,
      rootPid: d.pid,
      dovecotConfig: d.configFile,
      folderPrefix: '',
      emptyAccount: () => d.emptyAccount(),
      stop: () => d.stop(),
    };
  }
  // Cyrus in Debian's configuration ("." separator, folders under INBOX.): what an admin installing the package meets.
  const c = kind === 'cyrus' ? await startCyrus({ separator: '.' }) : await startCourier();
  const u = c.users[0]!;
  return {
    kind,
    title: `${kind === 'cyrus' ? 'Cyrus' : 'Courier-IMAP'} ${c.version}`,
    version: c.version,
    host: '127.0.0.1',
    port: c.port,
    user: u.name,
    password: u.password,
    rootPid: c.pid,
    dovecotConfig: undefined,
    folderPrefix: 'INBOX.',
    emptyAccount: () => emptyInbox(c.port, u.name, u.password),
    stop: async () => void (await c.stop()),
  };
}

/**
 * --pin: puts every process and thread of the instance on `cpu` (taskset -a -p). Processes it forks later inherit
 * the affinity (sched_setaffinity(2): "A child created via fork(2) inherits its parent's CPU affinity mask").
 * Returns how many processes were pinned.
 */
export function pinTree(rootPid: number, cpu: number): number {
  let n = 0;
  for (const s of processTreeStats(rootPid)) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(s.pid)], { stdio: 'ignore', timeout: 10_000 });
    if (r.status === 0) n++;
  }
  return n;
}
