// Turns raw message bytes into what IMAP APPEND needs (RFC 3501 §2.2: lines end in CRLF; some servers, e.g.
// Cyrus, refuse bare LF). Bare LF becomes CRLF, an existing CRLF is never doubled; NUL bytes are flagged, not
// removed (the transport may use BINARY, RFC 3516, or refuse the message). Only the header block is parsed.
import type { NormalizedMessage } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { SourceCodes } from './source.js';
import {
  headerBlockEnd,
  headerValue,
  parseHeaderFields,
  parseMessageId,
  parseRfc5322Date,
  scanHeaderBlock,
  startsWithHeaderField,
} from './headers.js';

/** Returns the bytes with every bare LF turned into CRLF, and how many were converted (0: same buffer). */
export function lfToCrlf(buf: Buffer): { data: Buffer; converted: number } {
  let bare = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) bare++;
  if (bare === 0) return { data: buf, converted: 0 };
  const out = Buffer.allocUnsafe(buf.length + bare);
  let src = 0;
  let dst = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (i > 0 && buf[i - 1] === 0x0d) continue;
    dst += buf.copy(out, dst, src, i);
    out[dst++] = 0x0d;
    out[dst++] = 0x0a;
    src = i + 1;
  }
  buf.copy(out, dst, src);
  return { data: out, converted: bare };
}

/** Removes header fields whose (lower-case) names are in `names`; the body is untouched. */
export function stripHeaderFields(buf: Buffer, names: ReadonlySet<string>): { data: Buffer; removed: string[] } {
  const end = headerBlockEnd(buf);
  const block = end < 0 ? buf : buf.subarray(0, end);
  const fields = parseHeaderFields(block);
  const drop = fields.filter((f) => names.has(f.name));
  if (drop.length === 0) return { data: buf, removed: [] };
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of drop) {
    parts.push(buf.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(buf.subarray(pos));
  return { data: Buffer.concat(parts), removed: drop.map((f) => f.name) };
}

export interface NormalizeOptions {
  /** Header fields to remove first (mbox bookkeeping). */
  readonly strip?: ReadonlySet<string> | undefined;
  /** Repairs already made by the reader (e.g. mbox unquoting), reported with ours. */
  readonly warnings?: readonly string[] | undefined;
}

/**
 * Checks that `raw` is a message and normalizes it. Throws SourceError naming `origin`:
 * E_SOURCE_EMPTY for no bytes, E_SOURCE_NOT_MESSAGE when it does not start with a header field.
 */
export function normalizeMessage(raw: Buffer, origin: string, options: NormalizeOptions = {}): NormalizedMessage & { readonly headerEnd: number } {
  if (raw.length === 0 || (raw.length <= 256 && /^[\r\n\t ]*$/.test(raw.toString('latin1')))) {
    throw new SourceError(origin, 'empty message (no bytes, or only white space)', SourceCodes.EMPTY);
  }
  if (!startsWithHeaderField(raw)) {
    throw new SourceError(origin, 'not a message: it does not start with a header field ("Name: value")', SourceCodes.NOT_MESSAGE);
  }
  const warnings: string[] = options.warnings ? [...options.warnings] : [];
  let data = raw;
  if (options.strip && options.strip.size > 0) {
    const s = stripHeaderFields(data, options.strip);
    data = s.data;
    if (s.removed.length) warnings.push(`removed bookkeeping header(s): ${[...new Set(s.removed)].join(', ')}`);
  }
  const c = lfToCrlf(data);
  data = c.data;
  if (c.converted) warnings.push(`converted ${c.converted} bare LF to CRLF`);
  const hasNul = data.indexOf(0) >= 0;
  if (hasNul) warnings.push('contains NUL bytes (needs BINARY)');
  const scan = scanHeaderBlock(data, 'message-id');
  if (scan.end < 0) warnings.push('no empty line after the header block (headers only)');
  return new Normalized(data, parseMessageId(scan.value), hasNul, warnings, scan.end);
}

/** A message normalized elsewhere (a read worker), rebuilt around its bytes; `headerEnd` as scanHeaderBlock gives it. */
export function normalizedFrom(
  data: Buffer,
  messageId: string | undefined,
  hasNul: boolean,
  warnings: readonly string[],
  headerEnd: number,
  fingerprint?: string,
): NormalizedMessage {
  return new Normalized(data, messageId, hasNul, warnings, headerEnd, fingerprint);
}

/**
 * The normalized message. Its Date header is parsed only when asked for: the import takes INTERNALDATE from the
 * source (file time, mbox "From " line), and parsing every message's Date (comments, obsolete forms) cost ~16 µs a
 * message on the main thread for a value nobody read (docs/measurements.md, "Client CPU per message").
 */
class Normalized implements NormalizedMessage {
  #date: Date | undefined | null = null; // null: not parsed yet

  constructor(
    readonly data: Buffer,
    readonly messageId: string | undefined,
    readonly hasNul: boolean,
    readonly warnings: readonly string[],
    readonly headerEnd: number,
    readonly fingerprint?: string | undefined,
  ) {}

  get date(): Date | undefined {
    if (this.#date === null) {
      const fields = parseHeaderFields(this.headerEnd < 0 ? this.data : this.data.subarray(0, this.headerEnd));
      this.#date = parseRfc5322Date(headerValue(fields, 'date'));
    }
    return this.#date;
  }
}
