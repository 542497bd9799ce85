import { MailmigrateError as MailmigrateErrorBase, type MailmigrateError, ProtocolError, ServerResponseError } from '../core/errors.js';
import type { CompiledCommand } from '../imap/compiler.js';
import type { ResponseItem } from '../imap/response-reader.js';
import { classifyResponse } from '../imap/response-policy.js';
import { type GateDecision, sendGate } from './send-gate.js';
import { type LiteralUse, newRecord } from './timing.js';
import { notifyObservers, notSentError, sentError, type TaggedResult } from './command-outcome.js';
import type { EnqueueOptions, Entry, QueueOptions, WireIO } from './command-queue-types.js';

export type { TaggedResult } from './command-outcome.js';
export type { EnqueueOptions, QueueOptions, WireIO } from './command-queue-types.js';

// The per-connection command queue: pipelining, literal continuations, tag matching and timing capture.
// Hand-written because no IMAP library pipelines (imapflow sends one command at a time, docs/measurements.md) or exposes
// when each byte left. Layout (after undici's queue, one structure in regions):
//
//   pending[]          not started, FIFO; the send-gate decides when pending[0] may start
//   inflight (Map)     started (≥ 1 byte written), awaiting the tagged reply, in start order
//   awaiting           the one in-flight command stopped before a synchronizing literal, waiting for '+'
//
// A command moves pending → inflight exactly once, and leaves through finish() exactly once (tagged reply or
// failure) — the one way out of both pending and inflight (isync's `done`). finish() settles the caller's promise
// first and only then tells observers (the timing subscriber, the diagnostics channel); an observer that throws
// (a --trace writer on a full disk) is reported through onObserverError and can never leave a command unsettled
// or tear the connection down (undici settles a request exactly once the same way).
//
// Untagged responses are routed, not hoarded: a command names the untagged types it wants (CAPABILITY wants
// CAPABILITY); the connection updates its state from the rest (BYE, [ALERT], [CAPABILITY]) and drops them. What a
// command may collect is bounded in bytes, so a server repeating "* CAPABILITY …" forever cannot grow memory.

const DEFAULT_MAX_UNTAGGED_BYTES = 1024 * 1024;

