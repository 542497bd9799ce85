// The seams where something may wrap a session's behaviour without the session knowing what it is: fault
// injection (faults.ts) plugs in here, so the session's own code is only RFC 3501 and has no test switches in it
// (design.md: "fault injection wraps the session, not inside it"). The plain hooks change nothing; the server
// swaps a session's hooks when faults are switched on or off at run time.
import type { ParsedCommand } from './command-reader.js';
import type { Reply } from './command-context.js';

/** What to do instead of running a command normally. */
export type CommandOverride =
  /** Stop answering and running anything, keeping the connection open. */
  | { readonly kind: 'stall' }
  /** `* BYE [code] text` and close without running the command. */
  | { readonly kind: 'bye'; readonly code: string; readonly text: string }
  /** Destroy the connection without answering; `runFirst`: run the command before (outcome unknown to the client). */
  | { readonly kind: 'drop'; readonly runFirst: boolean }
  /** Answer with this reply instead of running; `thenBye`: then `* BYE` and close. */
  | { readonly kind: 'reply'; readonly reply: Reply; readonly thenBye: boolean };

export interface SessionHooks {
  /** Decided when the greeting is due. */
  greeting(): 'greet' | 'bye' | 'stall';
  /** Bytes received; `bytesBefore` counts this connection's earlier bytes. Returns the bytes to process and
   *  whether to destroy the connection once they are processed, or 'drop' to destroy it at once. */
  received(chunk: Buffer, bytesBefore: number): { readonly chunk: Buffer; readonly thenDrop: boolean } | 'drop';
  /** Called for command number `n` (1-based, per connection) before it runs; undefined runs it normally. */
  command(cmd: ParsedCommand, n: number): CommandOverride | undefined;
  /** Milliseconds to wait before the `+` for a literal of `verb`. */
  continuationDelayMs(verb: string): number;
  /** Milliseconds to wait before the tagged reply to `verb`. */
  taggedDelayMs(verb: string): number;
  /** After a NO/BAD, with this many in a row: true closes the connection with BYE. */
  closeAfterErrors(errorsInRow: number): boolean;
  /** A lock `cmd` must hold while it runs (a per-folder lock, as Courier takes one for each APPEND): resolves, once
   *  taken, with the function that gives it back after the command ran (before its reply); undefined: no lock. */
  lock(cmd: ParsedCommand): Promise<() => Promise<void>> | undefined;
}

export const PLAIN_HOOKS: SessionHooks = {
  greeting: () => 'greet',
  received: (chunk) => ({ chunk, thenDrop: false }),
  command: () => undefined,
  continuationDelayMs: () => 0,
  taggedDelayMs: () => 0,
  closeAfterErrors: () => false,
  lock: () => undefined,
};
