// The journal's line format: NDJSON, one record per line, a header line first. Keys are one letter because a
// large import writes a few million lines and replay time is dominated by JSON.parse over their bytes.
// A record never carries message content or credentials: an id from the source reader, a mailbox name, the
// Message-ID header value, sizes, a digest and flags are what a re-run needs to skip, find or update a message.
//
// Format 2 (issue 11, "the server is the truth"): one journal per *account* (canonical server + user), every
// message record keyed by (mailbox, id), plus per-folder checkpoints that let a re-run prove, with one STATUS, that a
// folder is still what the journal last saw.
//
//   {"mailmigrate":"journal","v":2,"account":"imap://alice@192.0.2.7:993","created":"2024-…Z"}   header (line 1)
//   {"s":"<id>","b":"<mailbox>","m":"<message-id>","z":1234,"w":1200,"f":"<sha256>"}   sent (m, w, f optional)
//   {"c":"<id>","b":"<mailbox>","u":42,"v":1700000000,"l":["\\Seen"]}                confirmed (u, v, l optional)
//   {"x":"<id>","b":"<mailbox>","e":"E_SERVER_NO","r":"<reason>"}                   failed
//   {"g":"<id>","b":"<mailbox>","l":["\\Seen","\\Flagged"]}                          flags now set (cutover pass)
//   {"k":"<mailbox>","v":1700000000,"n":4321,"e":4320}                               folder checkpoint
//
// Format 3 (issue 14) adds group records: one line per call of recordSent/recordConfirmed and per target mailbox,
// the mailbox and the ids' common prefix written once. Measured on the realistic corpus: 207 bytes of journal per
// message in format 2 (docs/measurements.md, "Client CPU per message"). A group is one write like any line, so a
// torn group is dropped whole — its recordSent never resolved, so none of its messages reached the socket.
//   {"S":"<mailbox>","p":"<id prefix>","e":[["<id rest>",<size>,"<message-id>"|0,"<sha256>"|0(,<raw size>|null)]…]}
//        raw size omitted: equal to size; null: unknown
//   {"C":"<mailbox>","p":"<id prefix>"(,"v":<uidvalidity>),"e":[["<id rest>",<uid>|0(,["\\Seen",…])]…]}
//        uid 0: not known (no UIDPLUS; IMAP UIDs are never 0, RFC 3501 §2.3.1.1); flags omitted: none
// A format 2 journal is still read, and is appended to in format 2 (single records), so the mailmigrate that wrote
// it can read it back; a new journal is format 3.

export const JOURNAL_FORMAT_VERSION = 3;
/** Formats open() reads; records are appended to a journal in the format of its header. */
const READABLE_VERSIONS: ReadonlySet<unknown> = new Set([2, 3]);
const MAGIC = 'mailmigrate';
const MAGIC_VALUE = 'journal';
/** Failure reasons are for reports; bound them so a server's long text cannot bloat the journal. */
const MAX_REASON = 300;

export interface SentEntry {
  id: string;
  mailbox: string;
  messageId?: string | undefined;
  /** Size of the normalized bytes sent (what RFC822.SIZE reports when the server stores them unchanged). */
  size: number;
  /** Size of the message in the source before normalization: a re-run skips by id only when this still matches. */
  rawSize?: number | undefined;
  /** A digest of the normalized bytes, supplied by the importer, to find messages that lack a Message-ID. */
  fingerprint?: string | undefined;
}

export interface ConfirmedEntry {
  id: string;
  mailbox: string;
  uid?: number | undefined;
  uidValidity?: number | undefined;
  /** Flags and keywords the message was stored with (the cutover pass compares the source against these). */
  flags?: readonly string[] | undefined;
}

export interface FailedEntry {
  id: string;
  mailbox: string;
  code: string;
  reason: string;
}

export interface FlagsEntry {
  id: string;
  mailbox: string;
  flags: readonly string[];
}

/** What a folder looked like (STATUS, RFC 3501 §6.3.10) when a run last finished with it. */
export interface FolderCheckpoint {
  mailbox: string;
  uidValidity: number;
  uidNext: number;
  messages: number;
}

/** What a journal belongs to; open() refuses a journal whose header differs. The account is the canonical
 *  server and user, never a secret, e.g. `imap://alice@192.0.2.7:993` — this text is stored and printed in errors. */
export interface JournalHeader {
  account: string;
}

export interface StoredHeader extends JournalHeader {
  version: number;
  created: string;
}

export type JournalRecord =
  | { kind: 'sent'; entry: SentEntry }
  | { kind: 'confirmed'; entry: ConfirmedEntry }
  | { kind: 'failed'; entry: FailedEntry }
  | { kind: 'flags'; entry: FlagsEntry }
  | { kind: 'checkpoint'; entry: FolderCheckpoint };

