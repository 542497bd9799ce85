// Typed errors with stable codes and a retry class (design.md "Errors"; modelled on undici's error classes).
// `code` is a stable string callers may switch on; `retry` says what a caller may do:
//   'now'   — safe to retry at once (e.g. another connection),
//   'later' — retry after a backoff (throttling, connection cap, server restarting),
//   'never' — retrying cannot help (bad option, bad message, protocol violation).
// Messages never contain credentials: constructors take no password and callers pass none.

export type RetryClass = 'now' | 'later' | 'never';

export class MailmigrateError extends Error {
  readonly code: string;
  readonly retry: RetryClass;
  constructor(code: string, message: string, retry: RetryClass, options?: { cause?: unknown }) {
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
  constructor(path: string, reason: string, code = 'E_SOURCE', options?: { cause?: unknown }) {
    super(code, `${path}: ${reason}`, 'never', options);
    this.path = path;
  }
}

/** The server answered NO or BAD to a command. */
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
  ) {
    const rc = responseCode ? ` [${responseCode}]` : '';
    super(`E_SERVER_${status}`, `${command} failed: ${status}${rc} ${text}`.trimEnd(), retry);
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
  constructor(code: string, message: string, retry: RetryClass, options?: { cause?: unknown }) {
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
export function toMailmigrateError(err: unknown, fallbackCode = 'E_INTERNAL'): MailmigrateError {
  if (err instanceof MailmigrateError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  return new MailmigrateError(e?.code ? `E_${e.code}` : fallbackCode, message, 'never', { cause: err });
}
