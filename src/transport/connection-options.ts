// What opening a Connection takes and gives back, apart from how it works (connection.ts): the options, the
// per-phase timeouts with their defaults, the late-answer notice, and an APPEND's result. Callers that only build
// options (the CLI, the first connection, the pool) need none of the socket code.
import type { Clock } from '../core/clock.js';
import type { LiteralMode, WriteMode } from '../core/types.js';
import type { Credentials } from './auth.js';
import type { TimingRecord } from './timing.js';
import type { ResponseReaderOptions } from '../imap/response-reader.js';

export type TlsMode = 'implicit' | 'starttls' | 'starttls-optional' | 'none';
export type { Credentials } from './auth.js';

export interface Timeouts {
  readonly connectMs: number;
  readonly greetingMs: number;
  /** Header of a synchronizing literal flushed → '+'. */
  readonly continuationMs: number;
  /** Commands in flight and no byte from the server for this long → the connection is stalled. */
  readonly replyMs: number;
  /**
   * Stalled while the server holds a whole command: how much longer to wait for its answer before giving up on the
   * connection. Only the answer says whether that message was stored. A connection dropped after 60 s, its message
   * looked up and sent again, doubled it when the server stored it later: Courier held APPENDs behind its folder
   * lock that long with 4 and 8 connections into one folder (2 and 3 messages doubled, docs/adaptation.md). Waiting
   * costs only the end of the run (the pool sends on other connections meanwhile); 0 = give up at replyMs.
   */
  readonly lateAnswerMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  connectMs: 10_000,
  greetingMs: 10_000,
  continuationMs: 30_000,
  replyMs: 60_000,
  lateAnswerMs: 300_000,
};

/** The server went silent on a connection with commands it holds whole: it waits for their answer (see lateAnswerMs). */
export interface OverdueNotice {
  readonly connectionId: number;
  readonly silentMs: number;
  /** Commands in flight, every byte of which the server has. */
  readonly commands: number;
  /** How much longer the connection waits for an answer before it is given up (outcomes then unknown). */
  readonly waitMs: number;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly ca?: Buffer | undefined;
  /** TLS certificate verification; on unless the user asked for --insecure. */
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
  readonly auth?: Credentials | undefined;
  /** TCP_NODELAY. Default true: with Nagle on, a split write stalls one delayed-ACK timeout (44 ms, docs/measurements.md). */
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly localAddress?: string | undefined;
  readonly timeouts?: Partial<Timeouts>;
  /** Commands in flight at once (1 = no pipelining). */
  readonly pipelineDepth?: number;
  readonly writeMode?: WriteMode;
  readonly literalMode?: LiteralMode;
  readonly literalPlusMaxBytes?: number;
  /** Stop writing while Node holds more than this many unflushed bytes. */
  readonly maxBufferedBytes?: number;
  /** Bounds on what the server may send (connection.ts READER_LIMITS by default: an APPEND connection reads no
   *  message); a connection that reads stored messages (the bulk index) gives the control plane's. */
  readonly readerLimits?: ResponseReaderOptions;
  readonly clock?: Clock;
  readonly onRecord?: (r: TimingRecord) => void;
  /** An observer (onRecord or a diagnostics-channel subscriber) threw; the command settled regardless. */
  readonly onObserverError?: (err: unknown, r: TimingRecord) => void;
  /** The server sent an [ALERT] (RFC 3501 §7.1: the text must be shown to the user). */
  readonly onAlert?: (text: string, connectionId: number) => void;
  /** The server went silent holding whole commands; the connection waits for their answers (guarded). */
  readonly onOverdue?: (notice: OverdueNotice) => void;
}

export interface AppendResult {
  readonly uidValidity: number | undefined;
  /** One UID per message, in order, when the server offers UIDPLUS (RFC 4315 APPENDUID). */
  readonly uids: number[] | undefined;
  readonly record: TimingRecord;
}