export function encodeHeader(h: JournalHeader, created: Date, version = JOURNAL_FORMAT_VERSION): string {
  return JSON.stringify({ [MAGIC]: MAGIC_VALUE, v: version, account: h.account, created: created.toISOString() }) + '\n';
}

/** The longest prefix every id shares (written once per group). */
function commonPrefix(ids: readonly string[]): string {
  let p = ids[0] ?? '';
  for (let i = 1; i < ids.length && p.length > 0; i++) {
    const id = ids[i]!;
    let n = 0;
    const max = Math.min(p.length, id.length);
    while (n < max && p.charCodeAt(n) === id.charCodeAt(n)) n++;
    // Never cut a UTF-16 surrogate pair in two: the prefix is written as JSON text on its own.
    if (n > 0 && n < p.length && (p.charCodeAt(n - 1) & 0xfc00) === 0xd800) n--;
    p = p.slice(0, n);
  }
  return p;
}

/** Entries grouped by a key, in the order each key first appears. */
function groupBy<T>(entries: readonly T[], key: (e: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const e of entries) {
    const k = key(e);
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  return [...groups.values()];
}

/** Format 3: the sent entries as group lines, one per mailbox (a group of one is a plain 'sent' record). */
export function encodeSentGroups(entries: readonly SentEntry[]): string[] {
  return groupBy(entries, (e) => e.mailbox).map((g) => {
    if (g.length === 1) return encodeSent(g[0]!);
    const p = commonPrefix(g.map((e) => e.id));
    const e = g.map((x) => {
      const row: unknown[] = [x.id.slice(p.length), x.size, x.messageId ?? 0, x.fingerprint ?? 0];
      if (x.rawSize !== x.size) row.push(x.rawSize ?? null);
      return row;
    });
    return JSON.stringify({ S: g[0]!.mailbox, p, e }) + '\n';
  });
}

/** Format 3: the confirmations as group lines, one per mailbox and UIDVALIDITY (a group of one: a plain record). */
export function encodeConfirmedGroups(entries: readonly ConfirmedEntry[]): string[] {
  return groupBy(entries, (e) => `${e.uidValidity ?? ''}\u0000${e.mailbox}`).map((g) => {
    if (g.length === 1) return encodeConfirmed(g[0]!);
    const p = commonPrefix(g.map((e) => e.id));
    const e = g.map((x) => (x.flags !== undefined && x.flags.length > 0 ? [x.id.slice(p.length), x.uid ?? 0, x.flags] : [x.id.slice(p.length), x.uid ?? 0]));
    const v = g[0]!.uidValidity;
    return JSON.stringify(v === undefined ? { C: g[0]!.mailbox, p, e } : { C: g[0]!.mailbox, p, v, e }) + '\n';
  });
}

export function encodeSent(e: SentEntry): string {
  const o: Record<string, unknown> = { s: e.id, b: e.mailbox };
  if (e.messageId !== undefined) o.m = e.messageId;
  o.z = e.size;
  if (e.rawSize !== undefined) o.w = e.rawSize;
  if (e.fingerprint !== undefined) o.f = e.fingerprint;
  return JSON.stringify(o) + '\n';
}

export function encodeConfirmed(e: ConfirmedEntry): string {
  const o: Record<string, unknown> = { c: e.id, b: e.mailbox };
  if (e.uid !== undefined) o.u = e.uid;
  if (e.uidValidity !== undefined) o.v = e.uidValidity;
  if (e.flags !== undefined && e.flags.length > 0) o.l = e.flags;
  return JSON.stringify(o) + '\n';
}

export function encodeFailed(e: FailedEntry): string {
  const reason = e.reason.length > MAX_REASON ? e.reason.slice(0, MAX_REASON - 1) + '…' : e.reason;
  return JSON.stringify({ x: e.id, b: e.mailbox, e: e.code, r: reason }) + '\n';
}

export function encodeFlags(e: FlagsEntry): string {
  return JSON.stringify({ g: e.id, b: e.mailbox, l: e.flags }) + '\n';
}

export function encodeCheckpoint(e: FolderCheckpoint): string {
  return JSON.stringify({ k: e.mailbox, v: e.uidValidity, n: e.uidNext, e: e.messages }) + '\n';
}

/** Parses the header line; returns a reason string when it is not a journal header this version can read. */
export function decodeHeader(text: string): StoredHeader | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'line 1 is not a journal header (not JSON)';
  }
  if (!isObject(o) || o[MAGIC] !== MAGIC_VALUE) return 'line 1 is not a mailmigrate journal header';
  if (o.v === 1) {
    // Format 1 was keyed by command-line strings (host spelling, source path): its confirmations cannot be trusted
    // for another spelling, and nothing is lost by starting afresh — a new journal is checked against the server.
    return 'journal format 1 was written by an older mailmigrate (keyed by host and source path); give a new --journal path or delete this file: the run then checks the server for what is already there';
  }
  if (!READABLE_VERSIONS.has(o.v)) return `journal format version ${String(o.v)} is not supported (expected ${JOURNAL_FORMAT_VERSION})`;
  if (typeof o.account !== 'string' || typeof o.created !== 'string') return 'line 1: header lacks account or created';
  return { version: o.v as number, account: o.account, created: o.created };
}

