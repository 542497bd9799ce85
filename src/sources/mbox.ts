// mbox files (RFC 4155 and the variants in Qmail's mbox(5)): one file is one folder, a directory of them a tree.
//  - mboxo / mboxrd: body lines "From " were quoted as ">From " (mboxrd also quotes ">From " as ">>From ").
//    Unquoting one '>' from /^>+From / is right for mboxrd and gives the same bytes as mboxo for every line
//    except />>+From /, so 'auto' unquotes like mboxrd; choose 'mboxo' to leave those lines alone.
//  - mboxcl / mboxcl2: a Content-Length header gives the body size; mboxcl2 does not quote, so a body "From "
//    line may look like a boundary. 'auto' merges such segments back when, and only when, Content-Length lands
//    exactly on the later boundary (then nothing is unquoted, as mboxcl2 quoted nothing).
// The From_ line is removed and its date becomes the INTERNALDATE; Status/X-Status/X-Keywords (and
// Thunderbird's X-Mozilla-*) become flags; bookkeeping headers are stripped as Dovecot hides them.
// Plain files are scanned as a stream and each message is re-read by offset on read(). A .gz file cannot be
// read at an offset without decompressing from the start (quadratic over a file), so while scanning each message's
// bytes are kept with it until it is read or dropped; memory is then bounded by the messages a consumer holds
// unread, and by maxMessageBytes per message.
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { InternalDateSource, NormalizedMessage, SourceMessage } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { zlibLib } from '../core/on-demand.js';
import { headerValue, parseHeaderFields, type HeaderField } from './headers.js';
import { normalizeMessage } from './normalize.js';
import { MBOX_BOOKKEEPING_HEADERS, MboxScanner, type Segment } from './mbox-scan.js';
import { fsError } from './fs-walk.js';
import { decodeFsName } from './folder-name.js';
import { openRegularStream, readRegularHead, readRegularRange } from './safe-read.js';
import { DEFAULT_MAX_LINE_BYTES, SourceCodes, type MboxVariant, type SourceItem } from './source.js';

export { MBOX_BOOKKEEPING_HEADERS };

/** "Archive.mbox.gz" → "Archive": the folder named after the file. */
export function mboxFolderName(fileName: string): string {
  return decodeFsName(fileName.replace(/\.gz$/i, '').replace(/\.(mbox|mbx)$/i, ''));
}

/** What the first bytes say: an mbox ("From "), a gzip stream (1f 8b), or neither. Throws SourceError. */
export function sniffMbox(path: string): 'mbox' | 'gzip' | undefined {
  const b = readRegularHead(path, 5);
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  return b.toString('latin1') === 'From ' ? 'mbox' : undefined;
}

/**
 * Deleted but not expunged: Status or X-Status with D (UW-IMAP, Dovecot), or Thunderbird's X-Mozilla-Status bit
 * 0x0008 (MSG_FLAG_EXPUNGED: deleted, kept in the file until the folder is compacted).
 */
export function mboxDeleted(fields: readonly HeaderField[]): boolean {
  if ((headerValue(fields, 'status') ?? '').includes('D')) return true;
  if ((headerValue(fields, 'x-status') ?? '').includes('D')) return true;
  const moz = headerValue(fields, 'x-mozilla-status');
  return moz !== undefined && /^[0-9a-f]{1,8}$/i.test(moz) && (parseInt(moz, 16) & 0x8) !== 0;
}

/**
 * Flags from Status (R), X-Status (A F T), X-Keywords, and Thunderbird's X-Mozilla-Status bits/-Keys. "Deleted"
 * is not a flag here (mboxDeleted; the importer decides about \\Deleted).
 */
