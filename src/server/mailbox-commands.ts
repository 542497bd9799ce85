// Mailbox-level commands: NAMESPACE, LIST/LSUB, CREATE, DELETE, STATUS, SELECT/EXAMINE, CLOSE/UNSELECT (RFC 3501 §6.3,
// RFC 2342, RFC 6154 SPECIAL-USE, RFC 5258 LIST-EXTENDED selection/return options as far as SPECIAL-USE needs).
import { encodeMutf7 } from '../core/mutf7.js';
import type { ParsedCommand } from './command-reader.js';
import { CommandError, mailboxArg, ok, requireSelected, tokenString, type CommandContext, type Reply } from './command-context.js';
import { DELIMITER, type Mailbox } from './store.js';
import { astring, SYSTEM_FLAGS } from './wire-format.js';

const SPECIAL_USES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'];

export function namespaceCommand(ctx: CommandContext): Reply {
  ctx.send(`* NAMESPACE (("" "${DELIMITER}")) NIL NIL\r\n`);
  return ok('NAMESPACE completed');
}

// LIST pattern → RegExp: '*' matches anything, '%' anything but the delimiter (RFC 3501 §6.3.8). Patterns are
// short and mailbox counts small, so a compiled regex is fine here.
function patternRegex(pattern: string): RegExp {
  let src = '';
  for (const ch of pattern) {
    if (ch === '*') src += '.*';
    else if (ch === '%') src += `[^${DELIMITER}]*`;
    else src += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, pattern.toUpperCase().startsWith('INBOX') ? 'i' : '');
}

