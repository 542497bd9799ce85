// Every real IMAP server the harness can start, behind one interface, so an integration test is written once and
// runs against each — with the server's name in its title, and skipped with the printed reason where the server
// cannot run here:
//
//   for (const server of realServers) describe(`... on ${server.name}`, { skip: server.skipReason() }, () => ...)
//
// - dovecot      test/helpers/dovecot.ts: Dovecot 2.3, LAYOUT=fs, "/" delimiter, no namespace prefix, one user.
// - cyrus-dot    test/helpers/cyrus.ts: Cyrus 3.6 with Debian's imapd.conf: "." delimiter, folders under "INBOX.".
// - cyrus-slash  Cyrus 3.6 with upstream's defaults (unixhierarchysep, altnamespace): "/" delimiter, no prefix.
// - courier      test/helpers/courier.ts: Courier-IMAP 5.0 (Maildir++): "." delimiter, folders under "INBOX.".
//
// The read-back goes through imapflow directly, not through mailmigrate's control plane: a test checks the product
// against the server, not against the product's own view of it.

import { ImapFlow } from 'imapflow';
import { courierSkipReason, startCourier } from './courier.js';
import { cyrusSkipReason, startCyrus } from './cyrus.js';
import { dovecotSkipReason, startDovecot } from './dovecot.js';

export type ServerName = 'dovecot' | 'cyrus-dot' | 'cyrus-slash' | 'courier';

export interface ServerUser {
  name: string;
  password: string;
}

export interface StartOptions {
  /** login names for servers that take several (Cyrus, Courier); Dovecot's helper makes one random user */
  users?: string[];
  /** storage quota per user in bytes (Cyrus: rounded up to KiB; Courier: Maildir++ quota); not on Dovecot */
  quotaBytes?: number;
}

export interface StoredMessage {
  uid: number;
  size: number;
  /** the Message-ID header as the server returns it in the ENVELOPE, undefined when absent */
  messageId?: string;
  flags: string[];
}

export interface StoredFolder {
  /** decoded (UTF-8) full name, as imapflow reports it */
  path: string;
  /** the name exactly as the server listed it (modified UTF-7, RFC 3501 §5.1.3, unless UTF8=ACCEPT is enabled) */
  wire: string;
  delimiter: string;
  flags: string[];
}

export interface RunningServer {
  name: ServerName;
  host: '127.0.0.1';
  port: number;
  users: ServerUser[];
  /** hierarchy delimiter of the personal namespace */
  delimiter: '.' | '/';
  /** personal namespace prefix (RFC 2342): "INBOX." or "" */
  personalPrefix: string;
  version: string;
  /** where a source folder (path segments; [] is INBOX) belongs on this server */
  folderFor(segments: string[]): string;
  /** every folder of the user's personal namespace, INBOX included */
  listFolders(user: ServerUser): Promise<StoredFolder[]>;
  /** the messages of one folder (decoded name), by UID */
  listMessages(user: ServerUser, folder: string): Promise<StoredMessage[]>;
  /** STATUS MESSAGES of one folder: cheap enough to poll while an import runs */
  countMessages(user: ServerUser, folder: string): Promise<number>;
  /** deletes and expunges every message of one folder */
  emptyFolder(user: ServerUser, folder: string): Promise<void>;
  /** the stored bytes (BODY.PEEK[]) of every message of one folder, by UID */
  readSources(user: ServerUser, folder: string): Promise<Map<number, Buffer>>;
  stop(): Promise<void>;
}

export interface RealServer {
  name: ServerName;
  /** undefined when it can be started here; else the reason, printed as the skip reason */
  skipReason(): string | undefined;
  /** whether start() honours quotaBytes */
  supportsQuota: boolean;
  start(options?: StartOptions): Promise<RunningServer>;
}

