import type { ImapFlow } from 'imapflow';
import { MailmigrateError, TimeoutError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';
import { mapImapFlowError } from './imapflow-errors.js';
import { BULK_MS_PER_1000_MESSAGES, BULK_MS_PER_MIB, DEFAULT_COMMAND_TIMEOUT_MS } from './limits.js';

/**
 * A control-plane command got no answer within its deadline. The connection is closed (a late answer could be
 * taken for the next command's), so every later call fails fast; ControlAdapter reconnects where it may.
 */
export class ControlTimeoutError extends TimeoutError {
  readonly command: string;
  constructor(command: string, timeoutMs: number, where: string) {
    super('tagged', timeoutMs);
    this.command = command;
    this.message = `${command} on ${where}: no answer within ${timeoutMs} ms; control connection closed`;
  }
}

/** Where the session is connected (for error texts) and the deadline of each command (limits.ts). */
export interface SessionTarget {
  readonly host: string;
  readonly port: number;
  readonly commandTimeoutMs?: number | undefined;
}

/**
 * One connected imapflow client and how every command runs on it: under a deadline that closes the connection
 * when it passes, with imapflow's errors mapped to ours (imapflow-errors.ts) and a reader limit reported as the
 * cause. The folder and message work (folder-catalog.ts, mailbox-messages.ts) runs through it.
 */
export class ControlSession {
  readonly capabilities: ReadonlySet<string>;
  readonly #deadlineMs: number;
  #closed = false;

  /**
   * `streamError`: the last socket-level error imapflow emitted (a reader limit hit, a reset), kept by the listener
   * the connect step installs: what a failed call reports.
   */
  constructor(
    readonly client: ImapFlow,
    private readonly target: SessionTarget,
    private readonly streamError: { error?: unknown },
  ) {
    this.#deadlineMs = target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.capabilities = new Set([...client.capabilities.keys()].map((c) => c.toUpperCase()));
  }

  /**
   * Runs one command under its deadline (`deadlineMs`, default the command timeout). On expiry the connection is
   * closed (what it would answer later is no longer ours to read) and a ControlTimeoutError rejects.
   */
  async run<T>(command: string, fn: () => Promise<T>, deadlineMs = this.#deadlineMs): Promise<T> {
    if (this.#closed) throw new MailmigrateError('E_CLOSED', `${command}: control connection already closed`, 'never');
    try {
      return await withDeadline(fn(), deadlineMs, () => {
        this.#closed = true;
        this.client.close();
        return new ControlTimeoutError(command, deadlineMs, `${this.target.host}:${this.target.port}`);
      });
    } catch (err) {
      if (err instanceof ControlTimeoutError) throw err;
      throw this.limitError(command) ?? mapImapFlowError(err, { host: this.target.host, port: this.target.port, command });
    }
  }

  /** The reader-limit error that ended the connection, mapped (a ProtocolError), if that is what happened. */
  limitError(command: string): MailmigrateError | undefined {
    const e = this.streamError.error as { code?: string } | undefined;
    if (!e || !/^(LineTooLarge|LiteralTooLarge|ResponseTooLarge)$/.test(e.code ?? '')) return undefined;
    return mapImapFlowError(e, { host: this.target.host, port: this.target.port, command });
  }

  /** The deadline of a bulk command over `messages` messages totalling `bytes` (limits.ts). */
  bulkDeadline(messages: number, bytes = 0): number {
    return this.#deadlineMs + Math.ceil(messages / 1000) * BULK_MS_PER_1000_MESSAGES + Math.ceil(bytes / 1048576) * BULK_MS_PER_MIB;
  }

  /**
   * Synchronises the selected mailbox's view (NOOP, RFC 3501 §6.1.2). imapflow's noop() swallows a failure, so the
   * connection's state is checked after it: a view that could not be refreshed must not answer "not there".
   */
  async sync(): Promise<void> {
    await this.client.noop();
    if (!this.client.usable || !this.client.mailbox) {
      throw new MailmigrateError('E_IMAP', 'NOOP: the control connection is no longer usable', 'now');
    }
  }

  /** SELECTs `path` (read-write: EXAMINE reports PERMANENTFLAGS () on Dovecot, RFC 3501 §6.3.2) and runs fn. */
  async withMailbox<T>(command: string, path: string, fn: () => Promise<T>, deadlineMs?: number): Promise<T> {
    return this.run(`${command} ${path}`, async () => {
      const lock = await this.client.getMailboxLock(path);
      try {
        return await fn();
      } finally {
        lock.release();
      }
    }, deadlineMs);
  }

  /** A mailbox name as it goes on the wire: modified UTF-7 (RFC 3501 §5.1.3) unless UTF8=ACCEPT is on. */
  encode(path: string): string {
    return this.client.enabled.has('UTF8=ACCEPT') ? path : encodeMutf7(path);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.client.logout();
    } catch {
      // the connection may already be gone; closing is all that is left to do
    } finally {
      this.client.close();
    }
  }
}

/** `p`, or the error `onExpiry` builds when `ms` pass first (the timer never keeps the process alive). */
export async function withDeadline<T>(p: Promise<T>, ms: number, onExpiry: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onExpiry()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
