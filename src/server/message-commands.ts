// Message-level commands in the selected state: FETCH, STORE, EXPUNGE, SEARCH and their UID forms
// (RFC 3501 §6.4, RFC 4315 UID EXPUNGE, RFC 3516 BINARY fetch of whole messages).
import type { ParsedCommand } from './command-reader.js';
import type { Token } from './command-tokens.js';
import { CommandError, ok, requireSelected, tokenAtom, tokenString, type CommandContext, type Reply, type Selected } from './command-context.js';
import { fieldValue, headerEnd, headerFields, selectFields } from './header-block.js';
import type { StoredMessage } from './store.js';
import { formatDateTime, normalizeFlag, parseSequenceSet } from './wire-format.js';

/** Indexes into sel.box.messages named by a sequence set (by UID or by sequence number), ascending. */
function resolveSet(sel: Selected, set: string, byUid: boolean): number[] {
  const msgs = sel.box.messages;
  let ranges: Array<[number, number]>;
  try {
    ranges = parseSequenceSet(set, byUid ? (msgs.length ? msgs[msgs.length - 1]!.uid : 0) || 1 : msgs.length || 1);
  } catch (err) {
    throw new CommandError('BAD', (err as Error).message);
  }
  const picked = new Set<number>();
  for (const [a, b] of ranges) {
    if (byUid) {
      let lo = 0;
      let hi = msgs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (msgs[mid]!.uid < a) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < msgs.length && msgs[i]!.uid <= b; i++) picked.add(i);
    } else {
      if (b > msgs.length && msgs.length > 0) throw new CommandError('BAD', 'Invalid message sequence number');
      for (let i = a - 1; i < Math.min(b, msgs.length); i++) picked.add(i);
    }
  }
  return [...picked].sort((x, y) => x - y);
}

interface BodyItem {
  readonly kind: 'body';
  readonly peek: boolean;
  readonly binary: boolean;
  readonly section: string; // as echoed: '', 'HEADER', 'TEXT', 'HEADER.FIELDS (A B)'
  readonly fields: string[] | undefined;
  readonly not: boolean;
  readonly origin: number | undefined;
  readonly length: number | undefined;
  readonly label: string; // response item name before [section]
}
type FetchItem = { readonly kind: 'simple'; readonly name: string } | BodyItem;

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
};

