// Header-only parsing (RFC 5322 §2.2, §3.6): find the header block, unfold fields, pick Message-ID, Date and
// Received. Hand-written on purpose: the readers need byte offsets of each field (to strip mbox bookkeeping
// headers without re-serialising the message) and must never run a full MIME parse per message; mailparser's
// header tools re-encode lines and its splitter parses the whole body.

export interface HeaderField {
  /** Lower-cased field name. */
  readonly name: string;
  /** Unfolded value, leading/trailing white space trimmed, decoded as latin1 (header bytes should be ASCII). */
  readonly value: string;
  /** Byte range of the field in the block, continuation lines and line ending included. */
  readonly start: number;
  readonly end: number;
}

const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/** True when the bytes start with a header field ("Name:"), i.e. they can be a message. */
export function startsWithHeaderField(buf: Buffer): boolean {
  const lineEnd = buf.indexOf(0x0a);
  const first = buf.subarray(0, Math.min(lineEnd < 0 ? buf.length : lineEnd, 1000)).toString('latin1');
  return FIELD_START.test(first);
}

/**
 * Offset just past the empty line that ends the header block, or -1 when the bytes hold no empty line
 * (a headers-only message, or a prefix too short to tell).
 */
export function headerBlockEnd(buf: Buffer): number {
  if (buf[0] === 0x0a) return 1;
  if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  let i = buf.indexOf(0x0a);
  while (i >= 0 && i + 1 < buf.length) {
    const n = buf[i + 1];
    if (n === 0x0a) return i + 2;
    if (n === 0x0d && buf[i + 2] === 0x0a) return i + 3;
    i = buf.indexOf(0x0a, i + 1);
  }
  return -1;
}

/** Splits a header block (without the empty line, or with it: it ends the scan) into unfolded fields. */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  let cur: { name: string; parts: string[]; start: number; end: number } | undefined;
  const flush = (): void => {
    if (cur) fields.push({ name: cur.name, value: cur.parts.join(' ').trim(), start: cur.start, end: cur.end });
    cur = undefined;
  };
  while (pos < block.length) {
    const nl = block.indexOf(0x0a, pos);
    const next = nl < 0 ? block.length : nl + 1;
    let lineEnd = nl < 0 ? block.length : nl;
    if (lineEnd > pos && block[lineEnd - 1] === 0x0d) lineEnd--;
    const line = block.toString('latin1', pos, lineEnd);
    if (line === '') break; // end of the header block
    if ((line[0] === ' ' || line[0] === '\t') && cur) {
      cur.parts.push(line.trim());
      cur.end = next;
    } else {
      flush();
      const colon = line.indexOf(':');
      if (colon > 0) cur = { name: line.slice(0, colon).trim().toLowerCase(), parts: [line.slice(colon + 1)], start: pos, end: next };
    }
    pos = next;
  }
  flush();
  return fields;
}

/**
 * One pass over the header block for the one field the import needs on every message (`name`, lower case, e.g.
 * "message-id"): where the block ends (as headerBlockEnd) and that field's first value, unfolded and trimmed exactly
 * as parseHeaderFields + headerValue give it — without building a string and an object per header line. Measured
 * (docs/measurements.md, "Client CPU per message"): parsing every field of every message, and its Date, was ~8 % of
 * the client's main thread.
 */
export function scanHeaderBlock(buf: Buffer, name: string): { end: number; value: string | undefined } {
  let pos = 0;
  let value: string | undefined;
  let parts: string[] | undefined; // the wanted field's lines while it is the current field
  const n = name.length;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    const next = nl < 0 ? buf.length : nl + 1;
    let lineEnd = nl < 0 ? buf.length : nl;
    if (lineEnd > pos && buf[lineEnd - 1] === 0x0d) lineEnd--;
    if (lineEnd === pos) {
      // The empty line: the block ends after it (none when it is the last line without its LF, as headerBlockEnd).
      if (value === undefined && parts) value = parts.join(' ').trim();
      return { end: nl < 0 ? -1 : next, value };
    }
    const c = buf[pos];
    if (c === 0x20 || c === 0x09) {
      if (parts) parts.push(buf.toString('latin1', pos, lineEnd).trim());
    } else {
      if (parts) {
        value = parts.join(' ').trim();
        parts = undefined;
      }
      if (value === undefined && lineEnd - pos > n && matchesName(buf, pos, lineEnd, name)) {
        const colon = buf.indexOf(0x3a, pos + n);
        parts = [buf.toString('latin1', colon + 1, lineEnd)];
      }
    }
    pos = next;
  }
  if (value === undefined && parts) value = parts.join(' ').trim();
  return { end: -1, value };
}

/** Whether the line at `pos` is the field `name` (lower case): the name in any case, optional SP/HTAB, then ':'. */
function matchesName(buf: Buffer, pos: number, lineEnd: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const b = buf[pos + k]!;
    // ASCII letters fold to lower case with 0x20; the other bytes of a field name must match exactly.
    if ((b >= 0x41 && b <= 0x5a ? b | 0x20 : b) !== name.charCodeAt(k)) return false;
  }
  for (let i = pos + name.length; i < lineEnd; i++) {
    const b = buf[i];
    if (b === 0x3a) return true;
    if (b !== 0x20 && b !== 0x09) return false;
  }
  return false;
}

/** Fields every stored message has at least one of (RFC 5322 §3.6 origination/destination/trace fields). */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(['from', 'date', 'subject', 'message-id', 'received', 'return-path', 'delivered-to', 'to', 'sender']);

/**
 * Whether the first bytes of a file without a mail extension are a message: a header block that holds at least one
 * message field. "Name: value" lines alone are not enough — Debian's deb822 files, HTTP dumps and many configs
 * look like that — so a dry run over /etc finds no mail.
 */
export function looksLikeMessage(head: Buffer): boolean {
  if (!startsWithHeaderField(head)) return false;
  const end = headerBlockEnd(head);
  return parseHeaderFields(end < 0 ? head : head.subarray(0, end)).some((f) => MESSAGE_FIELDS.has(f.name));
}

export function headerValue(fields: readonly HeaderField[], name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}

/** The first msg-id (RFC 5322 §3.6.4) of a Message-ID value, angle brackets included. */
export function parseMessageId(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /<[^<>\s]+>/.exec(value);
  if (m) return m[0];
  const bare = value.trim();
  return bare && !/\s/.test(bare) ? `<${bare}>` : undefined;
}

function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out;
}

/**
 * Parses an RFC 5322 date-time (obsolete forms included: two-digit years, named zones, comments).
 * V8's Date.parse already reads RFC 2822 dates; this strips comments first and rejects absurd years so a
 * garbage header never becomes an INTERNALDATE.
 */
export function parseRfc5322Date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  let s = stripComments(value).replace(/\s+/g, ' ').trim();
  if (!s) return undefined;
  // RFC 5322 §4.3: two-digit years 00–49 are 20xx, 50–99 are 19xx (V8 guesses differently).
  s = s.replace(/^((?:[A-Za-z]{3},? )?\d{1,2} [A-Za-z]{3,} )(\d{2})( )/, (_m, a: string, y: string, b: string) => {
    const n = Number(y);
    return `${a}${n < 50 ? 2000 + n : 1900 + n}${b}`;
  });
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  const d = new Date(t);
  const year = d.getUTCFullYear();
  return year >= 1900 && year <= 9999 ? d : undefined;
}

/** The date of a Received: field: what follows its last ';' (RFC 5321 §4.4). */
export function parseReceivedDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const semi = value.lastIndexOf(';');
  return semi < 0 ? undefined : parseRfc5322Date(value.slice(semi + 1));
}
