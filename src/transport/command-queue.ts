import type { Clock } from '../core/clock.js';
import {
  ConnectionClosedError,
  type MailmigrateError,
  ProtocolError,
  ServerResponseError,
  TimeoutError,
} from '../core/errors.js';
import type { CompiledCommand } from '../imap/compiler.js';
import type { ResponseCode, ResponseItem } from '../imap/response-reader.js';
import { classifyFailure } from '../imap/response-codes.js';
import type { WriteMode } from '../core/types.js';
import { type GateDecision, sendGate } from './send-gate.js';
import { type LiteralUse, newRecord, type TimingRecord } from './timing.js';
import { publishRecord } from './record-channel.js';

// The per-connection command queue: pipelining, literal continuations, tag matching and timing capture.
// Hand-written because no IMAP library pipelines (imapflow sends one command at a time, facts.md) or exposes
// when each byte left. Layout (after undici's queue, one structure in regions):
//
//   pending[]          not started, FIFO; the send-gate decides when pending[0] may start
//   inflight (Map)     started (≥ 1 byte written), awaiting the tagged reply, in start order
//   awaiting           the one in-flight command stopped before a synchronizing literal, waiting for '+'
//
// A command moves pending → inflight exactly once, and leaves inflight exactly once (tagged reply or failure).

/** What the queue needs from a socket; a fake in unit tests, a net.Socket/tls.TLSSocket in production. */
export interface WireIO {
  write(data: Buffer, cb?: (err?: Error | null) => void): unknown;
  cork(): void;
  uncork(): void;
  readonly writableLength: number;
}

export interface TaggedResult {
  readonly status: 'OK';
  readonly code: ResponseCode | undefined;
  readonly text: string;
  /** Untagged responses that arrived while this command was in flight. */
  readonly untagged: ResponseItem[];
  readonly record: TimingRecord;
}

export interface EnqueueOptions {
  /** Must run alone (RFC 3501 §5.5 state changes: STARTTLS, LOGIN, AUTHENTICATE, SELECT, LOGOUT). */
  exclusive?: boolean;
  /** APPEND target, for the first-APPEND-to-an-unconfirmed-mailbox rule. */
  mailbox?: string;
  messages?: number;
  /** Answers a '+' that is not for a literal (SASL exchanges): returns the bytes to send, CRLF included. */
  onContinuation?: (text: string) => Buffer;
  /** Keep untagged responses for the caller (control commands); APPEND leaves it off to stay lean. */
  collectUntagged?: boolean;
}

interface Entry {
  readonly compiled: CompiledCommand;
  readonly record: TimingRecord;
  readonly opts: EnqueueOptions;
  /** Next piece whose text is still to be written. */
  piece: number;
  /** The current piece's text is written and its synchronizing literal awaits '+'. */
  headerOut: boolean;
  headerFlushedAt: number | undefined;
  readonly untagged: ResponseItem[];
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
}

export class CommandQueue {
  private readonly pending: Entry[] = [];
  private pendingHead = 0;
  private readonly inflight = new Map<string, Entry>();
  private awaiting: Entry | undefined;
  private exclusiveRunning = 0;
  private readonly confirmed = new Set<string>();
  private pumping = false;
  private open = false;
  private failedWith: MailmigrateError | undefined;
  /** Time of the last byte received; the idle timer compares against it. */
  lastReadAt = 0;
  /** Time the last command started to go out. */
  lastStartAt = 0;
  /** Time a write was last handed to the kernel (first or last piece of a command). */
  lastFlushAt = 0;

  constructor(
    private readonly io: WireIO,
    private readonly opts: QueueOptions,
  ) {}

  get inFlight(): number {
    return this.inflight.size;
  }
  get queued(): number {
    return this.pending.length - this.pendingHead;
  }
  get awaitingContinuationSince(): number | undefined {
    return this.awaiting?.headerFlushedAt ?? (this.awaiting ? this.awaiting.record.writeStart : undefined);
  }
  /** Whether anything awaits a server answer (drives the reply timeout). */
  get expectingReply(): boolean {
    return this.inflight.size > 0;
  }

  /** Marks a mailbox as existing (learned elsewhere, e.g. on another connection): no need to probe it alone. */
  confirm(mailbox: string): void {
    this.confirmed.add(mailbox);
  }

