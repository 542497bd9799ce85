// Socket and TLS errors as typed errors whose message says what to do (issue 13: "TLS that explains itself").
// Pure: takes Node's error and the connection options, returns a MailmigrateError with a catalogued code.

import { ConnectError, ConnectionClosedError, type MailmigrateError } from '../core/errors.js';

/** What an error message needs to know of the connection (never the credentials). */
export interface ErrorTarget {
  readonly host: string;
  readonly port: number;
  readonly servername?: string | undefined;
  readonly ca?: Buffer | undefined;
}

export function endpoint(o: Pick<ErrorTarget, 'host' | 'port'>): string {
  return o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
}

/** OpenSSL's words for "the first bytes were not a TLS record": what a plain IMAP greeting ("* OK") looks like. */
const NOT_TLS = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE|HTTP_REQUEST|wrong version number|packet length too long/i;

interface TlsCertError extends NodeJS.ErrnoException {
  host?: string;
  cert?: { subject?: { CN?: string | string[] }; subjectaltname?: string };
}

/**
 * A socket or TLS error as a typed error whose message says what to do. `phase`: where it happened — a plain
 * TCP connection, the implicit-TLS handshake, or the handshake after STARTTLS.
 */
export function connectError(err: Error, o: ErrorTarget, phase: 'tcp' | 'implicit' | 'starttls'): MailmigrateError {
  const e = err as TlsCertError;
  const where = endpoint(o);
  const code = e.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const cn = e.cert?.subject?.CN;
    const subject = Array.isArray(cn) ? cn.join(', ') : cn;
    const names = [subject ? `subject CN=${subject}` : undefined, e.cert?.subjectaltname ? `names ${e.cert.subjectaltname}` : undefined]
      .filter(Boolean)
      .join('; ');
    const expected = e.host ?? o.servername ?? o.host;
    return new ConnectError(
      'E_TLS_NAME',
      `TLS certificate of ${where} is not for "${expected}"${names ? ` (${names})` : ''}: connect with a name the certificate carries, or pass --servername NAME`,
      'never',
      { cause: err },
    );
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/.test(code)) {
    const hint = o.ca
      ? 'the CA given with --ca did not verify it: is that the CA that signed this server\'s certificate (or its chain)?'
      : 'give its CA with --ca FILE, or skip verification with --insecure';
    return new ConnectError('E_TLS_VERIFY', `TLS certificate of ${where} not trusted (${code}): ${hint}`, 'never', { cause: err });
  }
  if (phase === 'implicit' && (NOT_TLS.test(code) || NOT_TLS.test(e.message))) {
    return new ConnectError(
      'E_TLS_MODE',
      `${where} answered in plain text where a TLS handshake was expected (an IMAP greeting, not a TLS record): this port does not speak implicit TLS; use --starttls (or --plain)`,
      'never',
      { cause: err },
    );
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) {
    return new ConnectError('E_TLS', `TLS handshake with ${where}${phase === 'starttls' ? ' after STARTTLS' : ''} failed (${code}): ${e.message}`, 'never', { cause: err });
  }
  if (code === 'ECONNREFUSED') return new ConnectError('E_CONNREFUSED', `connection to ${where} refused`, 'later', { cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConnectError('E_DNS', `cannot resolve ${o.host} (${code})`, code === 'EAI_AGAIN' ? 'later' : 'never', { cause: err });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new ConnectError('E_EADDRNOTAVAIL', `no local port/address free to reach ${where} (EADDRNOTAVAIL)`, 'later', { cause: err });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new ConnectionClosedError(`connection to ${where} reset (${code})`, 0, undefined, { cause: err });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new ConnectError('E_UNREACHABLE', `cannot reach ${where} (${code})`, 'later', { cause: err });
  }
  return new ConnectError('E_CONNECT', `${where}: ${e.message}${code && !e.message.includes(code) ? ` (${code})` : ''}`, 'later', { cause: err });
}
