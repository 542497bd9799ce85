// What the pool hands back and what it needs, apart from how it works (pool.ts): the outcome of each message, the
// events it reports, the settings reconfigure() may change, its options, its observer, and the little it needs of a
// connection (so its unit tests can pass fakes without sockets).
import type { MailmigrateError } from '../core/errors.js';
import type { AppendMessage } from '../core/types.js';
import type { Capabilities } from '../imap/capabilities.js';
import type { AppendResult, ConnectionOptions } from './connection.js';
import type { TimingRecord } from './timing.js';

export type MessageOutcome =
  | { readonly status: 'appended'; readonly uid: number | undefined; readonly uidValidity: number | undefined }
  | { readonly status: 'failed'; readonly error: MailmigrateError }
  /** Sent, but no tagged reply came: it may or may not be on the server. Check before sending again. */
  | { readonly status: 'unknown'; readonly error: MailmigrateError };

export type PoolEvent =
  | { type: 'connected'; connectionId: number; connectMs: number; open: number }
  | { type: 'disconnected'; connectionId: number; reason: string; inFlight: number }
  | { type: 'connection-cap'; limit: number; reason: string }
  | { type: 'reconnect-failed'; attempt: number; reason: string; delayMs: number }
  | { type: 'throttled'; delayMs: number; reason: string }
  | { type: 'mailbox-created'; mailbox: string }
  | { type: 'batch-split'; mailbox: string; size: number; reason: string }
  /** Settings changed while running (reconfigure), each with the reason the caller gave. */
  | { type: 'reconfigured'; changes: ReadonlyArray<{ setting: string; from: unknown; to: unknown }> }
  /** The server sent [ALERT] text (RFC 3501 §7.1: it must be shown to the user). */
  | { type: 'alert'; connectionId: number; text: string }
  /** The server went silent on a connection holding whole commands; it waits `waitMs` more for their answers. */
  | { type: 'overdue'; connectionId: number; silentMs: number; commands: number; waitMs: number }
  /** A timing observer (--trace writer, onRecord) threw; the command settled regardless. Sent once per pool. */
  | { type: 'observer-failed'; reason: string };

/** What the pool needs of a connection; Connection in production, a fake in the pool's unit tests. */
export interface PoolConnection {
  readonly id: number;
  readonly capabilities: Capabilities;
  readonly closed: boolean;
  readonly bye: string | undefined;
  readonly inFlight: number;
  /** Waiting past the reply timeout for answers to commands the server holds whole: take no new work. */
  readonly overdue?: boolean;
  readonly load: number;
  readonly depth: number;
  readonly connectMs: number;
  append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult>;
  create(mailbox: string): Promise<void>;
  confirmMailbox(mailbox: string): void;
  /** Holds (true) or releases new commands on this connection (the throttle gate). */
  hold(held: boolean): void;
  /** The LITERAL+ limit for APPENDs compiled from now on (commands already compiled keep theirs). Fakes may omit it. */
  setLiteralPlusMax?(bytes: number): void;
  close(): Promise<void>;
  destroy(err: MailmigrateError): void;
  whenClosed(): Promise<void>;
}

/** One APPEND the pool sent, once it settled: what an adaptation controller learns folder-lock waits from. */
export interface AppendSample {
  readonly mailbox: string;
  readonly connectionId: number;
  /** Connections with an APPEND into this mailbox in flight when this one was handed out (itself included). */
  readonly connectionsInFolder: number;
  readonly messages: number;
  readonly bytes: number;
  /** The command's timing record (undefined when it failed before one was written). */
  readonly record: TimingRecord | undefined;
  readonly ok: boolean;
}

/** What reconfigure() may change while the pool runs. */
export interface PoolSettings {
  readonly pipelineDepth: number;
  readonly connections: number;
  /** undefined = no limit. */
  readonly connectionsPerFolder: number | undefined;
  /** Largest batch the pool sends as one command (larger submitted batches are split); undefined = as submitted. */
  readonly batch: number | undefined;
  /** LITERAL+ limit of literal mode auto on every connection (src/imap/literal-policy.ts): raised over a long path. */
  readonly literalPlusMaxBytes: number;
}

export interface ReconnectOptions {
  /** Connections to open (the pool settles lower if the server refuses some). */
  readonly connections?: number;
  /** Reconnect backoff bounds (ms). */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * How long to keep trying to reconnect when every connection is gone before failing what is left (default 60 s):
   * long enough to ride out a server restart (Dovecot's takes 1–3 s here), short enough not to hang on a dead host.
   */
  readonly reconnectWindowMs?: number;
  /** Ends reconnect sleeps early (SIGINT). */
  readonly signal?: AbortSignal | undefined;
}

/** What an observer may read of the pool it watches, and change (src/migrate/adaptive-run.ts). */
export interface PoolView {
  readonly options: { readonly maxBytesInFlight?: number | undefined };
  readonly settings: PoolSettings;
  readonly capabilities: Capabilities | undefined;
  readonly connectTimes: number[];
  readonly connectionCap: number | undefined;
  reconfigure(change: Partial<PoolSettings>): PoolSettings;
}

/**
 * Watches the pool's work and may reconfigure it (the adaptation controller, src/migrate/adaptive-run.ts). Called
 * guarded: an observer that throws is reported once ('observer-failed') and the pool's work goes on.
 */
export interface PoolObserver {
  /** The pool is open (its first connections are up): keep it to read its settings and reconfigure it. */
  attached?(pool: PoolView): void;
  /** Every timing record of every command (APPEND and the connection's own: CAPABILITY, LOGIN …). */
  record?(r: TimingRecord): void;
  appendSettled?(s: AppendSample): void;
}

export interface PoolOptions extends ConnectionOptions, ReconnectOptions {
  /** Retries of one command after throttling or transient refusals before giving up on it. */
  readonly maxRetries?: number;
  readonly onEvent?: (e: PoolEvent) => void;
  /**
   * Bytes of messages the pool may hold (submitted, not yet settled) before whenWritable() waits. Default 16 MiB:
   * far above the bandwidth-delay product of any link an import runs over (100 Mbit/s × 50 ms = 625 KB), so it
   * costs no throughput, while by count alone (2 connections × depth 2 × batches of 50) 1.5 MB messages could hold
   * 300 MB. One batch is always admitted whatever its size, so a single large message still goes. Measured
   * (docs/pool-memory.md): 200 × 1.5 MB messages into Dovecot, peak RSS 314 → 241 MB.
   */
  readonly maxBytesInFlight?: number;
  /** Ends backoff and reconnect sleeps early (SIGINT); sleeping batches then fail with E_ABORTED, never sent. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Folders known to exist on the server (from LIST, or created by the caller): their first batch may be
   * pipelined at once instead of probing alone. The same as calling markFolderKnown() for each.
   */
  readonly knownFolders?: Iterable<string>;
  /**
   * The depth connections are opened with, so reconfigure() can raise the pool's depth up to it (default:
   * pipelineDepth). The pool keeps each connection at its current depth whatever this says.
   */
  readonly maxPipelineDepth?: number;
  /** Connections that may append into one folder at the same time (default: no limit). */
  readonly connectionsPerFolder?: number;
  readonly observer?: PoolObserver;
  /** Opens one connection; tests pass fakes. Default Connection.open. */
  readonly connect?: (options: ConnectionOptions) => Promise<PoolConnection>;
}
