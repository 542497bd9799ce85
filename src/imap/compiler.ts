// Commands to wire pieces (RFC 3501 §6, §9; RFC 3502 MULTIAPPEND; RFC 3516 BINARY; RFC 7888 LITERAL+/-).
//
// A command is cut at each literal: piece i's text ends with the literal header ("{123}\r\n", "{123+}\r\n",
// "~{123}\r\n"), then piece i's literal data follows. The transport decides how to write them (coalesced or
// split) and waits for the server's "+" before a 'sync' literal; the compiler never decides timing.
// Hand-written: imapflow's compiler is internal to its connection and always picks the literal kind itself.

import { ConfigError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';

export type LiteralKind = 'sync' | 'nonsync'; // {n} vs {n+}

export interface WirePiece {
  text: Buffer;
  literal?: { data: Buffer; kind: LiteralKind; binary?: boolean };
}

export interface CompiledCommand {
  tag: string;
  verb: string;
  /** Each piece = text (ending in a literal header when `literal` is set) followed by that literal. The last
   *  piece's text ends with CRLF and has no literal. */
  pieces: WirePiece[];
  /** Sum of literal payload sizes. */
  literalBytes: number;
  /** True when the pieces carry a credential (LOGIN, AUTHENTICATE): never log or trace their bytes. */
  sensitive?: boolean;
}

export interface AppendItem {
  flags: readonly string[];
  internalDate?: Date | undefined;
  data: Buffer;
  /** Send as a literal8 `~{n}` (RFC 3516 §4.4); required when data contains NUL. */
  binary?: boolean;
}

const CRLF = '\r\n';

/**
 * APPEND of one message, or MULTIAPPEND (RFC 3502 §6.3.11) of several into the same mailbox:
 *   A1 APPEND box (\Seen) "dd-Mon-yyyy hh:mm:ss +0000" {n}\r\n<lit> (flags) "date" {m}\r\n<lit>\r\n
 * The flag list is omitted when empty and the date when undefined. `literalKind(size, index)` picks
 * sync `{n}` or non-synchronizing `{n+}` per message (the literal policy lives with the transport).
 * Throws ConfigError for bad flags or dates, or for NUL bytes in a message not marked binary (RFC 3501 §4.3:
 * a literal is CHAR8, which excludes NUL; only a literal8 may carry it).
 */
export function compileAppend(
  tag: string,
  mailbox: string,
  messages: ReadonlyArray<AppendItem>,
  literalKind: (size: number, index: number) => LiteralKind,
): CompiledCommand {
  checkTag(tag);
  if (messages.length === 0) throw new ConfigError('messages', 'APPEND needs at least one message');
  const head = `${tag} APPEND ${encodeMailbox(mailbox)}`;
  // Every piece's text is written as bytes into one buffer per command, then cut into views: no string per part of
  // a message's header (a date alone was ~0.6 KB of concatenated strings per message, issue 14's sampled heap
  // profile). Every part is ASCII: the tag and flags are validated atoms, the mailbox is quoted modified UTF-7.
  const flagTexts: string[] = new Array(messages.length);
  let capacity = head.length + CRLF.length;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    flagTexts[i] = m.flags.length > 0 ? formatFlagsCached(m.flags) : '';
    capacity += flagTexts[i]!.length + PIECE_TEXT_MAX;
  }
  const text = Buffer.allocUnsafe(capacity);
  let at = text.write(head, 0, 'latin1');
  const pieces: WirePiece[] = new Array(messages.length + 1);
  let literalBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const size = m.data.length;
    const binary = m.binary === true;
    if (!binary && m.data.indexOf(0) >= 0) {
      throw new ConfigError('binary', `message ${i} contains NUL bytes; it must be sent as a BINARY literal8`);
    }
    const kind = literalKind(size, i);
    const start = i === 0 ? 0 : at;
    const flags = flagTexts[i]!;
    if (flags.length > 0) {
      text[at++] = SP;
      at += text.write(flags, at, 'latin1');
    }
    if (m.internalDate !== undefined) {
      text[at++] = SP;
      text[at++] = DQUOTE;
      at = writeInternalDate(text, at, m.internalDate);
      text[at++] = DQUOTE;
    }
    text[at++] = SP;
    if (binary) text[at++] = TILDE;
    text[at++] = LBRACE;
    at = writeDecimal(text, at, size);
    if (kind === 'nonsync') text[at++] = PLUS;
    text[at++] = RBRACE;
    text[at++] = CR;
    text[at++] = LF;
    pieces[i] = { text: text.subarray(start, at), literal: binary ? { data: m.data, kind, binary } : { data: m.data, kind } };
    literalBytes += size;
  }
  text[at++] = CR;
  text[at++] = LF;
  pieces[messages.length] = { text: text.subarray(at - 2, at) };
  return { tag, verb: 'APPEND', pieces, literalBytes };
}

