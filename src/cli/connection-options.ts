import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { type Command, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { parseIntegerOption } from './integer-option.js';
import type { ConnectOptions } from '../mailbox/control-plane.js';
import type { ConnectionOptions, TlsMode } from '../transport/connection.js';

// Shared connection options for every command that talks to a server (import, verify, doctor, ...):
//   --host --port --user --tls | --starttls | --plain --ca FILE --insecure --servername NAME --password-file FILE
//   env MAILMIGRATE_HOST, MAILMIGRATE_USER, MAILMIGRATE_PASSWORD; an interactive prompt on a TTY.
// There is deliberately no --password flag: argv is world-readable through `ps` and /proc/<pid>/cmdline.
//
// TLS policy (issue 4): default implicit TLS on 993, STARTTLS elsewhere. STARTTLS is *optional* only towards a
// loopback host (a local test server often has no certificate); towards any other host it is *required*, because
// falling back silently would send the password in clear text. `--plain` is the explicit opt-out.

/** What commander hands over after parsing the options added by addConnectionOptions(). */
export interface ConnectionCliOptions {
  host?: string | undefined;
  port?: string | undefined;
  user?: string | undefined;
  tls?: boolean | undefined;
  starttls?: boolean | undefined;
  plain?: boolean | undefined;
  ca?: string | undefined;
  insecure?: boolean | undefined;
  servername?: string | undefined;
  passwordFile?: string | undefined;
  oauthTokenFile?: string | undefined;
}

/** A server target resolved from options and environment. The password is present but never printed. */
export interface ResolvedTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly ca: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
  /** TLS server name (SNI) and the name the certificate must carry, when it differs from --host. */
  readonly servername?: string | undefined;
  readonly user: string;
  readonly password: string;
  /** OAuth2 bearer token (XOAUTH2), when --oauth-token-file was given; then no password is asked for. */
  readonly accessToken?: string | undefined;
  readonly loopback: boolean;
}

/** Where the password came from, for a doctor-style report (never the password itself). */
export type PasswordSource = 'env' | 'file' | 'prompt';

export interface ResolveIo {
  readonly env: NodeJS.ProcessEnv;
  /** Asks for the password on a terminal; undefined when there is no TTY. */
  readonly prompt?: ((question: string) => Promise<string>) | undefined;
}

/** Adds the shared connection options to a command. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--host <host>', 'IMAP server (env MAILMIGRATE_HOST); without it the embedded server is used where the command supports it')
    .option('--port <port>', 'server port (default 993 with implicit TLS, else 143)')
    .option('--user <user>', 'login name (env MAILMIGRATE_USER); password from MAILMIGRATE_PASSWORD, --password-file or a prompt')
    .addOption(new Option('--tls', 'implicit TLS (default on port 993)').conflicts(['starttls', 'plain']))
    .addOption(new Option('--starttls', 'STARTTLS, required (default on other ports; optional only to loopback)').conflicts(['tls', 'plain']))
    .addOption(new Option('--plain', 'no TLS at all, even to a remote host (sends the password in clear text)').conflicts(['tls', 'starttls']))
    .option('--ca <file>', 'PEM file with CA certificate(s) to trust in addition to the system store')
    .option('--insecure', 'do not verify the server certificate')
    .option('--servername <name>', 'TLS server name: sent as SNI and checked against the certificate (default: --host, unless it is an IP address)')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .option('--oauth-token-file <file>', 'log in with AUTHENTICATE XOAUTH2 using the bearer token in this file (Gmail, Microsoft 365)');
}

const loopbackV4 = new net.BlockList();
loopbackV4.addSubnet('127.0.0.0', 8, 'ipv4');

/** True for localhost, 127.0.0.0/8, ::1 and IPv4-mapped 127/8: the only hosts where clear text is harmless. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return loopbackV4.check(h, 'ipv4');
  if (net.isIPv6(h)) {
    if (h === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && loopbackV4.check(mapped[1]!, 'ipv4');
  }
  return false;
}

function parsePort(v: string): number {
  return parseIntegerOption('--port', v, 1, 65535);
}

/** The TLS mode and port from the flags, before any credential is looked at. Pure. */
export function resolveTlsAndPort(opts: ConnectionCliOptions, host: string): { tls: TlsMode; port: number } {
  const chosen = [opts.tls && '--tls', opts.starttls && '--starttls', opts.plain && '--plain'].filter(Boolean);
  if (chosen.length > 1) throw new ConfigError(String(chosen[0]), `cannot be combined with ${chosen.slice(1).join(', ')}`);
  const port = opts.port !== undefined ? parsePort(opts.port) : opts.tls || (!opts.starttls && !opts.plain) ? 993 : 143;
  if (opts.tls) return { tls: 'implicit', port };
  if (opts.starttls) return { tls: 'starttls', port };
  if (opts.plain) return { tls: 'none', port };
  if (port === 993) return { tls: 'implicit', port };
  return { tls: isLoopbackHost(host) ? 'starttls-optional' : 'starttls', port };
}