export function mboxFlags(fields: readonly HeaderField[]): string[] {
  const out = new Set<string>();
  const status = headerValue(fields, 'status') ?? '';
  if (status.includes('R')) out.add('\\Seen');
  const x = headerValue(fields, 'x-status') ?? '';
  if (x.includes('A')) out.add('\\Answered');
  if (x.includes('F')) out.add('\\Flagged');
  if (x.includes('T')) out.add('\\Draft');
  const moz = headerValue(fields, 'x-mozilla-status');
  if (moz && /^[0-9a-f]{1,8}$/i.test(moz)) {
    const bits = parseInt(moz, 16);
    if (bits & 0x1) out.add('\\Seen');
    if (bits & 0x2) out.add('\\Answered');
    if (bits & 0x4) out.add('\\Flagged');
    if (bits & 0x1000) out.add('$Forwarded');
  }
  for (const name of ['x-keywords', 'x-mozilla-keys']) {
    for (const f of fields) {
      if (f.name !== name) continue;
      for (const kw of f.value.split(/[\s,]+/)) if (kw && /^[\x21-\x7e]+$/.test(kw) && !/[(){%*"\\\]]/.test(kw)) out.add(kw);
    }
  }
  return [...out];
}

/** Removes one '>' from quoted From_ lines: /^>+From / (mboxrd) or only /^>From / (mboxo). */
export function unquoteFromLines(buf: Buffer, variant: 'mboxrd' | 'mboxo'): { data: Buffer; count: number } {
  const cut: number[] = [];
  for (let i = buf.indexOf('\n>'); i >= 0; i = buf.indexOf('\n>', i + 1)) {
    let j = i + 1;
    while (buf[j] === 0x3e) j++;
    if (variant === 'mboxo' && j - i - 1 !== 1) continue;
    if (buf.toString('latin1', j, j + 5) === 'From ') cut.push(i + 1);
  }
  if (!cut.length) return { data: buf, count: 0 };
  const parts: Buffer[] = [];
  let pos = 0;
  for (const c of cut) {
    parts.push(buf.subarray(pos, c));
    pos = c + 1;
  }
  parts.push(buf.subarray(pos));
  return { data: Buffer.concat(parts), count: cut.length };
}

export interface MboxFileOptions {
  readonly path: string;
  readonly folder: readonly string[];
  /** Label for ids: the file path relative to the source root. */
  readonly label: string;
  readonly gzip: boolean;
  readonly maxMessageBytes: number;
  readonly variant: MboxVariant;
  /** What to open when `path` is an allowed symlink (its resolved target); default `path`. */
  readonly openPath?: string | undefined;
  /** Longest line accepted (SourceOptions.maxLineBytes). */
  readonly maxLineBytes?: number | undefined;
}

/**
 * A gzip member is decompressed only while one message stays below this multiple of maxMessageBytes: past it the
 * rest of the file is not read (a decompression bomb costs bounded time and one failed file, not the run).
 */
const GZIP_MESSAGE_FACTOR = 4;

/** One message located in an mbox file. */
class MboxMessage implements SourceMessage {
  #data: Buffer | undefined;
  constructor(
    readonly id: string,
    readonly folder: readonly string[],
    readonly flags: readonly string[],
    readonly internalDate: Date | undefined,
    readonly internalDateSource: InternalDateSource,
    readonly size: number,
    readonly origin: string,
    readonly deleted: boolean,
    private readonly path: string,
    private readonly messageStart: number,
    private readonly unquote: 'mboxrd' | 'mboxo' | 'none',
    private readonly notes: readonly string[],
    data: Buffer | undefined,
  ) {
    this.#data = data;
  }

  async read(): Promise<NormalizedMessage> {
    let raw = this.#data;
    if (!raw) {
      // Opened like every source file (safe-read.ts): a file swapped for a FIFO or device since the scan is refused.
      raw = await readRegularRange(this.path, this.messageStart, this.size);
      if (raw.length !== this.size) {
        throw new SourceError(this.origin, `file shrank since it was scanned (${raw.length} of ${this.size} bytes)`, SourceCodes.MBOX_TRUNCATED);
      }
    }
    const warnings = [...this.notes];
    if (this.unquote !== 'none') {
      const u = unquoteFromLines(raw, this.unquote);
      raw = u.data;
      if (u.count) warnings.push(`unquoted ${u.count} >From line(s) (${this.unquote})`);
    }
    return normalizeMessage(raw, this.origin, { strip: MBOX_BOOKKEEPING_HEADERS, warnings });
  }
}

function openStream(path: string, gzip: boolean): Readable {
  // 64 KiB chunks: with 256 KiB ones, scanning 400k messages peaked at +257 MB RSS (lazy GC of large external
  // buffers) against +16 MB (measured here). Opened without following links or blocking, fstat'd (safe-read.ts).
  const file = openRegularStream(path, 64 * 1024).stream;
  if (!gzip) return file;
  const gz = zlibLib().createGunzip();
  pipeline(file, gz, () => {
    // errors surface on the gunzip stream the caller iterates
  });
  return gz;
}

/** A message candidate: one segment, or several merged by Content-Length (mboxcl2). */
interface Candidate {
  readonly segs: Segment[];
  readonly merged: boolean;
}

function contentLength(seg: Segment): number | undefined {
  const v = headerValue(parseHeaderFields(seg.header), 'content-length');
  return v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : undefined;
}

/**
 * Scans one mbox file and yields its messages and rejections. Never throws: open/read failures, a non-mbox
 * file and a truncated gzip stream become 'rejected' items.
 */
/** Dovecot's X-IMAPbase pseudo-message: counted as skipped by the caller, never yielded (it is not a path). */
export interface PseudoMessage {
  readonly kind: 'pseudo';
}

export async function* readMboxFile(o: MboxFileOptions): AsyncGenerator<SourceItem | PseudoMessage> {
  const scanner = new MboxScanner(o.gzip ? o.maxMessageBytes + 64 * 1024 : 0, o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const gzipCap = o.maxMessageBytes * GZIP_MESSAGE_FACTOR;
  let bomb: number | undefined;
  let index = 0;
  let pending: Segment[] = [];
  let pendingLen = 0;
  const trustCl = o.variant === 'auto' || o.variant === 'mboxcl' || o.variant === 'mboxcl2';

  const emit = function* (c: Candidate, truncated?: string): Generator<SourceItem | PseudoMessage> {
    yield* toItems(o, c, index++, truncated);
  };
  // Content-Length handling: a segment whose body is shorter than its Content-Length waits for the next
  // segments; if the length lands exactly on a later boundary they are one message, else they stay separate.
  const onSegment = function* (seg: Segment): Generator<SourceItem | PseudoMessage> {
    if (pending.length) {
      pending.push(seg);
      const first = pending[0]!;
      const len = seg.end - first.headerEnd;
      if (len === pendingLen) {
        yield* emit({ segs: pending, merged: true });
        pending = [];
      } else if (len > pendingLen) {
        const segs = pending;
        pending = [];
        for (const s of segs) yield* emit({ segs: [s], merged: false });
      }
      return;
    }
    const cl = trustCl && seg.headerEnd >= 0 ? contentLength(seg) : undefined;
    if (cl !== undefined && seg.end - seg.headerEnd < cl && cl <= o.maxMessageBytes) {
      pending = [seg];
      pendingLen = cl;
      return;
    }
    yield* emit({ segs: [seg], merged: false });
  };

  let stream: Readable;
  try {
    stream = openStream(o.openPath ?? o.path, o.gzip);
  } catch (err) {
    yield { kind: 'rejected', error: err instanceof SourceError ? err : fsError(o.path, err) };
    return;
  }
  try {
    for await (const chunk of stream) {
      for (const seg of scanner.push(chunk as Buffer)) yield* onSegment(seg);
      if (scanner.notMbox !== undefined || scanner.lineTooLong !== undefined) break;
      if (o.gzip && scanner.currentBytes > gzipCap) {
        bomb = scanner.current?.start ?? 0;
        break;
      }
    }
  } catch (err) {
    stream.destroy();
    const cur = scanner.current;
    const where = cur ? `${o.path}@${cur.start}` : o.path;
    const gzipCut = o.gzip && /unexpected end|incorrect header|invalid/i.test(String((err as Error)?.message));
    const reason = gzipCut ? `compressed stream is damaged or truncated (${(err as Error).message})` : undefined;
    const error = gzipCut ? new SourceError(where, reason!, SourceCodes.MBOX_TRUNCATED, { cause: err }) : fsError(where, err);
    for (const s of pending) yield* emit({ segs: [s], merged: false });
    yield { kind: 'rejected', error };
    return;
  } finally {
    stream.destroy();
  }
  if (scanner.lineTooLong !== undefined || bomb !== undefined) {
    for (const s of pending) yield* emit({ segs: [s], merged: false });
    const at = scanner.lineTooLong ?? bomb!;
    const error =
      bomb !== undefined
        ? new SourceError(`${o.path}@${at}`, `decompresses to more than ${gzipCap} bytes for one message (${GZIP_MESSAGE_FACTOR} × maxMessageBytes); the rest of the file was not read`, SourceCodes.TOO_LARGE)
        : new SourceError(`${o.path}@${at}`, `a line longer than ${o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES} bytes (maxLineBytes) with no end: a corrupt or sparse file? the rest of the file was not read`, SourceCodes.LINE_TOO_LONG);
    yield { kind: 'rejected', error };
    return;
  }
  if (scanner.notMbox !== undefined) {
    yield {
      kind: 'rejected',
      error: new SourceError(o.path, `not an mbox: it does not start with a From_ line (first line: ${JSON.stringify(scanner.notMbox)})`, SourceCodes.MBOX_FROM_LINE),
    };
    return;
  }
  for (const seg of scanner.end()) yield* onSegment(seg);
  if (pending.length === 1) {
    const s = pending[0]!;
    yield* emit({ segs: pending, merged: false }, `Content-Length says ${pendingLen} body bytes but the file ends after ${s.end - s.headerEnd}`);
  } else {
    for (const s of pending) yield* emit({ segs: [s], merged: false });
  }
}

function* toItems(o: MboxFileOptions, c: Candidate, index: number, truncated?: string): Generator<SourceItem | PseudoMessage> {
  const first = c.segs[0]!;
  const last = c.segs[c.segs.length - 1]!;
  const origin = `${o.path}@${first.start}`;
  const reject = (reason: string, code: string): SourceItem => ({ kind: 'rejected', error: new SourceError(origin, reason, code) });
  if (truncated) return yield reject(`truncated mbox: ${truncated}`, SourceCodes.MBOX_TRUNCATED);
  if (last.endsMidLine) return yield reject('truncated mbox: the file ends in the middle of a line', SourceCodes.MBOX_TRUNCATED);
  if (!first.from) return yield reject(`malformed From_ line (no sender and asctime date): ${JSON.stringify(first.fromLine.slice(0, 80))}`, SourceCodes.MBOX_FROM_LINE);
  const size = last.end - first.messageStart;
  if (size > o.maxMessageBytes || c.segs.some((s) => s.overflow)) {
    return yield reject(`message of ${size} bytes exceeds maxMessageBytes (${o.maxMessageBytes})`, SourceCodes.TOO_LARGE);
  }
  if (size <= 0) return yield reject('empty message: a From_ line with nothing after it', SourceCodes.EMPTY);
  const fields = parseHeaderFields(first.header);
  // Dovecot/UW-IMAP keep folder state in a first pseudo-message; it is not mail (Dovecot's mbox format docs).
  if (index === 0 && (headerValue(fields, 'x-imapbase') !== undefined || headerValue(fields, 'x-imap') !== undefined) && /FOLDER INTERNAL DATA/i.test(headerValue(fields, 'subject') ?? '')) {
    return yield { kind: 'pseudo' };
  }
  // A boundary needs a dated From_ line (mbox-scan.ts), so every message here has its delivery date from it.
  const date = first.from.date;
  const dateFrom: InternalDateSource = 'from-line';
  const digest = c.segs.length === 1 ? first.digest : createHash('sha1').update(c.segs.map((s) => s.digest).join(',')).digest('hex');
  const id = `mbox:${o.label}@${first.start}:${digest.slice(0, 16)}`;
  let data: Buffer | undefined;
  if (o.gzip) {
    const parts = c.segs.map((s, i) => {
      // Merged segments: keep the separator blank lines between them, they belong to the body.
      const next = c.segs[i + 1];
      const bytes = s.data!;
      const gap = next ? next.start - s.end : 0;
      return next ? Buffer.concat([bytes, Buffer.from(gap === 2 ? '\r\n' : '\n'.repeat(gap), 'latin1')]) : bytes;
    });
    data = Buffer.concat(parts).subarray(first.messageStart - first.start);
  }
  const unquote: 'mboxrd' | 'mboxo' | 'none' =
    c.merged || o.variant === 'mboxcl2' ? 'none' : o.variant === 'mboxo' || o.variant === 'mboxcl' ? 'mboxo' : 'mboxrd';
  const notes = c.merged ? [`mboxcl2: Content-Length spans ${c.segs.length - 1} unquoted From_ line(s)`] : [];
  yield {
    kind: 'message',
    message: new MboxMessage(id, o.folder, mboxFlags(fields), date, dateFrom, size, origin, mboxDeleted(fields), o.openPath ?? o.path, first.messageStart, unquote, notes, data),
  };
}
