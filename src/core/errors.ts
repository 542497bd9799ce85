// Typed errors with stable codes and a retry class (design.md "Errors"; modelled on undici's error classes).
// `code` is a stable string callers may switch on; `retry` says what a caller may do:
//   'now'   — safe to retry at once (e.g. another connection),
//   'later' — retry after a backoff (throttling, connection cap, server restarting),
//   'never' — retrying cannot help (bad option, bad message, protocol violation).
// Messages never contain credentials: constructors take no password and callers pass none.

export type RetryClass = 'now' | 'later' | 'never';

/**
 * Every error code, with one line saying what it means. The closed union ErrorCode is derived from this table, so a
 * code used anywhere must be listed here first: to add one, add a line (keep the groups). Codes are stable — they
 * are written to journals and --report files and callers switch on them; never rename one.
 */
export const ERROR_CATALOGUE = {
  // Configuration and local problems
  E_CONFIG: 'a bad option or combination of options (the message names the option)',
  E_INTERNAL: 'an unexpected failure inside mailmigrate (a bug): the message says where',
  E_ABORTED: 'work cancelled (SIGINT, pool closing) before it was sent',
  E_JOURNAL: 'the resume journal cannot be read or written; the run stops before it loses track',
  E_UNSUPPORTED: 'the server lacks an extension the operation needs',
  // Sources
  E_SOURCE: 'a source item cannot be read or is not a message',
  E_SOURCE_NOT_FOUND: 'the source path does not exist',
  E_SOURCE_UNKNOWN_FORMAT: 'the path is not a Maildir, mbox or .eml tree',
  E_SOURCE_EMPTY: 'an empty file',
  E_SOURCE_NOT_MESSAGE: 'a file that is not an RFC 5322 message',
  E_SOURCE_UNREADABLE: 'a file or directory that cannot be read',
  E_SOURCE_TOO_LARGE: 'a message over the size limit',
  E_SOURCE_MBOX_TRUNCATED: 'an mbox that ends inside a message',
  E_SOURCE_MBOX_FROM_LINE: 'an mbox "From " line that cannot be parsed',
  E_SOURCE_FOLDER_NAME: 'a folder name that cannot be decoded or mapped',
  E_SOURCE_FOLDER_COLLISION: 'two source folders map to the same target folder',
  E_SOURCE_LOOP: 'a directory loop (symlink cycle) in the source tree',
  E_SOURCE_NUL: 'a message with NUL bytes for a server without BINARY',
  E_SOURCE_NOT_REGULAR: 'a FIFO, socket or device where a message, keywords file or folder was expected',
  E_SOURCE_LINE_TOO_LONG: 'an mbox line longer than the limit (a corrupt or sparse file, a gzip bomb)',
  E_SOURCE_UNSUPPORTED: 'mail in a format that is not read (.emlx, .pst, .msg, .dbx): the message says how to convert it',
  E_SOURCE_AMBIGUOUS: 'several stores whose place in the target cannot be decided: the message names them and the commands',
  E_SOURCE_OVERLAP: 'two sources of one run are the same tree, or one lies inside the other: every message in it would be read twice',
  E_FOLDER_NAME: 'a target folder name the server cannot take',
  // Connecting
  E_CONNECT: 'the TCP connection failed for another reason (the message has the system error)',
  E_CONNREFUSED: 'nothing listens on that host and port',
  E_DNS: 'the host name does not resolve',
  E_EADDRNOTAVAIL: 'no local port or address is free to connect from',
  E_UNREACHABLE: 'no route to the host or network',
  E_REFUSED_BY_SERVER: 'the server greeted with BYE (often: too many connections)',
  E_NO_CONNECTION: 'no connection could be (re)opened within the reconnect window',
  E_POOL_CLOSED: 'the connection pool was closed',
  E_STARTTLS_UNAVAILABLE: 'STARTTLS was required but the server does not offer it',
  E_TLS: 'the TLS handshake failed',
  E_TLS_MODE: 'the wrong TLS mode for the port (plain to an implicit-TLS port, or --tls to a plain one)',
  E_TLS_NAME: 'the certificate is for another host name',
  E_TLS_VERIFY: 'the certificate is not trusted (transport)',
  E_TLS_UNTRUSTED: 'the certificate is not trusted (control plane)',
  E_AUTH: 'login refused',
  // During a session
  E_TIMEOUT: 'a per-phase deadline passed',
  E_CLOSED: 'the connection closed with commands open',
  E_PROTOCOL: 'the server broke the IMAP grammar or a limit',
  E_IMAP: 'the control plane (imapflow) failed in another way',
  E_UNKNOWN_OUTCOME: 'sent, but no answer came: re-run to check and resend',
  E_STATUS: 'STATUS or SELECT gave no mailbox state',
  E_NOT_FOUND: 'no message with that UID',
  // Server answers (src/imap/response-policy.ts decides which)
  E_SERVER_NO: 'the server said NO without a code we know',
  E_SERVER_BAD: 'the server said BAD without a code we know',
  E_TRYCREATE: 'the target mailbox does not exist (RFC 3501 §7.1)',
  E_OVERQUOTA: 'the account is over quota (RFC 5530 OVERQUOTA, or a quota text without the code)',
  E_LIMIT: 'a server limit was hit (RFC 5530 LIMIT)',
  E_TOO_BIG: 'the message is larger than the server accepts (APPENDLIMIT, TOOBIG)',
  E_ALREADYEXISTS: 'the mailbox already exists (RFC 5530)',
  E_NONEXISTENT: 'the mailbox does not exist (RFC 5530)',
  E_NOPERM: 'no permission (RFC 5530 NOPERM)',
  E_CANNOT: 'the server cannot do this, ever (RFC 5530 CANNOT)',
  E_UNAVAILABLE: 'a server resource is temporarily unavailable (RFC 5530)',
  E_INUSE: 'the mailbox is in use by another session (RFC 5530)',
  E_SERVERBUG: 'the server hit an internal error (RFC 5530 SERVERBUG)',
  E_THROTTLED: 'the server asked us to slow down (a backoff time or a throttling text)',
  E_CONTACTADMIN: 'the server says to contact the administrator (RFC 5530)',
  E_PRIVACYREQUIRED: 'the operation needs TLS (RFC 5530)',
  E_EXPIRED: 'credentials or data expired (RFC 5530)',
  E_CORRUPTION: 'the server found corrupt data (RFC 5530)',
  E_PARSE: 'the server could not parse the message or command (RFC 5530 PARSE, BADCHARSET)',
  // Fleet (batch, worker)
  E_QUEUE_UNREACHABLE: 'the Redis server of --queue does not answer',
  E_INTERRUPTED: 'the account was interrupted (SIGINT/SIGTERM) before it finished',
  E_NO_REPORT: "an account's import left no --report to read its outcome from",
  E_SPAWN: "an account's import process could not be started",
  E_PARTIAL: 'an account finished with some messages failed',
  E_FAILED: 'an account failed (the message has the reason)',
  E_UNKNOWN: 'a failure whose code the report did not give',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** True when `code` is a catalogued error code (for codes crossing a boundary: worker messages, journals). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

export class MailmigrateError extends Error {
  readonly code: ErrorCode;
  readonly retry: RetryClass;
  constructor(code: ErrorCode, message: string, retry: RetryClass, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retry = retry;
  }
}

/** A bad option or combination of options; always names the option. */
export class ConfigError extends MailmigrateError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('E_CONFIG', `${option}: ${message}`, 'never');
    this.option = option;
  }
}