/** Host from --host or MAILMIGRATE_HOST; undefined means "no server given". */
export function resolveHost(opts: ConnectionCliOptions, env: NodeJS.ProcessEnv): string | undefined {
  const h = (opts.host ?? env['MAILMIGRATE_HOST'] ?? '').trim();
  return h === '' ? undefined : h;
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ConfigError('--password-file', `${file} is not a regular file`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('--password-file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // First line only, without its line ending: `echo secret > file` must work; the content is never echoed back.
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (first === '') throw new ConfigError('--password-file', `${file} is empty`);
  return first;
}

/** The password and where it came from: --password-file, then MAILMIGRATE_PASSWORD, then a TTY prompt. */
export async function resolvePassword(
  opts: ConnectionCliOptions,
  io: ResolveIo,
  user: string,
  host: string,
): Promise<{ password: string; source: PasswordSource }> {
  if (opts.passwordFile !== undefined) return { password: readPasswordFile(opts.passwordFile), source: 'file' };
  const env = io.env['MAILMIGRATE_PASSWORD'];
  if (env !== undefined && env !== '') return { password: env, source: 'env' };
  if (io.prompt) {
    const p = await io.prompt(`Password for ${user}@${host}: `);
    if (p === '') throw new ConfigError('password', 'empty password entered');
    return { password: p, source: 'prompt' };
  }
  throw new ConfigError('--password-file', 'no password: set MAILMIGRATE_PASSWORD, give --password-file FILE, or run on a terminal');
}

/**
 * Resolves a full target: host, port, TLS mode, CA, user, password. Returns undefined when no host was given
 * (the caller decides whether that means the embedded server or an error). Throws ConfigError on bad input,
 * including a clear-text password to a non-loopback host without --plain.
 */
export async function resolveTarget(opts: ConnectionCliOptions, io: ResolveIo): Promise<(ResolvedTarget & { passwordSource: PasswordSource }) | undefined> {
  const host = resolveHost(opts, io.env);
  if (host === undefined) {
    for (const [flag, v] of [['--user', opts.user], ['--port', opts.port], ['--ca', opts.ca], ['--servername', opts.servername], ['--password-file', opts.passwordFile], ['--oauth-token-file', opts.oauthTokenFile]] as const) {
      if (v !== undefined) throw new ConfigError(flag, 'needs --host (or MAILMIGRATE_HOST)');
    }
    return undefined;
  }
  const { tls, port } = resolveTlsAndPort(opts, host);
  const loopback = isLoopbackHost(host);
  if (tls === 'none' && !loopback && !opts.plain) {
    // Unreachable by resolveTlsAndPort today; kept as the one place that states the rule.
    throw new ConfigError('--plain', `refusing to send a password in clear text to ${host}; pass --plain to allow it`);
  }
  let servername: string | undefined;
  if (opts.servername !== undefined) {
    if (tls === 'none') throw new ConfigError('--servername', 'has no effect with --plain');
    servername = opts.servername.trim().toLowerCase();
    // A DNS name (RFC 1123 labels); an IP address is never sent as SNI (RFC 6066 §3).
    if (!/^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/.test(servername) || net.isIP(servername)) {
      throw new ConfigError('--servername', `must be a DNS host name, got "${opts.servername}"`);
    }
  }
  let ca: Buffer | undefined;
  if (opts.ca !== undefined) {
    if (tls === 'none') throw new ConfigError('--ca', 'has no effect with --plain');
    try {
      ca = readFileSync(opts.ca);
    } catch (err) {
      throw new ConfigError('--ca', `cannot read ${opts.ca}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('--ca', `${opts.ca} holds no PEM certificate`);
  }
  const user = (opts.user ?? io.env['MAILMIGRATE_USER'] ?? '').trim();
  if (user === '') throw new ConfigError('--user', 'required with --host (or set MAILMIGRATE_USER)');
  if (opts.oauthTokenFile !== undefined) {
    if (opts.passwordFile !== undefined) throw new ConfigError('--oauth-token-file', 'give either --password-file or --oauth-token-file');
    let token: string;
    try {
      token = readFileSync(opts.oauthTokenFile, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (err) {
      throw new ConfigError('--oauth-token-file', `cannot read ${opts.oauthTokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (token === '') throw new ConfigError('--oauth-token-file', `${opts.oauthTokenFile} is empty`);
    return { host, port, tls, ca, rejectUnauthorized: !opts.insecure, servername, user, password: '', accessToken: token, loopback, passwordSource: 'file' };
  }
  const { password, source } = await resolvePassword(opts, io, user, host);
  return { host, port, tls, ca, rejectUnauthorized: !opts.insecure, servername, user, password, loopback, passwordSource: source };
}

/** The transport's connection options for a target (add pipelining, write mode etc. on top). */
export function transportOptions(t: ResolvedTarget): Pick<ConnectionOptions, 'host' | 'port' | 'tls' | 'ca' | 'rejectUnauthorized' | 'auth' | 'servername'> {
  const auth = t.accessToken !== undefined ? { user: t.user, accessToken: t.accessToken } : { user: t.user, password: t.password };
  return { host: t.host, port: t.port, tls: t.tls, ca: t.ca, rejectUnauthorized: t.rejectUnauthorized, auth, ...(t.servername ? { servername: t.servername } : {}) };
}

/** The control plane's (imapflow) connect options for the same target and the same TLS policy. */
export function controlPlaneOptions(t: ResolvedTarget): ConnectOptions {
  const secure = t.tls === 'implicit';
  const starttls = t.tls === 'starttls' ? 'required' : t.tls === 'starttls-optional' ? 'opportunistic' : 'off';
  return {
    host: t.host,
    port: t.port,
    secure,
    ...(secure ? {} : { starttls }),
    user: t.user,
    ...(t.accessToken !== undefined ? { accessToken: t.accessToken } : { password: t.password }),
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
    rejectUnauthorized: t.rejectUnauthorized,
  };
}

/** A one-line description without secrets, e.g. "alice@mail.example.com:993 (implicit TLS)". */
export function describeTarget(t: Pick<ResolvedTarget, 'host' | 'port' | 'tls' | 'user' | 'rejectUnauthorized'>): string {
  const mode = { implicit: 'implicit TLS', starttls: 'STARTTLS', 'starttls-optional': 'STARTTLS when offered', none: 'no TLS' }[t.tls];
  return `${t.user}@${t.host}:${t.port} (${mode}${t.tls !== 'none' && !t.rejectUnauthorized ? ', certificate not verified' : ''})`;
}

/**
 * Reads a line from the terminal without echoing it. Returns undefined when stdin or stderr is not a TTY,
 * so scripts fail with a clear ConfigError instead of hanging on a prompt nobody sees.
 */
export function ttyPrompt(): ((question: string) => Promise<string>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return (question) =>
    new Promise<string>((resolve, reject) => {
      const stdin = process.stdin;
      process.stderr.write(question);
      stdin.setRawMode(true);
      stdin.resume();
      let buf = '';
      const done = (err?: Error): void => {
        stdin.setRawMode(false);
        stdin.pause();
        stdin.off('data', onData);
        process.stderr.write('\n');
        if (err) reject(err);
        else resolve(buf);
      };
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
          if (ch === '\u0003') return done(new ConfigError('password', 'prompt interrupted'));
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      stdin.on('data', onData);
    });
}

/** The default I/O: the real environment and a TTY prompt when there is a terminal. */
export function processIo(): ResolveIo {
  return { env: process.env, prompt: ttyPrompt() };
}
