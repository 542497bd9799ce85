// When a connection gives up on its server: the per-connection timer over the command queue. Two deadlines run on it
// — a continuation that never comes (a synchronizing literal's '+') and silence with commands in flight
// (reply-timer.ts decides what counts as silence) — and one grace: a server that holds a whole APPEND gets
// lateAnswerMs more to answer it (the queue is 'overdue' meanwhile), because only its answer says whether the message
// was stored. What giving up means (tear the connection down) and who hears of the wait are the connection's.
import { type Clock } from '../core/clock.js';
import { TimeoutError } from '../core/errors.js';
import type { CommandQueue } from './command-queue.js';
import type { OverdueNotice, Timeouts } from './connection-options.js';
import { silence } from './reply-timer.js';

export interface ReplyDeadlineHost {
  readonly connectionId: number;
  /** Undefined until the socket is attached. */
  queue(): CommandQueue | undefined;
  closed(): boolean;
  /** Bytes Node holds unsent (socket.writableLength): their draining is upload progress, not silence. */
  buffered(): number;
  /** Gives the connection up: every command still open fails with `err`. */
  giveUp(err: TimeoutError): void;
  /** The server went silent holding whole APPENDs; the connection now waits for their answers. */
  overdue(notice: OverdueNotice): void;
}

export class ReplyDeadline {
  #timer: NodeJS.Timeout | undefined;
  /** The pending timer is the late-answer grace, not the normal reply deadline. */
  #grace = false;
  #previousBuffered = 0;
  #bufferedChangedAt = 0;

  constructor(
    private readonly host: ReplyDeadlineHost,
    private readonly timeouts: Timeouts,
    private readonly clock: Clock,
  ) {}

  /** Starts watching if commands await an answer and nothing watches yet; called after every send and answer. */
  arm(): void {
    // The late answer came (the queue is no longer overdue): the long grace gives way to the normal reply deadline.
    if (this.#grace && this.host.queue()?.overdueSince === undefined) this.stop();
    if (this.#timer || this.host.closed() || !this.host.queue()?.expectingReply) return;
    this.#later(Math.min(this.timeouts.replyMs, this.timeouts.continuationMs));
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#grace = false;
  }

  #later(ms: number, grace = false): void {
    this.#grace = grace;
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref?.();
  }

  #check(): void {
    this.#timer = undefined;
    this.#grace = false;
    const queue = this.host.queue();
    if (this.host.closed() || !queue?.expectingReply) return;
    const now = this.clock.now();
    const overdueSince = queue.overdueSince;
    if (overdueSince !== undefined) {
      // Waiting for a late answer: the next answer clears overdue (then arm() resets); this deadline gives up.
      const left = overdueSince + this.timeouts.lateAnswerMs - now;
      if (left <= 0) return this.host.giveUp(new TimeoutError('tagged', this.timeouts.replyMs + this.timeouts.lateAnswerMs));
      return this.#later(left, true);
    }
    const since = queue.awaitingContinuationSince;
    if (since !== undefined && now - since >= this.timeouts.continuationMs && queue.lastAnswerAt < since) {
      return this.#stalled(new TimeoutError('continuation', this.timeouts.continuationMs), now - since, queue);
    }
    const s = silence({
      now,
      lastAnswerAt: queue.lastAnswerAt,
      lastStartAt: queue.lastStartAt,
      lastFlushAt: queue.lastFlushAt,
      buffered: this.host.buffered(),
      previousBuffered: this.#previousBuffered,
      bufferedChangedAt: this.#bufferedChangedAt,
    });
    this.#previousBuffered = s.previousBuffered;
    this.#bufferedChangedAt = s.bufferedChangedAt;
    if (s.silentFor >= this.timeouts.replyMs) return this.#stalled(new TimeoutError('tagged', this.timeouts.replyMs), s.silentFor, queue);
    const wait = Math.min(this.timeouts.replyMs - s.silentFor, since !== undefined ? this.timeouts.continuationMs : Infinity);
    this.#later(Math.max(5, wait));
  }

  /**
   * The server said nothing for a timeout. If it holds a whole APPEND, only its answer can tell whether that message
   * was stored: stop sending here and wait lateAnswerMs more (overdue). An APPEND still waiting for '+' has not given
   * the server its message, and other commands store nothing, so without a whole APPEND the connection is dropped.
   */
  #stalled(err: TimeoutError, silentMs: number, queue: CommandQueue): void {
    const whole = queue.wholeAppendsInFlight;
    if (whole === 0 || this.timeouts.lateAnswerMs <= 0) return this.host.giveUp(err);
    queue.setOverdue(err);
    try {
      this.host.overdue({ connectionId: this.host.connectionId, silentMs, commands: whole, waitMs: this.timeouts.lateAnswerMs });
    } catch {
      // Reporting it failed; the wait goes on regardless.
    }
    this.#later(this.timeouts.lateAnswerMs, true);
  }
}
