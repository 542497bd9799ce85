// The embedded IMAP4rev1 server: listener, options, lifecycle, stats. Real TCP, its own command reader, a real
// store — for benchmarks, demos and fault tests (issue 5). Listens on 127.0.0.1 unless told otherwise; on any
// other address it refuses LOGIN without TLS and has no default account (issue 13: `serve --host 0.0.0.0`
// once listened with the password "test").
import { createServer, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { ConfigError } from '../core/errors.js';
import type { Capabilities, ServerShared, ServerStats } from './command-context.js';
import { Faults, type FaultOptions } from './faults.js';
import { resolveLimits, type LimitOptions } from './limits.js';
import { MaildirStore } from './maildir-store.js';
import { Session } from './session.js';
import { PLAIN_HOOKS } from './session-hooks.js';
import { MemoryStore, type Store } from './store.js';
import { loadTls, type TlsOption } from './tls.js';

export interface ServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** listen() backlog; Node's default is 511 (docs/measurements.md). */
  backlog?: number;
  /** TCP_NODELAY on accepted sockets; default false, so Nagle and delayed ACKs act as on the report's server. */
  noDelay?: boolean;
  /** user → password; default { test: 'test' } on a loopback host, required on any other. */
  users?: Record<string, string>;
  capabilities?: Partial<Capabilities>;
  /** Advertised as APPENDLIMIT; larger literals get NO [TOOBIG]. Default 64 MiB (limits.ts). */
  maxMessageBytes?: number;
  /** The other bounds (limits.ts); Infinity turns one off. */
  limits?: Omit<LimitOptions, 'maxMessageBytes'>;
  /** Told about internal errors (bugs in a handler); the client only gets `* BYE [SERVERBUG]`. */
  onInternalError?: (err: unknown) => void;
  /** LOGIN/AUTHENTICATE beyond this many live sessions of one user is refused (Dovecot: 10 per user+IP). */
  maxConnectionsPerUser?: number;
  /** How the per-user cap refuses: tagged `NO [UNAVAILABLE]` (default, Dovecot) or `* BYE [UNAVAILABLE]`. */
  connectionCapReply?: 'no' | 'bye';
  /** Connections beyond this many get `* BYE [UNAVAILABLE]` instead of a greeting. */
  maxConnections?: number;
  /** 'memory' (default), a Maildir root, or an existing store (to restart on the same data). */
  store?: 'memory' | { maildir: string } | Store;
  /** Enables STARTTLS (or implicit TLS); 'self-signed' generates a certificate at start. */
  tls?: TlsOption;
  /** TLS from the first byte (imaps); uses a self-signed certificate when `tls` is not given. */
  implicitTls?: boolean;
  /** Refuse LOGIN/AUTHENTICATE until TLS; default: true unless the host is loopback. */
  requireTlsForLogin?: boolean;
  faults?: FaultOptions;
  /** Wait this long before greeting each new connection (slow server for connect-storm tests). */
  acceptDelayMs?: number;
}

export interface ImapServer {
  readonly host: string;
  readonly port: number;
  readonly store: Store;
  readonly faults: Faults;
  readonly stats: Readonly<ServerStats>;
  /** The certificate in use when TLS is on, for clients that pin it. */
  readonly certificate: string | Buffer | undefined;
  /** Sends `* BYE` to every connection and closes them; the listener stays. */
  disconnectAll(text?: string): void;
  /** Closes the listener and every connection. The store survives for a restart. */
  close(): Promise<void>;
}