/** A source item (file, message) that cannot be read or is not a message. */
export class SourceError extends MailmigrateError {
  readonly path: string;
  /** `code` may arrive as data (from a read worker): an uncatalogued one becomes E_SOURCE. */
  constructor(path: string, reason: string, code: ErrorCode | string = 'E_SOURCE', options?: { cause?: unknown }) {
    super(isErrorCode(code) ? code : 'E_SOURCE', `${path}: ${reason}`, 'never', options);
    this.path = path;
  }
}

/** The server answered NO or BAD to a command. `code` says what it means (src/imap/response-policy.ts). */
export class ServerResponseError extends MailmigrateError {
  readonly status: 'NO' | 'BAD';
  readonly responseCode: string | undefined;
  readonly command: string;
  readonly text: string;
  readonly timing: unknown;
  constructor(
    command: string,
    status: 'NO' | 'BAD',
    responseCode: string | undefined,
    text: string,
    retry: RetryClass,
    timing?: unknown,
    code?: ErrorCode,
  ) {
    const rc = responseCode ? ` [${responseCode}]` : '';
    super(code ?? (status === 'NO' ? 'E_SERVER_NO' : 'E_SERVER_BAD'), `${command} failed: ${status}${rc} ${text}`.trimEnd(), retry);
    this.status = status;
    this.responseCode = responseCode;
    this.command = command;
    this.text = text;
    this.timing = timing;
  }
}

