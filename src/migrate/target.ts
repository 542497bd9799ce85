import type { ConnectOptions } from '../mailbox/control-plane.js';
import type { ConnectionOptions, TlsMode } from '../transport/connection.js';

// A server to import into, as resolved from options and environment (src/cli/connection-options.ts does the
// resolving), and the options the two planes need to reach it: our APPEND transport and the imapflow control plane
// get the same host, TLS policy and credentials from one place.

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
    // SNI and the certificate's name check on the control connection too, not only the APPEND transport (issue 16).
    ...(t.servername ? { servername: t.servername } : {}),
    rejectUnauthorized: t.rejectUnauthorized,
  };
}

/** A one-line description without secrets, e.g. "alice@mail.example.com:993 (implicit TLS)". */
export function describeTarget(t: Pick<ResolvedTarget, 'host' | 'port' | 'tls' | 'user' | 'rejectUnauthorized'>): string {
  const mode = { implicit: 'implicit TLS', starttls: 'STARTTLS', 'starttls-optional': 'STARTTLS when offered', none: 'no TLS' }[t.tls];
  return `${t.user}@${t.host}:${t.port} (${mode}${t.tls !== 'none' && !t.rejectUnauthorized ? ', certificate not verified' : ''})`;
}