const SP = 0x20;
const DQUOTE = 0x22;
const PLUS = 0x2b;
const TILDE = 0x7e;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const DASH = 0x2d;
const ZERO = 0x30;
/** Bytes of a piece's text besides its flags: ' "dd-Mon-yyyy hh:mm:ss +0000"' (29), ' ~{' (3), 16 digits at most
 *  (a safe integer), '+}' and CRLF (4). */
const PIECE_TEXT_MAX = 29 + 3 + 16 + 4;

/** A formatted list of one flag, the usual case ("(\Seen)"), kept for the next message; bounded. */
const oneFlag = new Map<string, string>();

function formatFlagsCached(flags: readonly string[]): string {
  if (flags.length !== 1) return formatFlags(flags);
  const f = flags[0]!;
  let t = oneFlag.get(f);
  if (t === undefined) {
    t = formatFlags(flags); // validates; throws for a bad flag, which is then never kept
    if (oneFlag.size < 64) oneFlag.set(f, t);
  }
  return t;
}

/**
 * formatInternalDate(d) (zone +0000) written as bytes at `at` of `buf`; returns the offset after it. Same checks,
 * same bytes: written directly because the string form made ~20 strings per message.
 */
export function writeInternalDate(buf: Buffer, at: number, d: Date): number {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new ConfigError('internalDate', 'invalid date');
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new ConfigError('internalDate', `year ${year} cannot be written as 4 digits`);
  const day = d.getUTCDate();
  buf[at++] = day < 10 ? SP : ZERO + Math.floor(day / 10);
  buf[at++] = ZERO + (day % 10);
  buf[at++] = DASH;
  const month = MONTHS[d.getUTCMonth()]!;
  buf[at++] = month.charCodeAt(0);
  buf[at++] = month.charCodeAt(1);
  buf[at++] = month.charCodeAt(2);
  buf[at++] = DASH;
  buf[at++] = ZERO + Math.floor(year / 1000);
  buf[at++] = ZERO + (Math.floor(year / 100) % 10);
  buf[at++] = ZERO + (Math.floor(year / 10) % 10);
  buf[at++] = ZERO + (year % 10);
  buf[at++] = SP;
  at = write2(buf, at, d.getUTCHours());
  buf[at++] = COLON;
  at = write2(buf, at, d.getUTCMinutes());
  buf[at++] = COLON;
  at = write2(buf, at, d.getUTCSeconds());
  buf[at++] = SP;
  buf[at++] = PLUS;
  buf[at++] = ZERO;
  buf[at++] = ZERO;
  buf[at++] = ZERO;
  buf[at++] = ZERO;
  return at;
}

/** A non-negative integer in decimal, as bytes. */
function writeDecimal(buf: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    buf[at + i] = ZERO + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}

function write2(buf: Buffer, at: number, n: number): number {
  buf[at] = ZERO + Math.floor(n / 10);
  buf[at + 1] = ZERO + (n % 10);
  return at + 2;
}

export type SimpleArg = string | { atom: string } | { literal: Buffer };

/**
 * `<tag> <verb> <args...>\r\n`. Strings follow astring rules: quoted, or sent as a literal when they contain
 * CR/LF/NUL/8-bit characters or are longer than 1024 bytes (RFC 3501 §4.3: quoted strings are 7-bit, no CR/LF).
 * {atom} is written raw — also for pre-encoded pieces such as encodeMailbox() output, which may hold SP inside
 * quotes — and only checked for CR/LF/NUL, which would end or corrupt the command; {literal} always goes as a literal.
 */