const DEFAULT_CAPS: Capabilities = {
  literalPlus: true, literalMinus: false, multiappend: true, uidplus: true, binary: false, specialUse: false,
  saslIr: true, namespace: true, id: true, unselect: true,
};

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startServer(options: ServerOptions = {}): Promise<ImapServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('port', 'must be an integer 0..65535');
  const limits = resolveLimits({ ...options.limits, ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}) });
  if (options.users === undefined && !isLoopbackHost(host)) {
    throw new ConfigError('users', `a server listening on ${host} needs its own account: the default test/test is for loopback only`);
  }
  if (options.maxConnectionsPerUser !== undefined && !(options.maxConnectionsPerUser >= 1)) {
    throw new ConfigError('maxConnectionsPerUser', 'must be at least 1');
  }
  const store = openStore(options.store);
  let tls: { context: SecureContext; cert: string | Buffer } | undefined;
  const tlsOption = options.tls ?? (options.implicitTls ? 'self-signed' : undefined);
  if (tlsOption) {
    const t = await loadTls(tlsOption);
    tls = { context: t.context, cert: t.material.cert };
  }
  const stats: ServerStats = {
    connections: 0, activeConnections: 0, refusedConnections: 0, commands: 0, appendCommands: 0, appended: 0,
    continuations: 0, bytesIn: 0, bytesOut: 0, logins: 0, failedLogins: 0,
  };
  const faults = new Faults(options.faults);
  const shared: ServerShared = {
    users: options.users ?? { test: 'test' },
    caps: { ...DEFAULT_CAPS, ...options.capabilities },
    limits,
    onInternalError: options.onInternalError,
    maxConnectionsPerUser: options.maxConnectionsPerUser,
    connectionCapReply: options.connectionCapReply ?? 'no',
    requireTlsForLogin: options.requireTlsForLogin ?? !isLoopbackHost(host),
    store, stats,
    userConnections: new Map(),
    hasTls: tls !== undefined,
  };
  const sessions = new Set<Session>();
  // Faults wrap sessions through their hooks; while no switch is on, sessions run with the plain hooks.
  const hooksNow = () => (faults.active ? faults.hooks : PLAIN_HOOKS);
  faults.onChange(() => {
    const hooks = hooksNow();
    for (const s of sessions) s.hooks = hooks;
  });
  const perIp = new Map<string, number>();
  const noDelay = options.noDelay ?? false;
  const refuse = (socket: Socket, text: string) => {
    stats.refusedConnections++;
    socket.on('error', () => socket.destroy());
    socket.end(`* BYE [UNAVAILABLE] ${text}\r\n`);
    setTimeout(() => socket.destroy(), 500).unref();
  };
  const onConnection = (socket: Socket) => {
    stats.connections++;
    socket.setNoDelay(noDelay);
    if (options.maxConnections !== undefined && sessions.size >= options.maxConnections) return refuse(socket, 'Too many connections');
    // One address cannot hold every descriptor: before this cap, 1,003 idle connections from one client locked
    // everyone else out under a 1,024-descriptor limit. (An address that is gone — the peer reset at once — has
    // no remoteAddress; it is counted under '' and closes immediately anyway.)
    const ip = socket.remoteAddress ?? '';
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= limits.maxConnectionsPerIp) return refuse(socket, 'Too many connections from your address');
    perIp.set(ip, fromIp + 1);
    stats.activeConnections++;
    const session = new Session(socket, {
      shared, tls: tls?.context, implicitTls: options.implicitTls ?? false,
      greetingDelayMs: options.acceptDelayMs ?? 0,
      hooks: hooksNow(),
      onClose: (s) => {
        sessions.delete(s);
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
      },
    });
    sessions.add(session);
  };
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: options.backlog ?? 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  let closing: Promise<void> | undefined;
  return {
    host, port: boundPort, store, faults, stats, certificate: tls?.cert,
    disconnectAll(text = 'Server shutting down') {
      for (const s of [...sessions]) s.bye('UNAVAILABLE', text);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of [...sessions]) {
          s.bye(undefined, 'Server shutting down');
          s.destroy();
        }
      });
      return closing;
    },
  };
}

function openStore(option: ServerOptions['store']): Store {
  if (option === undefined || option === 'memory') return new MemoryStore();
  if (option instanceof MemoryStore) return option;
  if (typeof option === 'object' && 'maildir' in option && typeof option.maildir === 'string') return new MaildirStore(option.maildir);
  throw new ConfigError('store', "must be 'memory', { maildir: path } or a Store");
}
