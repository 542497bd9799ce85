// The one place that decides whether the next queued command may be written now (design.md; after mbsync's
// cmd_sendable in drv_imap.c). Pure: the command queue calls it with a snapshot and obeys the answer.

export interface GateState {
  /** The connection is authenticated and not closing. */
  readonly open: boolean;
  /** The account's server asked for quiet (throttling): the pool holds every connection until the backoff ends. */
  readonly held?: boolean;
  /** The server has not answered for the reply timeout while a command it holds whole awaits its reply. */
  readonly overdue?: boolean;
  /** Commands written (fully or partly) whose tagged reply has not come. */
  readonly inFlight: number;
  /** A command is stopped mid-write waiting for '+' before its synchronizing literal. */
  readonly awaitingContinuation: boolean;
  /** The in-flight command that must run alone (STARTTLS, AUTHENTICATE, LOGIN, SELECT, LOGOUT…) is still running. */
  readonly exclusiveInFlight: boolean;
  /** Bytes Node holds that the kernel has not accepted yet (socket.writableLength). */
  readonly bufferedBytes: number;
  /** Configured pipeline depth (commands in flight), ≥ 1. */
  readonly depth: number;
  /** Above this many unflushed bytes we stop writing until 'drain'. */
  readonly maxBufferedBytes: number;
}

export interface Candidate {
  /** Must run alone: nothing in flight before it, nothing after it until its tagged reply. */
  readonly exclusive: boolean;
  /** An APPEND to a mailbox no command has succeeded on yet on this connection. */
  readonly unconfirmedMailbox: boolean;
}

export type GateDecision =
  | 'send'
  | 'closed'
  | 'throttled'
  | 'overdue'
  | 'awaiting-continuation'
  | 'exclusive-running'
  | 'needs-idle'
  | 'backpressure'
  | 'depth'
  | 'unconfirmed-mailbox';

export function sendGate(s: GateState, next: Candidate): GateDecision {
  // Nothing goes out on a connection that is not ready or is shutting down: its commands would be lost unanswered.
  if (!s.open) return 'closed';
  // A command waiting for '+' owns the stream: the next bytes must be its literal (RFC 3501 §7.5), so no other
  // command may start, whatever the depth.
  if (s.awaitingContinuation) return 'awaiting-continuation';
  // The server asked for quiet (throttling, e.g. Microsoft 365's "Suggested Backoff Time"): no new command starts
  // on any connection of the account until the backoff ends. A literal already promised by '+' still goes (above).
  if (s.held) return 'throttled';
  // The server holds a whole command and has said nothing for the reply timeout (Courier behind its folder lock:
  // 1–5 s, and past 60 s with 8 connections). Only its answer can tell whether that message was stored, so the
  // connection waits for it, and nothing new is added to a server that is not keeping up. The pool sends elsewhere.
  if (s.overdue) return 'overdue';
  // A state-changing command (STARTTLS, LOGIN, SELECT, LOGOUT) must complete before anything else is interpreted
  // (RFC 3501 §5.5: commands whose result changes the state must not be pipelined behind or ahead).
  if (s.exclusiveInFlight) return 'exclusive-running';
  if (next.exclusive && s.inFlight > 0) return 'needs-idle';
  // Don't stack output in the socket: if the kernel has not taken what we wrote, more writes only grow memory and
  // make later commands' timings lie about when they left. Resume on 'drain'.
  if (s.bufferedBytes > s.maxBufferedBytes) return 'backpressure';
  // The configured pipeline depth bounds commands in flight (and so what is lost if the connection dies).
  if (s.inFlight >= s.depth) return 'depth';
  // The first APPEND to a mailbox not yet confirmed goes alone: if it draws NO [TRYCREATE], every command
  // pipelined behind it would fail the same way and need re-sending (mbsync does the same).
  if (next.unconfirmedMailbox && s.inFlight > 0) return 'unconfirmed-mailbox';
  return 'send';
}