export function compileSimple(
  tag: string,
  verb: string,
  args: ReadonlyArray<SimpleArg> = [],
  literalKind: (size: number, index: number) => LiteralKind = () => 'sync',
): CompiledCommand {
  checkTag(tag);
  if (!/^[A-Za-z][A-Za-z0-9 ]*$/.test(verb)) throw new ConfigError('verb', `not a command name: ${JSON.stringify(verb)}`);
  const pieces: WirePiece[] = [];
  let literalBytes = 0;
  let literalIndex = 0;
  let text = `${tag} ${verb}`;
  for (const arg of args) {
    let data: Buffer | undefined;
    if (typeof arg === 'string') {
      if (needsLiteral(arg)) data = Buffer.from(arg, 'utf8');
      else text += ' ' + quoteString(arg);
    } else if ('atom' in arg) {
      if (!/^[^\r\n\0]+$/.test(arg.atom)) throw new ConfigError('atom', `not an atom: ${JSON.stringify(arg.atom)}`);
      text += ' ' + arg.atom;
    } else {
      data = arg.literal;
    }
    if (data !== undefined) {
      const kind = literalKind(data.length, literalIndex++);
      text += ` {${data.length}${kind === 'nonsync' ? '+' : ''}}${CRLF}`;
      pieces.push({ text: Buffer.from(text, 'utf8'), literal: { data, kind } });
      literalBytes += data.length;
      text = '';
    }
  }
  pieces.push({ text: Buffer.from(text + CRLF, 'utf8') });
  return { tag, verb: verb.toUpperCase(), pieces, literalBytes };
}

const LONG_QUOTED = 1024;

function needsLiteral(s: string): boolean {
  if (s.length > LONG_QUOTED) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0x7e) return true;
  }
  return false;
}

/** `"..."` with `\` and `"` escaped (RFC 3501 §9 quoted). Throws TypeError on CR, LF or NUL, which a quoted
 *  string cannot carry. */
