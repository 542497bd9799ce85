// What a command handler sees of its session, and the argument helpers every handler shares.
import { decodeMutf7 } from '../core/mutf7.js';
import type { ParsedCommand } from './command-reader.js';
import type { Token } from './command-tokens.js';
import type { ServerLimits } from './limits.js';
import type { Mailbox, Store } from './store.js';
import { normalizeMailboxName } from './store.js';

export interface Reply {
  readonly status: 'OK' | 'NO' | 'BAD';
  readonly code?: string;
  readonly text: string;
}

/** Thrown by handlers to answer NO/BAD; never carries credentials. */
export class CommandError extends Error {
  constructor(readonly status: 'NO' | 'BAD', readonly text: string, readonly code?: string) {
    super(text);
    this.name = 'CommandError';
  }
}

/** The tagged reply a CommandError stands for. */
export function errorReply(err: CommandError): Reply {
  return err.code ? { status: err.status, code: err.code, text: err.text } : { status: err.status, text: err.text };
}

export interface Capabilities {
  literalPlus: boolean;
  literalMinus: boolean;
  multiappend: boolean;
  uidplus: boolean;
  binary: boolean;
  specialUse: boolean;
  saslIr: boolean;
  namespace: boolean;
  id: boolean;
  unselect: boolean;
}

export interface ServerStats {
  connections: number;
  activeConnections: number;
  refusedConnections: number;
  commands: number;
  appendCommands: number;
  appended: number;
  continuations: number;
  bytesIn: number;
  bytesOut: number;
  logins: number;
  failedLogins: number;
}

/** State shared by the server and all its sessions. */
export interface ServerShared {
  readonly users: Readonly<Record<string, string>>;
  readonly caps: Capabilities;
  readonly limits: ServerLimits;
  /** Told about every internal error (a bug in a handler) before the session answers BYE [SERVERBUG]. */
  readonly onInternalError: ((err: unknown) => void) | undefined;
  readonly maxConnectionsPerUser: number | undefined;
  readonly connectionCapReply: 'no' | 'bye';
  readonly requireTlsForLogin: boolean;
  readonly store: Store;
  readonly stats: ServerStats;
  readonly userConnections: Map<string, number>;
  readonly hasTls: boolean;
}

export interface Selected {
  box: Mailbox;
  readOnly: boolean;
  /** UIDs this session has been told about, by sequence number - 1. */
  uids: number[];
  expungeVersion: number;
}

export interface CommandContext {
  readonly shared: ServerShared;
  selected: Selected | undefined;
  /** Queues an untagged response (or any bytes) for the batched write. */
  send(data: string | Buffer): void;
  /** Brings `selected` up to date with the store, announcing EXISTS / EXPUNGE. */
  syncSelected(): void;
}

export type Handler = (ctx: CommandContext, cmd: ParsedCommand) => Reply;

export function ok(text: string, code?: string): Reply {
  return code ? { status: 'OK', code, text } : { status: 'OK', text };
}

export function tokenString(t: Token | undefined, what = 'argument'): string {
  if (!t) throw new CommandError('BAD', `Missing ${what}`);
  switch (t.kind) {
    case 'atom':
    case 'string':
      return t.value;
    case 'literal':
      return t.value.toString('utf8');
    default:
      throw new CommandError('BAD', `Invalid ${what}`);
  }
}

export function tokenAtom(t: Token | undefined, what = 'argument'): string {
  if (!t || t.kind !== 'atom') throw new CommandError('BAD', `Invalid ${what}`);
  return t.value;
}

/** A mailbox argument: astring, modified UTF-7 on the wire (RFC 3501 §5.1.3), Unicode in the store. */
export function mailboxArg(t: Token | undefined): string {
  const wire = tokenString(t, 'mailbox name');
  try {
    return normalizeMailboxName(decodeMutf7(wire));
  } catch {
    throw new CommandError('NO', 'Mailbox name is not valid modified UTF-7', 'CANNOT');
  }
}

export function requireSelected(ctx: CommandContext): Selected {
  if (!ctx.selected) throw new CommandError('BAD', 'No mailbox selected');
  return ctx.selected;
}