/** One imapflow session (plain text, no compression) for reading a server back; logs out whatever fn does. */
export async function withImapFlow<T>(host: string, port: number, user: ServerUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({
    host,
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: user.name, pass: user.password },
    logger: false,
    emitLogs: false,
    disableAutoIdle: true,
    disableCompression: true,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

function readBack(host: string, port: number): Pick<RunningServer, 'listFolders' | 'listMessages' | 'countMessages' | 'emptyFolder' | 'readSources'> {
  return {
    listFolders: (user) =>
      withImapFlow(host, port, user, async (c) =>
        (await c.list()).map((e) => ({ path: e.path, wire: e.pathAsListed, delimiter: e.delimiter, flags: [...e.flags] })),
      ),
    listMessages: (user, folder) =>
      withImapFlow(host, port, user, async (c) => {
        const lock = await c.getMailboxLock(folder, { readOnly: true });
        try {
          if (!c.mailbox || c.mailbox.exists === 0) return [];
          const out: StoredMessage[] = [];
          for await (const m of c.fetch('1:*', { uid: true, size: true, flags: true, envelope: true })) {
            const s: StoredMessage = { uid: m.uid, size: m.size ?? 0, flags: m.flags ? [...m.flags] : [] };
            if (m.envelope?.messageId) s.messageId = m.envelope.messageId;
            out.push(s);
          }
          return out.sort((a, b) => a.uid - b.uid);
        } finally {
          lock.release();
        }
      }),
    countMessages: (user, folder) =>
      withImapFlow(host, port, user, async (c) => {
        const st = await c.status(folder, { messages: true });
        if (!st) throw new Error(`STATUS ${folder} failed`);
        return st.messages ?? 0;
      }),
    emptyFolder: (user, folder) =>
      withImapFlow(host, port, user, async (c) => {
        const lock = await c.getMailboxLock(folder);
        try {
          if (c.mailbox && c.mailbox.exists > 0) await c.messageDelete('1:*');
        } finally {
          lock.release();
        }
      }),
    readSources: (user, folder) =>
      withImapFlow(host, port, user, async (c) => {
        const lock = await c.getMailboxLock(folder, { readOnly: true });
        try {
          const out = new Map<number, Buffer>();
          if (!c.mailbox || c.mailbox.exists === 0) return out;
          for await (const m of c.fetch('1:*', { uid: true, source: true })) if (m.source) out.set(m.uid, m.source);
          return out;
        } finally {
          lock.release();
        }
      }),
  };
}

function folderFor(prefix: string, delimiter: string): (segments: string[]) => string {
  return (segments) => (segments.length === 0 ? 'INBOX' : prefix + segments.join(delimiter));
}

const dovecot: RealServer = {
  name: 'dovecot',
  supportsQuota: false,
  skipReason: dovecotSkipReason,
  async start(options = {}) {
    if (options.quotaBytes !== undefined) throw new Error('the Dovecot helper has no storage quota (only maxMailSize)');
    const d = await startDovecot();
    return {
      name: 'dovecot',
      host: '127.0.0.1',
      port: d.port,
      users: [{ name: d.user, password: d.password }],
      delimiter: '/',
      personalPrefix: '',
      version: d.version,
      folderFor: folderFor('', '/'),
      ...readBack('127.0.0.1', d.port),
      stop: () => d.stop(),
    };
  },
};

function cyrus(separator: '.' | '/'): RealServer {
  const name: ServerName = separator === '.' ? 'cyrus-dot' : 'cyrus-slash';
  return {
    name,
    supportsQuota: true,
    skipReason: cyrusSkipReason,
    async start(options = {}) {
      const c = await startCyrus({
        separator,
        ...(options.users ? { users: options.users } : {}),
        ...(options.quotaBytes !== undefined ? { quotaKiB: Math.ceil(options.quotaBytes / 1024) } : {}),
      });
      return {
        name,
        host: '127.0.0.1',
        port: c.port,
        users: c.users,
        delimiter: separator,
        personalPrefix: c.personalPrefix,
        version: c.version,
        folderFor: folderFor(c.personalPrefix, separator),
        ...readBack('127.0.0.1', c.port),
        stop: async () => {
          await c.stop();
        },
      };
    },
  };
}

const courier: RealServer = {
  name: 'courier',
  supportsQuota: true,
  skipReason: courierSkipReason,
  async start(options = {}) {
    const c = await startCourier({
      ...(options.users ? { users: options.users } : {}),
      ...(options.quotaBytes !== undefined ? { quotaBytes: options.quotaBytes } : {}),
    });
    return {
      name: 'courier',
      host: '127.0.0.1',
      port: c.port,
      users: c.users.map((u) => ({ name: u.name, password: u.password })),
      delimiter: '.',
      personalPrefix: 'INBOX.',
      version: c.version,
      folderFor: folderFor('INBOX.', '.'),
      ...readBack('127.0.0.1', c.port),
      stop: async () => {
        await c.stop();
      },
    };
  },
};

/** Every real server the harness knows, in a fixed order. */
export const realServers: readonly RealServer[] = [dovecot, cyrus('.'), cyrus('/'), courier];
