// What a Maildir file name says (cr.yp.to/proto/maildir.html, Courier's Maildir++ ",S=" / ",W=" size fields):
// the unique part (the message's identity across flag changes), the info letters after ":2," (flags), the delivery
// time in its leading "seconds.", and the size. Parsed once per message of every import, so the parsers below scan
// the string with indexOf and char codes instead of regular expressions, splits and joins (measured with
// scripts/cpu-per-message.mjs: see docs/measurements.md, "Client CPU per message").

/**
 * Maildir info flags (the letters after ":2,") in IMAP spelling; Dovecot maps P to $Forwarded. T ("trashed") is
 * not a flag here: it makes SourceMessage.deleted true, and the importer decides about \\Deleted (issue 11).
 */
const FLAG_LETTERS: Readonly<Record<string, string>> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
};

export interface MaildirName {
  /** The unique name without ",S=" / ",W=" fields: the identity that survives flag changes and renames. */
  readonly base: string;
  /** The info letters after ":2," (or "!2,"), possibly empty. */
  readonly info: string;
  /** Delivery time from the leading "seconds." of the name, if any. */
  readonly time: Date | undefined;
}

/** parseMaildirName without the Date: the delivery time in ms since the epoch, or NaN. */
export interface MaildirNameParts {
  readonly base: string;
  readonly info: string;
  readonly timeMs: number;
}

const COLON = 0x3a;
const BANG = 0x21;
const COMMA = 0x2c;
const DOT = 0x2e;

/** Splits a Maildir file name; ':' and '!' (for file systems that forbid ':') both delimit the info. */
export function parseMaildirName(name: string): MaildirName {
  const p = parseMaildirNameParts(name);
  return { base: p.base, info: p.info, time: Number.isNaN(p.timeMs) ? undefined : new Date(p.timeMs) };
}

/**
 * The info is what follows the last ':' or '!' when that delimiter is followed by "2," (so "a:b:2,S" has info "S"
 * and "a:2,S:x" has none). A name without it may carry the experimental ":1," info, which is cut off.
 */
export function parseMaildirNameParts(name: string): MaildirNameParts {
  const last = Math.max(name.lastIndexOf(':'), name.lastIndexOf('!'));
  let unique: string;
  let info = '';
  if (last >= 0 && name.charCodeAt(last + 1) === 0x32 && name.charCodeAt(last + 2) === COMMA) {
    unique = name.slice(0, last);
    info = name.slice(last + 3);
  } else unique = cutInfo1(name);
  return { base: withoutSizeFields(unique), info, timeMs: deliverySeconds(name) * 1000 };
}

/** Cuts the name at the first ":1," or "!1," (the rare experimental info). */
function cutInfo1(name: string): string {
  for (let i = 0; i < name.length - 2; i++) {
    const c = name.charCodeAt(i);
    if ((c === COLON || c === BANG) && name.charCodeAt(i + 1) === 0x31 && name.charCodeAt(i + 2) === COMMA) return name.slice(0, i);
  }
  return name;
}

/** Whether `s[from, to)` is "S=" or "W=" followed by digits only (zero or more). */
function isSizeField(s: string, from: number, to: number): boolean {
  if (to - from < 2) return false;
  const k = s.charCodeAt(from);
  if ((k !== 0x53 && k !== 0x57) || s.charCodeAt(from + 1) !== 0x3d) return false;
  for (let i = from + 2; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** The unique part without its ",S=…" and ",W=…" fields (the first comma-separated part is always kept). */
function withoutSizeFields(unique: string): string {
  let comma = unique.indexOf(',');
  if (comma < 0) return unique;
  let out = unique.slice(0, comma);
  while (comma >= 0) {
    const next = unique.indexOf(',', comma + 1);
    const end = next < 0 ? unique.length : next;
    if (!isSizeField(unique, comma + 1, end)) out += unique.slice(comma, end);
    comma = next;
  }
  return out;
}

/** The leading "seconds" of a name: 6 to 12 digits, then '.' or the end; NaN otherwise (or when 0). */
function deliverySeconds(name: string): number {
  let d = 0;
  while (d < name.length && d <= 12) {
    const c = name.charCodeAt(d);
    if (c < 0x30 || c > 0x39) break;
    d++;
  }
  if (d < 6 || d > 12 || (d < name.length && name.charCodeAt(d) !== DOT)) return NaN;
  const secs = Number(name.slice(0, d));
  return secs > 0 ? secs : NaN;
}

/**
 * The size a Maildir++ name carries (",S=<bytes>" in the unique part, before ":2,"), or undefined. Dovecot and
 * Courier write it as the file's size; a name whose size lies still reads the whole file (the fstat decides what is
 * read), only the read-ahead bound and the journal's skip check use this number.
 */
export function sizeInName(name: string): number | undefined {
  // The unique part ends at the first ":1,", ":2,", "!1," or "!2,".
  let end = name.length;
  for (let i = name.indexOf(','); i >= 0 && i < end; i = name.indexOf(',', i + 1)) {
    const c = name.charCodeAt(i - 2);
    const v = name.charCodeAt(i - 1);
    if ((c === COLON || c === BANG) && (v === 0x31 || v === 0x32)) end = i - 2;
  }
  for (let i = name.indexOf(',S='); i >= 0 && i < end; i = name.indexOf(',S=', i + 1)) {
    let j = i + 3;
    while (j < end && j - (i + 3) < 16) {
      const c = name.charCodeAt(j);
      if (c < 0x30 || c > 0x39) break;
      j++;
    }
    const digits = j - (i + 3);
    if (digits >= 1 && digits <= 15 && (j === end || name.charCodeAt(j) === COMMA)) return Number(name.slice(i + 3, j));
  }
  return undefined;
}

/** Flags and keywords for an info string; lower-case letters index Dovecot's dovecot-keywords list. */
export function maildirFlags(info: string, keywords: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const ch of info) {
    const f = FLAG_LETTERS[ch] ?? keywords.get(ch);
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

/** The part of a Maildir file name Courier keys its keyword files by: everything before ":2," / "!2,". */
export function courierKey(name: string): string {
  return name.replace(/[:!]2,[^:!]*$/, '');
}
