// APPEND with MULTIAPPEND (RFC 3502), UIDPLUS's APPENDUID (RFC 4315 §3), APPENDLIMIT (RFC 7889) and BINARY
// literals (RFC 3516 §4.4). The literal policy decides before bytes arrive; appendCommand runs once they have.
import type { LiteralAnnouncement, ParsedCommand, Rejection } from './command-reader.js';
import { CommandError, mailboxArg, ok, type CommandContext, type Reply, type ServerShared } from './command-context.js';
import type { NewMessage } from './store.js';
import { formatUidSet, normalizeFlag, parseDateTime } from './wire-format.js';

/** RFC 7888 §4: with only LITERAL- a non-synchronizing literal may be at most 4096 bytes. */
export const LITERAL_MINUS_MAX = 4096;

/** The literal forms the capabilities allow (BINARY, LITERAL+, LITERAL-), in any state; null accepts. */
export function literalFormPolicy(caps: ServerShared['caps'], a: LiteralAnnouncement): Rejection | null {
  if (a.binary && !caps.binary) return { status: 'BAD', text: 'Binary literals are not enabled' };
  if (!a.sync && !caps.literalPlus) {
    if (!caps.literalMinus) return { status: 'BAD', text: 'Non-synchronizing literals are not enabled' };
    if (a.size > LITERAL_MINUS_MAX) {
      return { status: 'BAD', code: 'TOOBIG', text: `Non-synchronizing literal over ${LITERAL_MINUS_MAX} bytes (LITERAL-)` };
    }
  }
  return null;
}

/** Decides on each literal as an authenticated client announces it; null accepts. */
export function literalPolicy(shared: ServerShared, a: LiteralAnnouncement): Rejection | null {
  const form = literalFormPolicy(shared.caps, a);
  if (form) return form;
  const limits = shared.limits;
  if (a.size > limits.maxMessageBytes) {
    // A synchronizing literal is refused before `+`, so the client never sends it (RFC 7889 §4). A LITERAL+ one
    // is already on its way: drop it as it comes, within maxDiscardBytes; past that, reading it is the attack.
    const text = `Message larger than APPENDLIMIT ${limits.maxMessageBytes}`;
    return { status: 'NO', code: 'TOOBIG', text, ...(!a.sync && a.size > limits.maxDiscardBytes ? { close: true } : {}) };
  }
  if (a.commandBytes + a.size > limits.maxCommandBytes) {
    // A MULTIAPPEND holds every message until its last one arrives (the command is atomic, RFC 3502 §3).
    const text = `Command larger than ${limits.maxCommandBytes} bytes; send fewer messages per APPEND`;
    return { status: 'NO', code: 'TOOBIG', text, ...(!a.sync && a.size > limits.maxDiscardBytes ? { close: true } : {}) };
  }
  // Like Dovecot, refuse an APPEND to a missing mailbox before the client uploads anything.
  if (a.sync && a.index === 0 && a.verb === 'APPEND' && a.args.length >= 1) {
    try {
      if (!shared.store.get(mailboxArg(a.args[0]))) return { status: 'NO', code: 'TRYCREATE', text: 'Mailbox does not exist' };
    } catch (err) {
      if (err instanceof CommandError) return err.code ? { status: err.status, code: err.code, text: err.text } : { status: err.status, text: err.text };
      throw err;
    }
  }
  return null;
}

export function appendCommand(ctx: CommandContext, cmd: ParsedCommand): Reply {
  const shared = ctx.shared;
  const name = mailboxArg(cmd.args[0]);
  const items: NewMessage[] = [];
  let i = 1;
  while (i < cmd.args.length) {
    let flags: string[] = [];
    let internalDate: Date | undefined;
    let t = cmd.args[i];
    if (t?.kind === 'list') {
      flags = t.items.map((f) => {
        const n = f.kind === 'atom' ? normalizeFlag(f.value) : undefined;
        if (!n) throw new CommandError('BAD', 'Invalid flag in APPEND');
        return n;
      });
      t = cmd.args[++i];
    }
    if (t?.kind === 'string') {
      internalDate = parseDateTime(t.value);
      if (!internalDate) throw new CommandError('BAD', 'Invalid date-time in APPEND');
      t = cmd.args[++i];
    }
    if (t?.kind !== 'literal') throw new CommandError('BAD', 'APPEND needs a message literal');
    // CHAR8 excludes NUL (RFC 3501 §9); only a literal8 may carry it (RFC 3516).
    if (!t.binary && t.value.indexOf(0) >= 0) throw new CommandError('NO', 'Message contains NUL; use a binary literal', 'UNKNOWN-CTE');
    if (t.value.length === 0) throw new CommandError('NO', 'Empty message');
    items.push({ data: t.value, flags, internalDate });
    i++;
  }
  if (items.length === 0) throw new CommandError('BAD', 'APPEND needs a message literal');
  if (items.length > 1 && !shared.caps.multiappend) throw new CommandError('BAD', 'MULTIAPPEND is not enabled');
  const uids = shared.store.append(name, items);
  shared.stats.appended += items.length;
  const box = shared.store.get(name)!;
  if (!shared.caps.uidplus) return ok('APPEND completed');
  return ok('APPEND completed', `APPENDUID ${box.uidValidity} ${formatUidSet(uids)}`);
}