/**
 * Parses one line: a single record or a format 3 group. Returns undefined when the line is not well-formed (the
 * caller names the line) — a group with one bad entry is refused whole.
 */
export function decodeLine(text: string): JournalRecord[] | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(o)) return undefined;
  if (typeof o.S === 'string' || typeof o.C === 'string') return decodeGroup(o);
  const r = decodeObject(o);
  return r === undefined ? undefined : [r];
}

function decodeGroup(o: Record<string, unknown>): JournalRecord[] | undefined {
  if (typeof o.p !== 'string' || !Array.isArray(o.e)) return undefined;
  const p = o.p;
  const out: JournalRecord[] = [];
  if (typeof o.S === 'string') {
    for (const row of o.e as unknown[]) {
      if (!Array.isArray(row) || row.length < 4 || row.length > 5) return undefined;
      const [id, size, m, f] = row as unknown[];
      if (typeof id !== 'string' || !isCount(size)) return undefined;
      if (m !== 0 && typeof m !== 'string') return undefined;
      if (f !== 0 && typeof f !== 'string') return undefined;
      const entry: SentEntry = { id: p + id, mailbox: o.S, size };
      if (typeof m === 'string') entry.messageId = m;
      if (row.length === 4) entry.rawSize = size;
      else if (row[4] !== null) {
        if (!isCount(row[4])) return undefined;
        entry.rawSize = row[4];
      }
      if (typeof f === 'string') entry.fingerprint = f;
      out.push({ kind: 'sent', entry });
    }
    return out;
  }
  if (o.v !== undefined && !isCount(o.v)) return undefined;
  for (const row of o.e as unknown[]) {
    if (!Array.isArray(row) || row.length < 2 || row.length > 3) return undefined;
    const [id, uid, flags] = row as unknown[];
    if (typeof id !== 'string' || !isCount(uid)) return undefined;
    if (row.length === 3 && !isStringList(flags)) return undefined;
    const entry: ConfirmedEntry = { id: p + id, mailbox: o.C as string };
    if (uid !== 0) entry.uid = uid;
    if (o.v !== undefined) entry.uidValidity = o.v as number;
    if (row.length === 3) entry.flags = flags as string[];
    out.push({ kind: 'confirmed', entry });
  }
  return out;
}

/** Parses one record line; returns undefined when the line is not a well-formed record (the caller names the line). */
export function decodeRecord(text: string): JournalRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isObject(o) ? decodeObject(o) : undefined;
}

function decodeObject(o: Record<string, unknown>): JournalRecord | undefined {
  if (typeof o.k === 'string') {
    if (!isCount(o.v) || !isCount(o.n) || !isCount(o.e)) return undefined;
    return { kind: 'checkpoint', entry: { mailbox: o.k, uidValidity: o.v, uidNext: o.n, messages: o.e } };
  }
  if (typeof o.b !== 'string') return undefined;
  const mailbox = o.b;
  if (typeof o.s === 'string') {
    if (!isCount(o.z)) return undefined;
    if (o.m !== undefined && typeof o.m !== 'string') return undefined;
    if (o.f !== undefined && typeof o.f !== 'string') return undefined;
    if (o.w !== undefined && !isCount(o.w)) return undefined;
    const entry: SentEntry = { id: o.s, mailbox, size: o.z };
    if (o.m !== undefined) entry.messageId = o.m as string;
    if (o.w !== undefined) entry.rawSize = o.w as number;
    if (o.f !== undefined) entry.fingerprint = o.f as string;
    return { kind: 'sent', entry };
  }
  if (typeof o.c === 'string') {
    if (o.u !== undefined && !isCount(o.u)) return undefined;
    if (o.v !== undefined && !isCount(o.v)) return undefined;
    if (o.l !== undefined && !isStringList(o.l)) return undefined;
    const entry: ConfirmedEntry = { id: o.c, mailbox };
    if (o.u !== undefined) entry.uid = o.u as number;
    if (o.v !== undefined) entry.uidValidity = o.v as number;
    if (o.l !== undefined) entry.flags = o.l as string[];
    return { kind: 'confirmed', entry };
  }
  if (typeof o.x === 'string') {
    if (typeof o.e !== 'string' || typeof o.r !== 'string') return undefined;
    return { kind: 'failed', entry: { id: o.x, mailbox, code: o.e, reason: o.r } };
  }
  if (typeof o.g === 'string') {
    if (!isStringList(o.l)) return undefined;
    return { kind: 'flags', entry: { id: o.g, mailbox, flags: o.l } };
  }
  return undefined;
}

function isObject(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isStringList(l: unknown): l is string[] {
  return Array.isArray(l) && l.every((x) => typeof x === 'string');
}
