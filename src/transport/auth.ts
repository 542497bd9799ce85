// Authentication as data: which command logs in, with which arguments, and what answers the server's '+'. Pure
// (no socket), so the choice of mechanism and the SASL encodings are unit-tested; Connection sends the result.
// The returned arguments hold the secret: they go only to the command queue, which never logs or traces them.

import { AuthError, ConfigError } from '../core/errors.js';
import type { Capabilities } from '../imap/capabilities.js';

export interface Credentials {
  readonly user: string;
  /** Never logged, traced or put in an error. */
  readonly password?: string | undefined;
  /** XOAUTH2 bearer token, given by the caller. */
  readonly accessToken?: string | undefined;
  /** auto: XOAUTH2 with a token, else AUTHENTICATE PLAIN when offered, else LOGIN. */
  readonly mechanism?: 'auto' | 'LOGIN' | 'PLAIN' | 'XOAUTH2';
}

export type AuthMechanism = 'LOGIN' | 'PLAIN' | 'XOAUTH2';

export interface AuthStep {
  readonly mechanism: AuthMechanism;
  readonly verb: 'LOGIN' | 'AUTHENTICATE';
  readonly args: ReadonlyArray<string | { atom: string }>;
  /** Answers each '+' of a SASL exchange (bytes to send, CRLF included); absent for LOGIN. */
  readonly onContinuation?: (text: string) => Buffer;
}

/** auto: XOAUTH2 with a token, else AUTHENTICATE PLAIN when offered, else LOGIN. */
export function chooseMechanism(auth: Credentials, caps: Capabilities): AuthMechanism {
  if (auth.mechanism && auth.mechanism !== 'auto') return auth.mechanism;
  if (auth.accessToken) return 'XOAUTH2';
  return caps.authMechanisms.includes('PLAIN') ? 'PLAIN' : 'LOGIN';
}

/** The login command for these credentials on a server with these capabilities. Throws when it cannot be sent. */
export function authCommand(auth: Credentials, caps: Capabilities): AuthStep {
  const mechanism = chooseMechanism(auth, caps);
  if (mechanism === 'LOGIN') {
    if (caps.loginDisabled) throw new AuthError('server says LOGINDISABLED (it wants TLS first: use --tls or --starttls)');
    if (auth.password === undefined) throw new ConfigError('--password-file', 'a password is required for LOGIN');
    return { mechanism, verb: 'LOGIN', args: [auth.user, auth.password] };
  }
  const secret = mechanism === 'PLAIN' ? auth.password : auth.accessToken;
  if (secret === undefined) {
    throw new ConfigError(mechanism === 'PLAIN' ? '--password-file' : '--access-token', `${mechanism} needs a secret`);
  }
  // RFC 4616 PLAIN: authzid NUL authcid NUL passwd; RFC 7628-style XOAUTH2: user=…^Aauth=Bearer …^A^A.
  const ir = Buffer.from(
    mechanism === 'PLAIN' ? `\0${auth.user}\0${secret}` : `user=${auth.user}\x01auth=Bearer ${secret}\x01\x01`,
    'utf8',
  ).toString('base64');
  // SASL-IR (RFC 4959) saves a round trip; without it the initial response answers the first '+'.
  const withIr = caps.saslIR;
  let answered = false;
  return {
    mechanism,
    verb: 'AUTHENTICATE',
    args: withIr ? [{ atom: mechanism }, { atom: ir }] : [{ atom: mechanism }],
    // After a failure XOAUTH2 servers send '+ <error>' and expect an empty line (Google's documented flow).
    onContinuation: () => {
      const line = !withIr && !answered ? `${ir}\r\n` : '\r\n';
      answered = true;
      return Buffer.from(line);
    },
  };
}
