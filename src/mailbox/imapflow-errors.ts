// Maps what imapflow (or Node's net/tls underneath it) throws to our typed errors (src/core/errors.ts).
//
// Credentials: imapflow errors can carry `executedCommand` (the LOGIN line) and `response`; we copy neither and we
// never attach an imapflow error as `cause`, only Node socket errors, which hold no secrets.

import {
  AuthError,
  ConnectError,
  ConnectionClosedError,
  MailmigrateError,
  ProtocolError,
  ServerResponseError,
  TimeoutError,
} from '../core/errors.js';
import { classifyResponse } from '../imap/response-policy.js';

interface ImapFlowLikeError {
  message?: string;
  code?: string;
  authenticationFailed?: boolean;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
  command?: string;
}

/** Node/OpenSSL codes meaning "the server's certificate is not trusted by this client". */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function endpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Strips anything after the first line and bounds the length: server text goes into our messages verbatim. */
function clean(text: string | undefined): string {
  return (text ?? '').split(/\r?\n/)[0]!.slice(0, 300).trim();
}

export interface ErrorContext {
  host: string;
  port: number;
  /** The operation, for the message: "LOGIN", "SELECT Archive", ... */
  command: string;
  connectTimeoutMs?: number | undefined;
}

export function mapImapFlowError(err: unknown, ctx: ErrorContext): MailmigrateError {
  if (err instanceof MailmigrateError) return err;
  const e = (err ?? {}) as ImapFlowLikeError;
  const code = e.code ?? '';
  const where = endpoint(ctx.host, ctx.port);

  if (e.authenticationFailed) {
    const said = clean(e.responseText) || clean(e.message);
    return new AuthError(`login refused by ${where}${said ? `: ${said}` : ''}`);
  }
  if (TLS_TRUST_CODES.has(code)) {
    return new ConnectError(
      'E_TLS_UNTRUSTED',
      `TLS certificate of ${where} is not trusted (${code}): pass --ca <file> with the server's CA certificate, ` +
        'or --insecure to skip verification (only for a server you control)',
      'never',
      { cause: err },
    );
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /SSL routines|wrong version number/i.test(e.message ?? '')) {
    return new ConnectError('E_TLS', `TLS handshake with ${where} failed: ${clean(e.message)}`, 'never', { cause: err });
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new ConnectError('E_CONNREFUSED', `connection to ${where} refused (is the server running on that port?)`, 'later', { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectError('E_DNS', `cannot resolve ${ctx.host}: ${code}`, code === 'EAI_AGAIN' ? 'later' : 'never', { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectError('E_UNREACHABLE', `cannot reach ${where}: ${code}`, 'later', { cause: err });
    case 'EADDRNOTAVAIL':
      return new ConnectError('E_EADDRNOTAVAIL', `cannot reach ${where}: ${code}`, 'later', { cause: err });
    case 'CONNECT_TIMEOUT':
      return new TimeoutError('connect', ctx.connectTimeoutMs ?? 0);
    case 'GREETING_TIMEOUT':
      return new TimeoutError('greeting', ctx.connectTimeoutMs ?? 0);
    case 'UPGRADE_TIMEOUT':
      return new TimeoutError('tls', ctx.connectTimeoutMs ?? 0);
    case 'ETIMEOUT':
    case 'ETIMEDOUT':
      return new TimeoutError('idle', ctx.connectTimeoutMs ?? 0);
    case 'NoConnection':
    case 'EConnectionClosed':
    case 'ClosedAfterConnectText':
    case 'ClosedAfterConnectTLS':
    case 'StateLogout':
    case 'ECONNRESET':
    case 'EPIPE':
      return new ConnectionClosedError(`connection to ${where} closed during ${ctx.command}`, 1);
    case 'LineTooLarge':
    case 'LiteralTooLarge':
    case 'ResponseTooLarge':
      // The reader limits of limits.ts: the server sent more than any answer we asked for can hold. imapflow stops
      // parsing and closes; retrying would meet the same server.
      return new ProtocolError(`${where} sent an oversized response during ${ctx.command} (${code}): ${clean(e.message)}`);
    case 'MissingServerExtension':
      return new MailmigrateError('E_UNSUPPORTED', `${where} lacks an extension needed for ${ctx.command}: ${clean(e.message)}`, 'never');
    default:
      break;
  }
  if (e.responseStatus === 'NO' || e.responseStatus === 'BAD') {
    // The same table as the APPEND transport (src/imap/response-policy.ts), so both planes agree on a refusal.
    const rc = e.serverResponseCode?.toUpperCase();
    const text = clean(e.responseText);
    const m = classifyResponse(e.responseStatus, rc, text);
    return new ServerResponseError(ctx.command, e.responseStatus, rc, text, m.retry, undefined, m.code);
  }
  if (code.startsWith('ParserError') || code === 'InvalidResponse' || code === 'UnexpectedTag') {
    return new ProtocolError(`${where} sent a response imapflow cannot parse during ${ctx.command}`);
  }
  if (code === 'STARTTLS_INJECTION') {
    return new ConnectError('E_TLS', `${where} sent data before the TLS handshake (STARTTLS injection); refusing`, 'never');
  }
  const message = clean(e.message) || String(err);
  return new MailmigrateError('E_IMAP', `${ctx.command} on ${where} failed: ${message}${code ? ` (${code})` : ''}`, 'never');
}
