import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { printable } from '../../core/printable.js';
import { isLoopbackHost, startServer, type ServerOptions } from '../../server/server.js';

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
  passwordFile?: string;
  debug?: boolean;
}

/**
 * The account's password: from --password-file or MAILMIGRATE_PASSWORD (never argv, which every local user can
 * read in /proc). The default "test" exists only on a loopback listener: `serve --host 0.0.0.0` once answered
 * LOGIN test test from the whole network.
 */
function servePassword(o: ServeOptions): { password: string; from: string } {
  if (o.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.passwordFile, 'utf8');
    } catch (err) {
      throw new ConfigError('--password-file', `cannot read ${printable(o.passwordFile)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const password = text.replace(/\r?\n$/, '');
    if (password === '') throw new ConfigError('--password-file', 'the file is empty');
    return { password, from: '--password-file' };
  }
  const env = process.env.MAILMIGRATE_PASSWORD;
  if (env !== undefined && env !== '') return { password: env, from: 'MAILMIGRATE_PASSWORD' };
  if (!isLoopbackHost(o.host)) {
    throw new ConfigError(
      '--host',
      `${printable(o.host)} is reachable from other machines: give the password with --password-file <file> or MAILMIGRATE_PASSWORD (there is no default off loopback)`,
    );
  }
  return { password: 'test', from: 'default' };
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
    .option('--user <user>', 'the one account; password from --password-file or MAILMIGRATE_PASSWORD ("test" on loopback only)', 'test')
    .option('--password-file <file>', 'read the account\'s password from this file (required off loopback unless MAILMIGRATE_PASSWORD is set)')
    .option('--maildir <dir>', 'store mail in this Maildir instead of memory')
    .option('--tls', 'offer STARTTLS (self-signed certificate unless --cert/--key)')
    .option('--implicit-tls', 'TLS from the first byte (imaps)')
    .option('--cert <file>', 'PEM certificate')
    .option('--key <file>', 'PEM private key')
    .option('--no-literal-plus', 'do not advertise LITERAL+')
    .option('--no-multiappend', 'do not advertise MULTIAPPEND')
    .option('--max-message-bytes <n>', 'advertise APPENDLIMIT and refuse larger messages')
    .option('--max-connections-per-user <n>', 'refuse sessions beyond this many per user')
    .option('--debug', 'print internal server errors (with stack) to stderr; clients only see BYE [SERVERBUG]')
    .action(async (o: ServeOptions) => {
      if ((o.cert === undefined) !== (o.key === undefined)) throw new ConfigError(o.cert ? '--key' : '--cert', '--cert and --key go together');
      const { password, from } = servePassword(o);
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
        ...(o.debug
          ? { onInternalError: (err: unknown) => process.stderr.write(`serve: internal error: ${printable(err instanceof Error ? (err.stack ?? err.message) : String(err), { keepNewlines: true })}\n`) }
          : {}),
      };
      const server = await startServer(opts);
      process.stdout.write(
        `mailmigrate serve: IMAP on ${server.host}:${server.port} (${o.maildir ? `Maildir ${o.maildir}` : 'memory store'}, ` +
          `TCP_NODELAY ${opts.noDelay ? 'on' : 'off'}${opts.tls ? ', TLS' : ''}); user "${printable(o.user)}"${from === 'default' ? ' password "test"' : ` password from ${from}`}; Ctrl-C stops\n`,
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
