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

export const JOURNAL_FORMAT_VERSION = 2;
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

export function encodeHeader(h: JournalHeader, created: Date): string {
  return JSON.stringify({ [MAGIC]: MAGIC_VALUE, v: JOURNAL_FORMAT_VERSION, account: h.account, created: created.toISOString() }) + '\n';
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
  if (o.v !== JOURNAL_FORMAT_VERSION) return `journal format version ${String(o.v)} is not supported (expected ${JOURNAL_FORMAT_VERSION})`;
  if (typeof o.account !== 'string' || typeof o.created !== 'string') return 'line 1: header lacks account or created';
  return { version: o.v, account: o.account, created: o.created };
}

/** Parses one record line; returns undefined when the line is not a well-formed record (the caller names the line). */
export function decodeRecord(text: string): JournalRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(o)) return undefined;
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
