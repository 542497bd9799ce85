// Which command may run in which state of an embedded-server session (RFC 3501 §3, §6.3, §6.4), and the selected
// mailbox's view kept in step with the store (§7.3.1 EXISTS, §7.4.1 EXPUNGE). The commands valid in any state
// (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE) touch the session itself and stay with it (session.ts,
// session-login.ts).
import { appendCommand } from './append-command.js';
import { CommandError, ok, type CommandContext, type Reply } from './command-context.js';
import type { ParsedCommand } from './command-reader.js';
import {
  closeCommand, createCommand, deleteCommand, listCommand, namespaceCommand, selectCommand, statusCommand,
} from './mailbox-commands.js';
import { expungeCommand, fetchCommand, searchCommand, storeCommand } from './message-commands.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/**
 * Runs a command that needs a login (and, for message commands, a selected mailbox) in state `s`; `setState` moves
 * the session on SELECT/EXAMINE/CLOSE/UNSELECT. Throws CommandError for a command not valid in this state.
 */
export function runInMailboxState(ctx: CommandContext, cmd: ParsedCommand, s: SessionState, setState: (next: SessionState) => void): Reply | null {
  if (s === 'not-authenticated') {
    if (!KNOWN_VERBS.has(cmd.verb)) throw new CommandError('BAD', 'Unknown command');
    throw new CommandError('BAD', 'Not authenticated');
  }
  switch (cmd.verb) {
    case 'NAMESPACE': return namespaceCommand(ctx);
    case 'LIST': return listCommand(ctx, cmd);
    case 'LSUB': return listCommand(ctx, cmd, true);
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      return ok(`${cmd.verb} completed`); // every mailbox counts as subscribed
    case 'CREATE': return createCommand(ctx, cmd);
    case 'DELETE': return deleteCommand(ctx, cmd);
    case 'STATUS': return statusCommand(ctx, cmd);
    case 'APPEND':
      ctx.shared.stats.appendCommands++;
      return appendCommand(ctx, cmd);
    case 'SELECT':
    case 'EXAMINE': {
      setState('authenticated');
      const r = selectCommand(ctx, cmd, cmd.verb === 'EXAMINE');
      setState('selected');
      return r;
    }
  }
  if (s !== 'selected') {
    if (!KNOWN_VERBS.has(cmd.verb)) throw new CommandError('BAD', 'Unknown command');
    throw new CommandError('BAD', 'No mailbox selected');
  }
  // Bring the view up to date first, so sequence numbers below match what the client was told.
  ctx.syncSelected();
  switch (cmd.verb) {
    case 'FETCH': return fetchCommand(ctx, cmd, false);
    case 'UID FETCH': return fetchCommand(ctx, cmd, true);
    case 'STORE': return storeCommand(ctx, cmd, false);
    case 'UID STORE': return storeCommand(ctx, cmd, true);
    case 'SEARCH': return searchCommand(ctx, cmd, false);
    case 'UID SEARCH': return searchCommand(ctx, cmd, true);
    case 'EXPUNGE': return expungeCommand(ctx, cmd, false);
    case 'UID EXPUNGE':
      if (!ctx.shared.caps.uidplus) break;
      return expungeCommand(ctx, cmd, true);
    case 'CLOSE':
    case 'UNSELECT': {
      if (cmd.verb === 'UNSELECT' && !ctx.shared.caps.unselect) break;
      const r = closeCommand(ctx, cmd.verb === 'CLOSE');
      setState('authenticated');
      return r;
    }
  }
  throw new CommandError('BAD', 'Unknown command');
}

/** Brings the session's view of the selected mailbox up to date, announcing EXPUNGE and EXISTS. */
export function syncSelectedView(ctx: CommandContext): void {
const sel = ctx.selected;
  if (!sel) return;
  const msgs = sel.box.messages;
  if (sel.box.expungeVersion !== sel.expungeVersion) {
    const live = new Set(msgs.map((m) => m.uid));
    for (let i = sel.uids.length - 1; i >= 0; i--) {
      if (!live.has(sel.uids[i]!)) {
        ctx.send(`* ${i + 1} EXPUNGE\r\n`);
        sel.uids.splice(i, 1);
      }
    }
    sel.expungeVersion = sel.box.expungeVersion;
  }
  // Appends only add at the end, so after the expunges above sel.uids is a prefix of msgs.
  if (msgs.length > sel.uids.length) {
    for (let i = sel.uids.length; i < msgs.length; i++) sel.uids.push(msgs[i]!.uid);
    ctx.send(`* ${msgs.length} EXISTS\r\n`);
  }
}

const KNOWN_VERBS = new Set([
  'NAMESPACE', 'LIST', 'LSUB', 'SUBSCRIBE', 'UNSUBSCRIBE', 'CREATE', 'DELETE', 'STATUS', 'APPEND', 'SELECT', 'EXAMINE',
  'FETCH', 'UID FETCH', 'STORE', 'UID STORE', 'SEARCH', 'UID SEARCH', 'EXPUNGE', 'UID EXPUNGE', 'CLOSE', 'UNSELECT',
]);