  setOpen(open: boolean): void {
    this.open = open;
    if (open) this.pump();
  }

  enqueue(compiled: CompiledCommand, opts: EnqueueOptions = {}): Promise<TaggedResult> {
    if (this.failedWith) return Promise.reject(notSentError(this.failedWith, this.inflight.size));
    const literal = literalUse(compiled);
    const record = newRecord(
      this.opts.connectionId,
      compiled.tag,
      compiled.verb,
      opts.messages ?? 0,
      compiled.literalBytes,
      literal,
      this.opts.clock.now(),
    );
    return new Promise<TaggedResult>((resolve, reject) => {
      this.pending.push({
        compiled,
        record,
        opts,
        piece: 0,
        headerOut: false,
        headerFlushedAt: undefined,
        untagged: [],
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /** Why pending[0] cannot go now ('send' if it can); exposed for diagnostics and tests. */
  gate(): GateDecision | 'empty' {
    const next = this.pending[this.pendingHead];
    if (!next) return 'empty';
    return sendGate(
      {
        open: this.open,
        inFlight: this.inflight.size,
        awaitingContinuation: this.awaiting !== undefined,
        exclusiveInFlight: this.exclusiveRunning > 0,
        bufferedBytes: this.io.writableLength,
        depth: this.opts.depth,
        maxBufferedBytes: this.opts.maxBufferedBytes,
      },
      {
        exclusive: next.opts.exclusive === true,
        unconfirmedMailbox: next.opts.mailbox !== undefined && !this.confirmed.has(next.opts.mailbox),
      },
    );
  }

  /** Starts every pending command the send-gate allows; in coalesce mode they leave in one writev. */
  pump(): void {
    if (this.pumping || this.failedWith) return;
    this.pumping = true;
    const coalesce = this.opts.writeMode === 'coalesce';
    let corked = false;
    try {
      while (this.gate() === 'send') {
        const e = this.pending[this.pendingHead]!;
        this.pending[this.pendingHead++] = undefined as unknown as Entry;
        if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
          this.pending.splice(0, this.pendingHead);
          this.pendingHead = 0;
        }
        if (coalesce && !corked) {
          this.io.cork();
          corked = true;
        }
        e.record.depthAtSend = this.inflight.size;
        e.record.writeStart = this.lastStartAt = this.opts.clock.now();
        this.inflight.set(e.compiled.tag, e);
        if (e.opts.exclusive) this.exclusiveRunning++;
        this.writeFrom(e);
      }
    } finally {
      if (corked) this.io.uncork();
      this.pumping = false;
    }
  }

  /** Writes e's pieces from e.piece until a synchronizing literal needs '+', or the end. */
  private writeFrom(e: Entry): void {
    const pieces = e.compiled.pieces;
    const r = e.record;
    while (e.piece < pieces.length) {
      const p = pieces[e.piece]!;
      if (!e.headerOut) {
        const first = r.writes === 0;
        const last = e.piece === pieces.length - 1 && !p.literal;
        this.write(p.text, e, first, last, p.literal?.kind === 'sync');
        if (p.literal?.kind === 'sync') {
          e.headerOut = true;
          this.awaiting = e;
          return;
        }
      }
      e.headerOut = false;
      if (p.literal) this.write(p.literal.data, e, false, false, false);
      e.piece++;
    }
  }

  private write(data: Buffer, e: Entry, first: boolean, last: boolean, syncHeader: boolean): void {
    const r = e.record;
    r.writes++;
    if (!first && !last && !syncHeader) {
      this.io.write(data);
      return;
    }
    // Flush callbacks only where a timestamp is recorded: the first write, sync headers and the last write.
    const clock = this.opts.clock;
    this.io.write(data, () => {
      const t = clock.now();
      this.lastFlushAt = t;
      if (first) r.headFlushed = t;
      if (syncHeader) e.headerFlushedAt = t;
      if (last) r.bodyFlushed = t;
    });
  }

  /** Routes one parsed response. Throws ProtocolError on a reply that matches nothing. */
  onResponse(item: ResponseItem): void {
    if (item.kind === 'continuation') return this.onContinuation(item.text);
    if (item.kind === 'untagged') {
      for (const e of this.inflight.values()) if (e.opts.collectUntagged) e.untagged.push(item);
      return;
    }
    const e = this.inflight.get(item.tag);
    if (!e) throw new ProtocolError('tagged reply for a command never sent', item.tag);
    this.inflight.delete(item.tag);
    if (e.opts.exclusive) this.exclusiveRunning--;
    // A tagged reply while we wait for '+' is the server refusing the command early (the point of a
    // synchronizing literal, RFC 3501 §7.5): the literal is never sent.
    if (this.awaiting === e) this.awaiting = undefined;
    const r = e.record;
    r.tagged = this.opts.clock.now();
    if (r.bodyFlushed === undefined) r.bodyFlushed = r.headFlushed ?? r.writeStart;
    r.outcome = { status: item.status, code: item.code?.name, text: item.text };
    this.emit(r);
    if (item.status === 'OK') {
      if (e.opts.mailbox !== undefined) this.confirmed.add(e.opts.mailbox);
      e.resolve({ status: 'OK', code: item.code, text: item.text, untagged: e.untagged, record: r });
    } else {
      const c = classifyFailure(item.status, item.code, item.text);
      e.reject(new ServerResponseError(e.compiled.verb, item.status, item.code?.name, item.text, c.retry, r));
    }
    this.pump();
  }

  private onContinuation(text: string): void {
    const e = this.awaiting;
    if (e) {
      this.awaiting = undefined;
      const now = this.opts.clock.now();
      e.record.syncWaits.push([Math.min(e.headerFlushedAt ?? e.record.writeStart ?? now, now), now]);
      const coalesce = this.opts.writeMode === 'coalesce';
      if (coalesce) this.io.cork();
      try {
        this.writeFrom(e);
        // Commands the literal was holding back may go in the same write.
        this.pump();
      } finally {
        if (coalesce) this.io.uncork();
      }
      return;
    }
    // A '+' outside a literal belongs to the (exclusive) SASL exchange in flight, if any.
    for (const x of this.inflight.values()) {
      if (x.opts.onContinuation) {
        const reply = x.opts.onContinuation(text);
        x.record.writes++;
        this.io.write(reply);
        return;
      }
    }
    throw new ProtocolError('continuation request with no command waiting for one', text);
  }

  /** A finished record goes to the connection's subscriber and to the diagnostics channel. */
  private emit(r: TimingRecord): void {
    this.opts.onRecord?.(r);
    publishRecord(r);
  }

  /** Fails every command: in-flight ones with an unknown outcome (sent), pending ones as never sent. */
  failAll(err: MailmigrateError): void {
    if (this.failedWith) return;
    this.failedWith = err;
    this.open = false;
    const now = this.opts.clock.now();
    const inflight = [...this.inflight.values()];
    this.inflight.clear();
    this.awaiting = undefined;
    for (const e of inflight) {
      e.record.failed = now;
      e.record.outcome = { status: 'ERROR', code: err.code, text: err.message };
      this.emit(e.record);
      e.reject(sentError(err, inflight.length, e.record));
    }
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const e = this.pending[i]!;
      e.record.failed = now;
      e.reject(notSentError(err, inflight.length));
    }
    this.pending.length = 0;
    this.pendingHead = 0;
  }
}

function literalUse(c: CompiledCommand): LiteralUse {
  let sync = 0;
  let nonsync = 0;
  for (const p of c.pieces) {
    if (p.literal?.kind === 'sync') sync++;
    else if (p.literal) nonsync++;
  }
  if (sync && nonsync) return 'mixed';
  return sync ? 'sync' : nonsync ? 'nonsync' : 'none';
}

/** The error an in-flight command gets: its bytes left, so the outcome on the server is unknown. */
function sentError(err: MailmigrateError, inFlight: number, record: TimingRecord): MailmigrateError {
  if (err instanceof TimeoutError) return new TimeoutError(err.phase, err.timeoutMs, record, true);
  const bye = err instanceof ConnectionClosedError ? err.bye : undefined;
  return new ConnectionClosedError(err.message, inFlight, bye, { cause: err, sent: true });
}

/** The error a never-started command gets: safe to send again elsewhere. */
function notSentError(err: MailmigrateError, inFlight: number): MailmigrateError {
  const bye = err instanceof ConnectionClosedError ? err.bye : undefined;
  return new ConnectionClosedError(`not sent: ${err.message}`, inFlight, bye, { cause: err, sent: false });
}