export function quoteString(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new TypeError('a quoted string cannot contain CR, LF or NUL');
  return '"' + s.replace(/["\\]/g, '\\$&') + '"';
}

/** Mailbox name for the wire: 'INBOX' in any case → INBOX (RFC 3501 §5.1: case-insensitive); otherwise modified
 *  UTF-7 (RFC 3501 §5.1.3), quoted. */
export function encodeMailbox(name: string): string {
  if (name.length === 5 && name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.length === 0) throw new ConfigError('mailbox', 'empty mailbox name');
  return quoteString(encodeMutf7(name));
}

/** RFC 3501 §9 atom-specials: "(" ")" "{" SP CTL list-wildcards quoted-specials resp-specials. */
const ATOM_SPECIAL = /[(){ \x00-\x1f\x7f%*"\\\]]/;

/**
 * Mailbox name for the wire as the control plane (imapflow) writes it: modified UTF-7, as an atom when every character
 * is an ATOM-CHAR (a leading backslash aside), else quoted. The folder survey (src/migrate/folder-survey.ts) creates
 * folders the control plane must then reach, so both write a name alike: Courier reads the atom `INBOX.~x` as "INBOX"
 * (CREATE INBOX.~other: "NO INBOX already exists!") and takes the quoted "INBOX.~x" as the folder — a folder created
 * quoted there is one imapflow cannot select.
 */
export function encodeMailboxAsAtom(name: string): string {
  if (name.length === 5 && name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.length === 0) throw new ConfigError('mailbox', 'empty mailbox name');
  const wire = encodeMutf7(name);
  const body = wire.startsWith('\\') ? wire.slice(1) : wire;
  return body !== '' && !ATOM_SPECIAL.test(body) ? wire : quoteString(wire);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * RFC 3501 date-time content, without the surrounding DQUOTEs: "dd-Mon-yyyy hh:mm:ss +zzzz", the day
 * space-padded (" 2-Jan-2024", date-day-fixed). Written in the zone `offsetMinutes` east of UTC (default 0 →
 * "+0000"; -300 → "-0500"). Throws ConfigError for an invalid date or a year outside 0000–9999.
 */
export function formatInternalDate(d: Date, offsetMinutes = 0): string {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new ConfigError('internalDate', 'invalid date');
  if (!Number.isInteger(offsetMinutes) || Math.abs(offsetMinutes) > 99 * 60 + 59) {
    throw new ConfigError('internalDate', `bad zone offset ${offsetMinutes} minutes`);
  }
  const z = new Date(t + offsetMinutes * 60_000);
  const year = z.getUTCFullYear();
  if (year < 0 || year > 9999) throw new ConfigError('internalDate', `year ${year} cannot be written as 4 digits`);
  const day = z.getUTCDate();
  const abs = Math.abs(offsetMinutes);
  return (
    (day < 10 ? ' ' : '') +
    day +
    '-' +
    MONTHS[z.getUTCMonth()] +
    '-' +
    String(year).padStart(4, '0') +
    ' ' +
    pad2(z.getUTCHours()) +
    ':' +
    pad2(z.getUTCMinutes()) +
    ':' +
    pad2(z.getUTCSeconds()) +
    ' ' +
    (offsetMinutes < 0 ? '-' : '+') +
    pad2(Math.floor(abs / 60)) +
    pad2(abs % 60)
  );
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

// flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension
// flag-keyword = atom; flag-extension = "\" atom (RFC 3501 §9). ATOM-CHAR = any 7-bit CHAR except
// atom-specials: ( ) { SP CTL % * " \ ]
const FLAG_RE = /^\\?[^(){ \x00-\x1f\x7f-\uffff%*"\\\]]+$/;

/** "(\Seen $Forwarded)". Validates each flag as an atom or \atom; \Recent is refused (RFC 3501 §2.3.2: the
 *  server sets it, a client cannot store it). Duplicates (case-insensitive) are dropped. Throws ConfigError. */
export function formatFlags(flags: readonly string[]): string {
  if (flags.length === 1) {
    checkFlag(flags[0]!);
    return '(' + flags[0] + ')';
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of flags) {
    checkFlag(f);
    const k = f.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(f);
  }
  return '(' + out.join(' ') + ')';
}

function checkFlag(f: string): void {
  if (!FLAG_RE.test(f)) throw new ConfigError('flags', `not a valid IMAP flag: ${JSON.stringify(f)}`);
  if (f.toLowerCase() === '\\recent') throw new ConfigError('flags', '\\Recent cannot be set by a client');
}

// tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 §9)
const TAG_RE = /^[^(){ \x00-\x1f\x7f-\uffff%*"\\+]+$/;

function checkTag(tag: string): void {
  if (!TAG_RE.test(tag)) throw new ConfigError('tag', `not a valid IMAP tag: ${JSON.stringify(tag)}`);
}

/** Short unique tags "A1", "A2", ... per generator; the prefix lets several connections' traces be told apart. */
export class TagGenerator {
  private n = 0;
  private readonly prefix: string;
  constructor(prefix = 'A') {
    checkTag(prefix);
    this.prefix = prefix;
  }
  next(): string {
    return this.prefix + ++this.n;
  }
}

/** LOGIN user pass (RFC 3501 §6.2.3). Marked sensitive: the transport must not trace its bytes. */
export function compileLogin(tag: string, user: string, pass: string): CompiledCommand {
  const c = compileSimple(tag, 'LOGIN', [user, pass]);
  c.sensitive = true;
  return c;
}

/**
 * AUTHENTICATE mech [initial-response] (RFC 3501 §6.2.2, SASL-IR RFC 4959 §3: an empty initial response is "=").
 * Further SASL rounds are the transport's business. Marked sensitive.
 */
export function compileAuthenticate(tag: string, mech: string, initialResponse?: Buffer): CompiledCommand {
  if (!/^[A-Za-z0-9_-]{1,20}$/.test(mech)) throw new ConfigError('mechanism', `not a SASL mechanism name: ${JSON.stringify(mech)}`);
  const args: SimpleArg[] = [{ atom: mech.toUpperCase() }];
  if (initialResponse !== undefined) {
    args.push({ atom: initialResponse.length === 0 ? '=' : initialResponse.toString('base64') });
  }
  const c = compileSimple(tag, 'AUTHENTICATE', args);
  c.sensitive = true;
  return c;
}

/** SASL PLAIN message (RFC 4616 §2): authzid NUL authcid NUL passwd, authzid empty. */
export function saslPlain(user: string, pass: string): Buffer {
  return Buffer.from(`\0${user}\0${pass}`, 'utf8');
}