export type TimeoutPhase = 'connect' | 'tls' | 'greeting' | 'continuation' | 'tagged' | 'idle';

/** A per-phase timeout fired. The command's outcome is unknown if it was (partly) sent. */
export class TimeoutError extends MailmigrateError {
  readonly phase: TimeoutPhase;
  readonly timeoutMs: number;
  readonly timing: unknown;
  /** Whether any byte of the command had left: if so its outcome on the server is unknown (APPEND is not idempotent). */
  readonly sent: boolean;
  constructor(phase: TimeoutPhase, timeoutMs: number, timing?: unknown, sent = false) {
    super('E_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${phase}`, 'now');
    this.phase = phase;
    this.timeoutMs = timeoutMs;
    this.timing = timing;
    this.sent = sent;
  }
}

/** The connection closed (by the server, the network, or us) with commands in flight. */
export class ConnectionClosedError extends MailmigrateError {
  readonly inFlight: number;
  readonly bye: string | undefined;
  /** Whether any byte of the failed command had left: if so its outcome is unknown (APPEND is not idempotent). */
  readonly sent: boolean;
  constructor(message: string, inFlight: number, bye?: string, options?: { cause?: unknown; sent?: boolean }) {
    super('E_CLOSED', message, 'now', options);
    this.inFlight = inFlight;
    this.bye = bye;
    this.sent = options?.sent ?? false;
  }
}

/** True when a command may have reached the server although no tagged reply came: re-check before re-sending. */
export function isOutcomeUnknown(err: unknown): boolean {
  return (err instanceof ConnectionClosedError || err instanceof TimeoutError) && err.sent;
}

/** A network-level failure to connect (refused, unreachable, DNS, TLS verification). */
export class ConnectError extends MailmigrateError {
  constructor(code: ErrorCode, message: string, retry: RetryClass, options?: { cause?: unknown }) {
    super(code, message, retry, options);
  }
}

/** Login/authentication refused. Never carries the secret. */
export class AuthError extends MailmigrateError {
  constructor(message: string) {
    super('E_AUTH', message, 'never');
  }
}

/** The server sent bytes that violate the protocol grammar. */
export class ProtocolError extends MailmigrateError {
  readonly excerpt: string;
  constructor(message: string, excerpt = '') {
    super('E_PROTOCOL', excerpt ? `${message}: ${JSON.stringify(excerpt.slice(0, 120))}` : message, 'now');
    this.excerpt = excerpt;
  }
}

/** The journal cannot be read or written; the run must stop before it loses track. */
export class JournalError extends MailmigrateError {
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('E_JOURNAL', `journal ${path}: ${reason}`, 'never', options);
    this.path = path;
  }
}

/** Work was cancelled (SIGINT, pool closing). */
export class AbortedError extends MailmigrateError {
  constructor(message = 'aborted') {
    super('E_ABORTED', message, 'never');
  }
}

export function isMailmigrateError(err: unknown): err is MailmigrateError {
  return err instanceof MailmigrateError;
}

/** Wraps anything thrown into a MailmigrateError so callers can rely on code/retry. */
export function toMailmigrateError(err: unknown, fallbackCode: ErrorCode = 'E_INTERNAL'): MailmigrateError {
  if (err instanceof MailmigrateError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  // The system code (ENOSPC, EACCES…) stays in the message; the error code stays in the catalogue.
  const withErrno = e?.code && !message.includes(String(e.code)) ? `${message} (${e.code})` : message;
  return new MailmigrateError(fallbackCode, withErrno, 'never', { cause: err });
}