function parseFetchItem(raw: string, binaryCap: boolean): FetchItem {
  const upper = raw.toUpperCase();
  if (['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'UID'].includes(upper)) return { kind: 'simple', name: upper };
  const whole = (label: string, section: string, peek: boolean): BodyItem =>
    ({ kind: 'body', peek, binary: false, section, fields: undefined, not: false, origin: undefined, length: undefined, label });
  if (upper === 'RFC822') return whole('RFC822', '', false);
  if (upper === 'RFC822.HEADER') return whole('RFC822.HEADER', 'HEADER', true);
  if (upper === 'RFC822.TEXT') return whole('RFC822.TEXT', 'TEXT', false);
  const m = /^(BODY|BINARY)(\.PEEK)?\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$/i.exec(raw);
  if (!m) throw new CommandError('BAD', `Unsupported FETCH item ${raw.slice(0, 40)}`);
  const binary = m[1]!.toUpperCase() === 'BINARY';
  if (binary && !binaryCap) throw new CommandError('BAD', 'BINARY is not enabled');
  let section = m[3]!.trim();
  let fields: string[] | undefined;
  let not = false;
  const f = /^HEADER\.FIELDS(\.NOT)?\s*\((.*)\)$/i.exec(section);
  if (f) {
    not = !!f[1];
    fields = f[2]!.trim().split(/\s+/).filter(Boolean).map((s) => s.replace(/^"|"$/g, ''));
    section = `HEADER.FIELDS${not ? '.NOT' : ''} (${fields.join(' ')})`;
  } else {
    section = section.toUpperCase();
    if (section === '1') section = 'TEXT'; // a single-part message's part 1 is its body (RFC 3501 §6.4.5)
    if (!['', 'HEADER', 'TEXT'].includes(section)) throw new CommandError('BAD', `Unsupported section ${section}`);
    if (binary && section !== '') throw new CommandError('BAD', 'BINARY supports whole messages only here');
  }
  return {
    kind: 'body', peek: !!m[2], binary, section: m[3]!.trim() === '1' ? '1' : section, fields, not,
    origin: m[4] === undefined ? undefined : Number(m[4]), length: m[5] === undefined ? undefined : Number(m[5]),
    label: binary ? 'BINARY' : 'BODY',
  };
}

function fetchItems(tok: Token | undefined, binaryCap: boolean): FetchItem[] {
  if (!tok) throw new CommandError('BAD', 'Missing FETCH items');
  const raws = tok.kind === 'list' ? tok.items.map((t) => tokenAtom(t, 'FETCH item')) : [tokenAtom(tok, 'FETCH item')];
  const out: FetchItem[] = [];
  for (const r of raws) {
    const macro = MACROS[r.toUpperCase()];
    if (macro) for (const n of macro) out.push({ kind: 'simple', name: n });
    else out.push(parseFetchItem(r, binaryCap));
  }
  return out;
}

function flagList(flags: ReadonlySet<string>): string {
  return `(${[...flags].join(' ')})`;
}

function sectionBytes(data: Buffer, item: BodyItem): Buffer {
  let bytes: Buffer;
  if (item.fields) bytes = selectFields(data, item.fields, item.not);
  else if (item.section === 'HEADER') bytes = data.subarray(0, headerEnd(data));
  else if (item.section === 'TEXT' || item.section === '1') bytes = data.subarray(headerEnd(data));
  else bytes = data;
  if (item.origin !== undefined) bytes = bytes.subarray(item.origin, item.origin + (item.length ?? bytes.length));
  return bytes;
}

export function fetchCommand(ctx: CommandContext, cmd: ParsedCommand, byUid: boolean): Reply {
  const sel = requireSelected(ctx);
  const indexes = resolveSet(sel, tokenAtom(cmd.args[0], 'sequence set'), byUid);
  const items = fetchItems(cmd.args[1], ctx.shared.caps.binary);
  const store = ctx.shared.store;
  const marksSeen = !sel.readOnly && items.some((i) => i.kind === 'body' && !i.peek);
  for (const idx of indexes) {
    const msg = sel.box.messages[idx]!;
    if (marksSeen && !msg.flags.has('\\Seen')) store.setFlags(sel.box, msg, new Set([...msg.flags, '\\Seen']));
    const parts: Array<string | Buffer> = [];
    let head = `* ${idx + 1} FETCH (`;
    const attrs: string[] = [];
    if (byUid) attrs.push(`UID ${msg.uid}`);
    let data: Buffer | undefined;
    for (const it of items) {
      if (it.kind === 'simple') {
        if (it.name === 'UID') { if (!byUid) attrs.push(`UID ${msg.uid}`); }
        else if (it.name === 'FLAGS') attrs.push(`FLAGS ${flagList(msg.flags)}`);
        else if (it.name === 'INTERNALDATE') attrs.push(`INTERNALDATE ${formatDateTime(msg.internalDate)}`);
        else if (it.name === 'RFC822.SIZE') attrs.push(`RFC822.SIZE ${msg.size}`);
        continue;
      }
      data ??= store.body(sel.box, msg);
      const bytes = sectionBytes(data, it);
      const name = it.label === 'RFC822' || it.label === 'RFC822.HEADER' || it.label === 'RFC822.TEXT'
        ? it.label
        : `${it.label}[${it.section}]${it.origin !== undefined ? `<${it.origin}>` : ''}`;
      // A literal8 (~{n}) when the bytes hold NUL (RFC 3516 §4.3); otherwise a plain literal.
      const prefix = it.binary && bytes.indexOf(0) >= 0 ? '~' : '';
      parts.push(head + attrs.join(' ') + `${attrs.length ? ' ' : ''}${name} ${prefix}{${bytes.length}}\r\n`, bytes);
      attrs.length = 0;
      head = ' ';
    }
    if (head === ' ') parts.push(attrs.length ? ` ${attrs.join(' ')})\r\n` : ')\r\n');
    else parts.push(`${head}${attrs.join(' ')})\r\n`);
    for (const p of parts) ctx.send(p);
  }
  return ok(`${byUid ? 'UID FETCH' : 'FETCH'} completed`);
}

function flagsArg(t: Token | undefined): string[] {
  if (!t) throw new CommandError('BAD', 'Missing flags');
  const raw = t.kind === 'list' ? t.items.map((x) => tokenAtom(x, 'flag')) : [tokenAtom(t, 'flag')];
  return raw.map((f) => {
    const n = normalizeFlag(f);
    if (!n) throw new CommandError('BAD', `Invalid flag ${f.slice(0, 40)}`);
    return n;
  });
}

export function storeCommand(ctx: CommandContext, cmd: ParsedCommand, byUid: boolean): Reply {
  const sel = requireSelected(ctx);
  if (sel.readOnly) throw new CommandError('NO', 'Mailbox is read-only', 'READ-ONLY');
  const indexes = resolveSet(sel, tokenAtom(cmd.args[0], 'sequence set'), byUid);
  const op = tokenAtom(cmd.args[1], 'STORE item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
  if (!m) throw new CommandError('BAD', `Invalid STORE item ${op.slice(0, 40)}`);
  const flags = flagsArg(cmd.args[2]);
  for (const idx of indexes) {
    const msg = sel.box.messages[idx]!;
    const next = m[1] === '' ? new Set(flags) : new Set(msg.flags);
    if (m[1] === '+') for (const f of flags) next.add(f);
    if (m[1] === '-') for (const f of flags) next.delete(f);
    ctx.shared.store.setFlags(sel.box, msg, next);
    if (!m[2]) ctx.send(`* ${idx + 1} FETCH (${byUid ? `UID ${msg.uid} ` : ''}FLAGS ${flagList(next)})\r\n`);
  }
  return ok(`${byUid ? 'UID STORE' : 'STORE'} completed`);
}

export function expungeCommand(ctx: CommandContext, cmd: ParsedCommand, byUid: boolean): Reply {
  const sel = requireSelected(ctx);
  if (sel.readOnly) throw new CommandError('NO', 'Mailbox is read-only', 'READ-ONLY');
  const candidates = byUid ? resolveSet(sel, tokenAtom(cmd.args[0], 'uid set'), true) : sel.box.messages.map((_, i) => i);
  const uids = new Set<number>();
  for (const i of candidates) {
    const msg = sel.box.messages[i]!;
    if (msg.flags.has('\\Deleted')) uids.add(msg.uid);
  }
  const removed = ctx.shared.store.expunge(sel.box, uids);
  // Descending order: each EXPUNGE renumbers the messages after it (RFC 3501 §7.4.1), so the highest goes first.
  for (let i = removed.length - 1; i >= 0; i--) ctx.send(`* ${removed[i]} EXPUNGE\r\n`);
  sel.uids = sel.box.messages.map((m) => m.uid);
  sel.expungeVersion = sel.box.expungeVersion;
  return ok(`${byUid ? 'UID EXPUNGE' : 'EXPUNGE'} completed`);
}

// ---- SEARCH (RFC 3501 §6.4.4), the keys a migration tool needs: ALL, UID, sequence sets, HEADER/FROM/TO/SUBJECT,
// flag keys, LARGER/SMALLER, NOT, OR, parenthesized groups.
type Matcher = (msg: StoredMessage, seq: number) => boolean;

function headerMatcher(ctx: CommandContext, sel: Selected, field: string, needle: string): Matcher {
  const f = field.toLowerCase();
  const n = needle.toLowerCase();
  return (msg) => {
    const data = ctx.shared.store.body(sel.box, msg);
    for (const h of headerFields(data)) if (h.name === f && (n === '' || fieldValue(h).toLowerCase().includes(n))) return true;
    return false;
  };
}

function parseSearchKey(ctx: CommandContext, sel: Selected, toks: Token[]): Matcher {
  const t = toks.shift();
  if (!t) throw new CommandError('BAD', 'Missing search key');
  if (t.kind === 'list') {
    const inner = [...t.items];
    const ms: Matcher[] = [];
    while (inner.length) ms.push(parseSearchKey(ctx, sel, inner));
    return (m, s) => ms.every((x) => x(m, s));
  }
  const key = tokenString(t).toUpperCase();
  const flag = (name: string, want: boolean): Matcher => (m) => m.flags.has(name) === want;
  const sizeArg = () => {
    const v = Number(tokenString(toks.shift(), 'size'));
    if (!Number.isInteger(v) || v < 0) throw new CommandError('BAD', 'Invalid size');
    return v;
  };
  const setMatcher = (set: string, byUid: boolean): Matcher => {
    const idx = new Set(resolveSet(sel, set, byUid).map((i) => sel.box.messages[i]!.uid));
    return (m) => idx.has(m.uid);
  };
  switch (key) {
    case 'ALL': return () => true;
    case 'UID': return setMatcher(tokenString(toks.shift(), 'uid set'), true);
    case 'HEADER': return headerMatcher(ctx, sel, tokenString(toks.shift(), 'header name'), tokenString(toks.shift(), 'string'));
    case 'FROM': case 'TO': case 'CC': case 'BCC': case 'SUBJECT':
      return headerMatcher(ctx, sel, key, tokenString(toks.shift(), 'string'));
    case 'LARGER': { const v = sizeArg(); return (m) => m.size > v; }
    case 'SMALLER': { const v = sizeArg(); return (m) => m.size < v; }
    case 'SEEN': return flag('\\Seen', true);
    case 'UNSEEN': return flag('\\Seen', false);
    case 'DELETED': return flag('\\Deleted', true);
    case 'UNDELETED': return flag('\\Deleted', false);
    case 'FLAGGED': return flag('\\Flagged', true);
    case 'UNFLAGGED': return flag('\\Flagged', false);
    case 'ANSWERED': return flag('\\Answered', true);
    case 'UNANSWERED': return flag('\\Answered', false);
    case 'DRAFT': return flag('\\Draft', true);
    case 'UNDRAFT': return flag('\\Draft', false);
    case 'KEYWORD': return flag(tokenString(toks.shift(), 'keyword'), true);
    case 'UNKEYWORD': return flag(tokenString(toks.shift(), 'keyword'), false);
    case 'NEW': case 'RECENT': return () => false;
    case 'OLD': return () => true;
    case 'NOT': { const a = parseSearchKey(ctx, sel, toks); return (m, s) => !a(m, s); }
    case 'OR': {
      const a = parseSearchKey(ctx, sel, toks);
      const b = parseSearchKey(ctx, sel, toks);
      return (m, s) => a(m, s) || b(m, s);
    }
    default:
      if (/^[\d*:,]+$/.test(key)) return setMatcher(key, false);
      throw new CommandError('BAD', `Unsupported search key ${key.slice(0, 40)}`);
  }
}

export function searchCommand(ctx: CommandContext, cmd: ParsedCommand, byUid: boolean): Reply {
  const sel = requireSelected(ctx);
  const toks = [...cmd.args];
  const first = toks[0];
  if (first && first.kind === 'atom' && first.value.toUpperCase() === 'CHARSET') {
    toks.shift();
    const cs = tokenString(toks.shift(), 'charset').toUpperCase();
    if (cs !== 'UTF-8' && cs !== 'US-ASCII') throw new CommandError('NO', 'Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  }
  const ms: Matcher[] = [];
  while (toks.length) ms.push(parseSearchKey(ctx, sel, toks));
  if (ms.length === 0) throw new CommandError('BAD', 'Missing search criteria');
  const hits: number[] = [];
  sel.box.messages.forEach((m, i) => {
    if (ms.every((x) => x(m, i + 1))) hits.push(byUid ? m.uid : i + 1);
  });
  ctx.send(`* SEARCH${hits.length ? ' ' + hits.join(' ') : ''}\r\n`);
  return ok(`${byUid ? 'UID SEARCH' : 'SEARCH'} completed`);
}
