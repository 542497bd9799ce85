// What the per-connection command queue (command-queue.ts) is given and keeps: the socket it writes to, the options
// of the queue and of each command, and the entry each command lives in from enqueue() to finish().
import type { Clock } from '../core/clock.js';
import type { MailmigrateError } from '../core/errors.js';
import type { WriteMode } from '../core/types.js';
import type { CompiledCommand } from '../imap/compiler.js';
import type { ResponseItem } from '../imap/response-reader.js';
import type { TaggedResult } from './command-outcome.js';
import type { TimingRecord } from './timing.js';

/** What the queue needs from a socket; a fake in unit tests, a net.Socket/tls.TLSSocket in production. */
export interface WireIO {
  write(data: Buffer, cb?: (err?: Error | null) => void): unknown;
  cork(): void;
  uncork(): void;
  readonly writableLength: number;
}

export interface EnqueueOptions {
  /** Must run alone (RFC 3501 §5.5 state changes: STARTTLS, LOGIN, AUTHENTICATE, SELECT, LOGOUT). */
  exclusive?: boolean;
  /** APPEND target, for the first-APPEND-to-an-unconfirmed-mailbox rule. */
  mailbox?: string;
  messages?: number;
  /** Answers a '+' that is not for a literal (SASL exchanges): returns the bytes to send, CRLF included. */
  onContinuation?: (text: string) => Buffer;
  /** Untagged response types (upper-case: 'CAPABILITY', 'LIST' …) this command collects; everything else is
   *  left to the connection's state and dropped (imapflow's per-command declaration). APPEND wants none. */
  untagged?: readonly string[];
  /** Streams the untagged responses of the types in `untagged` to the caller instead of collecting them, so a bulk
   *  `UID FETCH 1:*` of 100,000 messages is parsed as it arrives and never held whole (no byte cap applies). Each one
   *  is an answer the command asked for, so it also counts as progress for the reply deadline, and it is this
   *  command's alone when it is the oldest in flight that asked (command-queue.ts routeUntagged). A throw from it
   *  fails the command. */
  onUntagged?: (item: Extract<ResponseItem, { kind: 'untagged' }>) => void;
}

export interface Entry {
  readonly compiled: CompiledCommand;
  readonly record: TimingRecord;
  readonly opts: EnqueueOptions;
  /** Next piece whose text is still to be written. */
  piece: number;
  /** The current piece's text is written and its synchronizing literal awaits '+'. */
  headerOut: boolean;
  headerFlushedAt: number | undefined;
  readonly untagged: ResponseItem[];
  untaggedBytes: number;
  /** Set by finish(): the promise is settled and the command is in no list. */
  settled: boolean;
  readonly resolve: (r: TaggedResult) => void;
  readonly reject: (e: MailmigrateError) => void;
}

export interface QueueOptions {
  readonly connectionId: number;
  readonly depth: number;
  readonly writeMode: WriteMode;
  readonly maxBufferedBytes: number;
  readonly clock: Clock;
  readonly onRecord?: ((r: TimingRecord) => void) | undefined;
  /** An observer (onRecord, a diagnostics-channel subscriber) threw; the transport carried on regardless. */
  readonly onObserverError?: ((err: unknown, r: TimingRecord) => void) | undefined;
  /** Bytes of untagged responses one command may collect (default 1 MiB); more is a protocol violation. */
  readonly maxUntaggedBytes?: number | undefined;
}