export function listCommand(ctx: CommandContext, cmd: ParsedCommand, lsub = false): Reply {
  const args = [...cmd.args];
  let specialOnly = false;
  if (args[0]?.kind === 'list') {
    // LIST (SPECIAL-USE) "" "*" — selection options (RFC 6154 §3).
    specialOnly = args[0].items.some((t) => t.kind === 'atom' && t.value.toUpperCase() === 'SPECIAL-USE');
    args.shift();
  }
  const reference = tokenString(args[0], 'reference');
  const patternTok = args[1];
  if (!patternTok) throw new CommandError('BAD', 'Missing mailbox pattern');
  const patterns = patternTok.kind === 'list' ? patternTok.items.map((t) => tokenString(t)) : [tokenString(patternTok)];
  const showSpecial = ctx.shared.caps.specialUse;
  const verb = lsub ? 'LSUB' : 'LIST';
  if (patterns.length === 1 && patterns[0] === '') {
    ctx.send(`* ${verb} (\\Noselect) "${DELIMITER}" ""\r\n`);
    return ok(`${verb} completed`);
  }
  const boxes = ctx.shared.store.list();
  const names = new Set(boxes.map((b) => b.name));
  for (const pattern of patterns) {
    const re = patternRegex(encodeMutf7(reference) + pattern);
    for (const box of boxes) {
      const wire = encodeMutf7(box.name);
      if (!re.test(wire)) continue;
      if (specialOnly && !box.specialUse) continue;
      const attrs: string[] = [];
      const prefix = box.name + DELIMITER;
      let hasChildren = false;
      for (const n of names) if (n.startsWith(prefix)) { hasChildren = true; break; }
      attrs.push(hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (lsub) attrs.length = 0;
      if (showSpecial && box.specialUse) attrs.push(box.specialUse);
      ctx.send(`* ${verb} (${attrs.join(' ')}) "${DELIMITER}" ${astring(wire)}\r\n`);
    }
  }
  return ok(`${verb} completed`);
}

export function createCommand(ctx: CommandContext, cmd: ParsedCommand): Reply {
  const name = mailboxArg(cmd.args[0]);
  let specialUse: string | undefined;
  const opts = cmd.args[1];
  if (opts) {
    // CREATE name (USE (\Sent)) — RFC 6154 §3 CREATE-SPECIAL-USE.
    if (!ctx.shared.caps.specialUse || opts.kind !== 'list') throw new CommandError('BAD', 'Unexpected CREATE parameters');
    const [key, val] = opts.items;
    if (key?.kind !== 'atom' || key.value.toUpperCase() !== 'USE' || val?.kind !== 'list' || val.items.length !== 1) {
      throw new CommandError('BAD', 'Invalid CREATE parameters');
    }
    const use = tokenString(val.items[0]);
    specialUse = SPECIAL_USES.find((u) => u.toLowerCase() === use.toLowerCase());
    if (!specialUse) throw new CommandError('NO', 'Unknown special use', 'USEATTR');
  }
  if (name === 'INBOX' && ctx.shared.store.get('INBOX')) throw new CommandError('NO', 'Mailbox already exists', 'ALREADYEXISTS');
  ctx.shared.store.create(name, specialUse);
  return ok('CREATE completed');
}

export function deleteCommand(ctx: CommandContext, cmd: ParsedCommand): Reply {
  const name = mailboxArg(cmd.args[0]);
  if (ctx.selected?.box.name === name) throw new CommandError('NO', 'Mailbox is selected', 'INUSE');
  ctx.shared.store.delete(name);
  return ok('DELETE completed');
}

function existing(ctx: CommandContext, name: string): Mailbox {
  const box = ctx.shared.store.get(name);
  if (!box) throw new CommandError('NO', 'Mailbox does not exist', 'NONEXISTENT');
  return box;
}

export function statusCommand(ctx: CommandContext, cmd: ParsedCommand): Reply {
  const name = mailboxArg(cmd.args[0]);
  const items = cmd.args[1];
  if (items?.kind !== 'list' || items.items.length === 0) throw new CommandError('BAD', 'STATUS needs a list of items');
  const box = existing(ctx, name);
  const out: string[] = [];
  for (const t of items.items) {
    const item = tokenString(t).toUpperCase();
    switch (item) {
      case 'MESSAGES': out.push(`MESSAGES ${box.messages.length}`); break;
      case 'UIDNEXT': out.push(`UIDNEXT ${box.uidNext}`); break;
      case 'UIDVALIDITY': out.push(`UIDVALIDITY ${box.uidValidity}`); break;
      case 'RECENT': out.push('RECENT 0'); break;
      case 'UNSEEN': out.push(`UNSEEN ${box.messages.filter((m) => !m.flags.has('\\Seen')).length}`); break;
      case 'SIZE': out.push(`SIZE ${box.messages.reduce((s, m) => s + m.size, 0)}`); break;
      default: throw new CommandError('BAD', `Unknown STATUS item ${item}`);
    }
  }
  ctx.send(`* STATUS ${astring(encodeMutf7(box.name))} (${out.join(' ')})\r\n`);
  return ok('STATUS completed');
}

export function selectCommand(ctx: CommandContext, cmd: ParsedCommand, readOnly: boolean): Reply {
  const name = mailboxArg(cmd.args[0]);
  // A failed SELECT leaves the session unselected (RFC 3501 §6.3.1).
  ctx.selected = undefined;
  const box = existing(ctx, name);
  const uids = box.messages.map((m) => m.uid);
  ctx.selected = { box, readOnly, uids, expungeVersion: box.expungeVersion };
  const flags = SYSTEM_FLAGS.join(' ');
  ctx.send(
    `* FLAGS (${flags})\r\n` +
      `* OK [PERMANENTFLAGS (${readOnly ? '' : `${flags} \\*`})] Flags permitted\r\n` +
      `* ${uids.length} EXISTS\r\n* 0 RECENT\r\n` +
      `* OK [UIDVALIDITY ${box.uidValidity}] UIDs valid\r\n` +
      `* OK [UIDNEXT ${box.uidNext}] Predicted next UID\r\n`,
  );
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

/** CLOSE expunges silently (RFC 3501 §6.4.2); UNSELECT does not (RFC 3691). */
export function closeCommand(ctx: CommandContext, expunge: boolean): Reply {
  const sel = requireSelected(ctx);
  if (expunge && !sel.readOnly) {
    const deleted = new Set(sel.box.messages.filter((m) => m.flags.has('\\Deleted')).map((m) => m.uid));
    ctx.shared.store.expunge(sel.box, deleted);
  }
  ctx.selected = undefined;
  return ok(expunge ? 'CLOSE completed' : 'UNSELECT completed');
}