export class CommandQueue {
  private readonly pending: Entry[] = [];
  private pendingHead = 0;
  private readonly inflight = new Map<string, Entry>();
  private awaiting: Entry | undefined;
  private exclusiveRunning = 0;
  private readonly confirmed = new Set<string>();
  private pumping = false;
  private open = false;
  private held = false;
  /** Set by the connection when the server went silent on a command it holds whole; cleared by its next answer. */
  private overdueAt: number | undefined;
  private failedWith: MailmigrateError | undefined;
  /** Time of the last answer that moves a command forward (tagged reply or '+'); untagged chatter does not count,
   *  so "* 1 EXISTS" forever cannot hold a command past its deadline. The reply timer compares against it. */
  lastAnswerAt = 0;
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
  /** Since when the server has been overdue (see setOverdue), or undefined. */
  get overdueSince(): number | undefined {
    return this.overdueAt;
  }
  /** In-flight APPENDs whose every byte was written: the server may store them without our knowing. */
  get wholeAppendsInFlight(): number {
    let n = 0;
    for (const e of this.inflight.values()) if (e.opts.mailbox !== undefined && e !== this.awaiting) n++;
    return n;
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

  /**
   * The server has held a whole command past the reply timeout without a word: nothing new starts here (send-gate
   * 'overdue'), and the commands not started yet leave at once as never sent, so the pool sends them on another
   * connection instead of behind a server that is not answering. The next answer clears it (noteAnswer).
   */
  setOverdue(err: MailmigrateError): void {
    if (this.overdueAt !== undefined || this.failedWith) return;
    this.overdueAt = this.opts.clock.now();
    this.failNotSent(this.takePending(), err, this.overdueAt, this.inflight.size);
  }

  /** A tagged reply or '+': the server is moving again; an overdue connection takes new commands again. */
  private noteAnswer(): void {
    this.lastAnswerAt = this.opts.clock.now();
    this.overdueAt = undefined;
  }

  /** Holds (true) or releases new commands: the pool's throttle gate. Literals already promised by '+' still go. */
  hold(held: boolean): void {
    this.held = held;
    if (!held) this.pump();
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
        untaggedBytes: 0,
        settled: false,
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
        held: this.held,
        overdue: this.overdueAt !== undefined,
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
    if (item.kind === 'continuation') {
      this.noteAnswer();
      return this.onContinuation(item.text);
    }
    if (item.kind === 'untagged') return this.routeUntagged(item);
    const e = this.inflight.get(item.tag);
    if (!e) throw new ProtocolError('tagged reply for a command never sent', item.tag);
    const r = e.record;
    this.noteAnswer();
    r.tagged = this.lastAnswerAt;
    if (r.bodyFlushed === undefined) r.bodyFlushed = r.headFlushed ?? r.writeStart;
    r.outcome = { status: item.status, code: item.code?.name, text: item.text };
    if (item.status === 'OK') {
      if (e.opts.mailbox !== undefined) this.confirmed.add(e.opts.mailbox);
      this.finish(e, { status: 'OK', code: item.code, text: item.text, untagged: e.untagged, record: r });
    } else {
      const m = classifyResponse(item.status, item.code?.name, item.text);
      this.finish(e, new ServerResponseError(e.compiled.verb, item.status, item.code?.name, item.text, m.retry, r, m.code));
    }
    this.pump();
  }

  /**
   * Gives an untagged response to the in-flight commands that asked for its type, oldest first (the order they were
   * sent); drops it otherwise. A command that streams its answers (onUntagged) takes the response for itself: the
   * server executes pipelined commands in order (RFC 3501 §5.5), so the oldest command in flight that asked for this
   * kind is the one being answered — the pipelined SELECTs and STATUS of folder-survey.ts and the pipelined FETCHes of
   * bulk-index.ts are told apart by this, and a younger command never sees an older one's data. Collected answers
   * (no onUntagged) go to every command that asked, as before.
   */
  private routeUntagged(item: Extract<ResponseItem, { kind: 'untagged' }>): void {
    const limit = this.opts.maxUntaggedBytes ?? DEFAULT_MAX_UNTAGGED_BYTES;
    for (const e of this.inflight.values()) {
      if (!e.opts.untagged?.includes(item.type)) continue;
      if (e.opts.onUntagged) {
        // Requested data, not chatter: the command is moving.
        this.noteAnswer();
        e.opts.onUntagged(item);
        return;
      }
      e.untaggedBytes += item.raw.length;
      if (e.untaggedBytes > limit) {
        throw new ProtocolError(`more than ${limit} bytes of untagged ${item.type} responses for one ${e.compiled.verb}`, item.text);
      }
      e.untagged.push(item);
    }
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

  /**
   * The one way out for a command: leaves pending/inflight, settles the caller's promise, then notifies the
   * observers. Settling comes first and observers run guarded, so nothing an observer does can leave the command
   * unsettled or reach the transport. A second call for the same command is ignored.
   */
  private finish(e: Entry, outcome: TaggedResult | MailmigrateError): void {
    if (e.settled) return;
    e.settled = true;
    if (this.inflight.get(e.compiled.tag) === e) {
      this.inflight.delete(e.compiled.tag);
      if (e.opts.exclusive) this.exclusiveRunning--;
    }
    // A tagged reply while we wait for '+' is the server refusing the command early (the point of a
    // synchronizing literal, RFC 3501 §7.5): the literal is never sent.
    if (this.awaiting === e) this.awaiting = undefined;
    if (outcome instanceof MailmigrateErrorBase) e.reject(outcome);
    else e.resolve(outcome);
    // Only commands that started have a timing record worth publishing (a never-sent one has no phases).
    if (e.record.writeStart !== undefined) notifyObservers(e.record, this.opts.onRecord, this.opts.onObserverError);
  }

  /** Fails every command: in-flight ones with an unknown outcome (sent), pending ones as never sent. */
  failAll(err: MailmigrateError): void {
    if (this.failedWith) return;
    this.failedWith = err;
    this.open = false;
    const now = this.opts.clock.now();
    const inflight = [...this.inflight.values()];
    const pending = this.takePending();
    for (const e of inflight) {
      e.record.failed = now;
      e.record.outcome = { status: 'ERROR', code: err.code, text: err.message };
      this.finish(e, sentError(err, inflight.length, e.record));
    }
    this.failNotSent(pending, err, now, inflight.length);
    this.awaiting = undefined;
  }

  /** Empties pending (commands not started) and returns them. */
  private takePending(): Entry[] {
    const pending = this.pending.slice(this.pendingHead);
    this.pending.length = 0;
    this.pendingHead = 0;
    return pending;
  }

  /** Commands that never started fail as never sent: safe to send again elsewhere. */
  private failNotSent(entries: readonly Entry[], err: MailmigrateError, at: number, inFlight: number): void {
    for (const e of entries) {
      e.record.failed = at;
      this.finish(e, notSentError(err, inFlight));
    }
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
