// The journal's line format: NDJSON, one record per line, a header line first. Keys are one letter because a
// large import writes a few million lines and replay time is dominated by JSON.parse over their bytes.
// A record never carries message content or credentials: an id from the source reader, a mailbox name, the
// Message-ID header value, a size and a digest are what the re-run needs to find a message on the server.
//
//   {"mailmigrate":"journal","v":1,"source":"…","target":"…","created":"2024-…Z"}   header (line 1)
//   {"s":"<id>","b":"<mailbox>","m":"<message-id>","z":1234,"f":"<sha256>"}        sent   (m, f optional)
//   {"c":"<id>","u":42,"v":1700000000,"b":"<mailbox>"}                             confirmed (u, v, b optional)
//   {"x":"<id>","e":"E_SERVER_NO","r":"<reason>"}                                 failed

export const JOURNAL_FORMAT_VERSION = 1;
const MAGIC = 'mailmigrate';
const MAGIC_VALUE = 'journal';
/** Failure reasons are for reports; bound them so a server's long text cannot bloat the journal. */
const MAX_REASON = 300;

export interface SentEntry {
  id: string;
  mailbox: string;
  messageId?: string;
  size: number;
  /** A digest of the normalized bytes, supplied by the importer, to find messages that lack a Message-ID. */
  fingerprint?: string;
}

export interface ConfirmedEntry {
  id: string;
  uid?: number;
  uidValidity?: number;
  mailbox?: string;
}

export interface FailedEntry {
  id: string;
  code: string;
  reason: string;
}

/** What a journal belongs to; open() refuses a journal whose header differs. Describe the target without any
 *  secret, e.g. `imaps://alice@mail.example.org:993/Imported` — this text is stored and printed in errors. */
export interface JournalHeader {
  source: string;
  target: string;
}

export interface StoredHeader extends JournalHeader {
  version: number;
  created: string;
}

export type JournalRecord =
  | { kind: 'sent'; entry: SentEntry }
  | { kind: 'confirmed'; entry: ConfirmedEntry }
  | { kind: 'failed'; entry: FailedEntry };

export function encodeHeader(h: JournalHeader, created: Date): string {
  return (
    JSON.stringify({
      [MAGIC]: MAGIC_VALUE,
      v: JOURNAL_FORMAT_VERSION,
      source: h.source,
      target: h.target,
      created: created.toISOString(),
    }) + '\n'
  );
}

export function encodeSent(e: SentEntry): string {
  const o: Record<string, unknown> = { s: e.id, b: e.mailbox };
  if (e.messageId !== undefined) o.m = e.messageId;
  o.z = e.size;
  if (e.fingerprint !== undefined) o.f = e.fingerprint;
  return JSON.stringify(o) + '\n';
}

export function encodeConfirmed(e: ConfirmedEntry): string {
  const o: Record<string, unknown> = { c: e.id };
  if (e.uid !== undefined) o.u = e.uid;
  if (e.uidValidity !== undefined) o.v = e.uidValidity;
  if (e.mailbox !== undefined) o.b = e.mailbox;
  return JSON.stringify(o) + '\n';
}

export function encodeFailed(e: FailedEntry): string {
  const reason = e.reason.length > MAX_REASON ? e.reason.slice(0, MAX_REASON - 1) + '…' : e.reason;
  return JSON.stringify({ x: e.id, e: e.code, r: reason }) + '\n';
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
  if (o.v !== JOURNAL_FORMAT_VERSION) return `journal format version ${String(o.v)} is not supported (expected ${JOURNAL_FORMAT_VERSION})`;
  if (typeof o.source !== 'string' || typeof o.target !== 'string' || typeof o.created !== 'string') {
    return 'line 1: header lacks source, target or created';
  }
  return { version: o.v, source: o.source, target: o.target, created: o.created };
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
  if (typeof o.s === 'string') {
    if (typeof o.b !== 'string' || !isCount(o.z)) return undefined;
    if (o.m !== undefined && typeof o.m !== 'string') return undefined;
    if (o.f !== undefined && typeof o.f !== 'string') return undefined;
    const entry: SentEntry = { id: o.s, mailbox: o.b, size: o.z };
    if (o.m !== undefined) entry.messageId = o.m as string;
    if (o.f !== undefined) entry.fingerprint = o.f as string;
    return { kind: 'sent', entry };
  }
  if (typeof o.c === 'string') {
    if (o.u !== undefined && !isCount(o.u)) return undefined;
    if (o.v !== undefined && !isCount(o.v)) return undefined;
    if (o.b !== undefined && typeof o.b !== 'string') return undefined;
    const entry: ConfirmedEntry = { id: o.c };
    if (o.u !== undefined) entry.uid = o.u as number;
    if (o.v !== undefined) entry.uidValidity = o.v as number;
    if (o.b !== undefined) entry.mailbox = o.b as string;
    return { kind: 'confirmed', entry };
  }
  if (typeof o.x === 'string') {
    if (typeof o.e !== 'string' || typeof o.r !== 'string') return undefined;
    return { kind: 'failed', entry: { id: o.x, code: o.e, reason: o.r } };
  }
  return undefined;
}

function isObject(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
