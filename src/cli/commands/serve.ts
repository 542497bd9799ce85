import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { startServer, type ServerOptions } from '../../server/server.js';

// `mailmigrate serve`: the embedded IMAP server on its own, for demos, for pointing other clients at it (the
// seed report's imaplib script reproduces its 23 msg/s against it) and for fault experiments.

interface ServeOptions {
  host: string;
  port: string;
  backlog?: string;
  nodelay?: boolean;
  user: string;
  maildir?: string;
  tls?: boolean;
  implicitTls?: boolean;
  cert?: string;
  key?: string;
  literalPlus: boolean;
  multiappend: boolean;
  maxMessageBytes?: string;
  maxConnectionsPerUser?: string;
}

const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
};

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the embedded IMAP server (memory or Maildir store) until interrupted')
    .option('--host <addr>', 'listen address (LOGIN without TLS is refused on non-loopback addresses)', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '1143')
    .option('--backlog <n>', 'listen backlog (Node default 511)')
    .option('--nodelay', 'set TCP_NODELAY on the server\'s sockets (default: Nagle on, like the server in the seed report)')
    .option('--user <user>', 'the one account; its password comes from MAILMIGRATE_PASSWORD (default "test")', 'test')
    .option('--maildir <dir>', 'store mail in this Maildir instead of memory')
    .option('--tls', 'offer STARTTLS (self-signed certificate unless --cert/--key)')
    .option('--implicit-tls', 'TLS from the first byte (imaps)')
    .option('--cert <file>', 'PEM certificate')
    .option('--key <file>', 'PEM private key')
    .option('--no-literal-plus', 'do not advertise LITERAL+')
    .option('--no-multiappend', 'do not advertise MULTIAPPEND')
    .option('--max-message-bytes <n>', 'advertise APPENDLIMIT and refuse larger messages')
    .option('--max-connections-per-user <n>', 'refuse sessions beyond this many per user')
    .action(async (o: ServeOptions) => {
      if ((o.cert === undefined) !== (o.key === undefined)) throw new ConfigError(o.cert ? '--key' : '--cert', '--cert and --key go together');
      const password = process.env.MAILMIGRATE_PASSWORD ?? 'test';
      const opts: ServerOptions = {
        host: o.host,
        port: int('--port', o.port, 0, 65535)!,
        backlog: int('--backlog', o.backlog, 1, 65535),
        noDelay: o.nodelay === true,
        users: { [o.user]: password },
        store: o.maildir ? { maildir: o.maildir } : 'memory',
        capabilities: { literalPlus: o.literalPlus, multiappend: o.multiappend },
        maxMessageBytes: int('--max-message-bytes', o.maxMessageBytes, 1, 2 ** 31),
        maxConnectionsPerUser: int('--max-connections-per-user', o.maxConnectionsPerUser, 1, 1_000_000),
        ...(o.cert && o.key ? { tls: { cert: readFileSync(o.cert), key: readFileSync(o.key) } } : o.tls || o.implicitTls ? { tls: 'self-signed' as const } : {}),
        ...(o.implicitTls ? { implicitTls: true } : {}),
      };
      const server = await startServer(opts);
      process.stdout.write(
        `mailmigrate serve: IMAP on ${server.host}:${server.port} (${o.maildir ? `Maildir ${o.maildir}` : 'memory store'}, ` +
          `TCP_NODELAY ${opts.noDelay ? 'on' : 'off'}${opts.tls ? ', TLS' : ''}); user "${o.user}"${process.env.MAILMIGRATE_PASSWORD ? '' : ' password "test"'}; Ctrl-C stops\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      const s = server.stats;
      process.stdout.write(`stopped: ${s.connections} connections, ${s.commands} commands, ${s.appended} messages appended\n`);
    });
}
