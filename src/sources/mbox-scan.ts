// Streaming mbox scanner: cuts a byte stream into segments at From_ lines without holding the file in memory.
// A From_ line (RFC 4155) is "From " + sender + an asctime date; it starts a message when it is the first line of
// the file or follows an empty line. Requiring the date means an unquoted body line such as "From the desk of"
// (mboxo cannot quote reliably) is not taken for a boundary. Content-Length (mboxcl/mboxcl2) is applied by the
// caller, which may merge segments whose boundaries were really body lines.
import { createHash, type Hash } from 'node:crypto';
import { parseHeaderFields, parseRfc5322Date } from './headers.js';

/** Headers that are mbox bookkeeping, not part of the message (Dovecot strips the same set on read). */
export const MBOX_BOOKKEEPING_HEADERS: ReadonlySet<string> = new Set([
  'status',
  'x-status',
  'x-keywords',
  'x-uid',
  'x-imap',
  'x-imapbase',
  'content-length',
  'x-mozilla-status',
  'x-mozilla-status2',
  'x-mozilla-keys',
]);

export interface FromLine {
  readonly sender: string;
  readonly date: Date;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ASCTIME =
  /^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([a-z]{1,5}|[+-]\d{4})\s+)?(\d{4})(?:\s+([+-]\d{4}))?/i;

function zoneMinutes(z: string | undefined): number {
  if (!z || !/^[+-]\d{4}$/.test(z)) return 0;
  const sign = z[0] === '-' ? -1 : 1;
  return sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
}

/**
 * Parses a From_ line ("From sender Sat Jan  3 01:05:34 1996"). asctime has no zone: it is read as UTC unless a
 * numeric zone follows (some writers add one). Also accepts an RFC 5322 date after the sender. Returns undefined
 * when the line is not a well-formed From_ line.
 */
export function parseFromLine(line: string): FromLine | undefined {
  if (!line.startsWith('From ')) return undefined;
  const rest = line.slice(5);
  const m = /^(\S*)\s+(.*)$/.exec(rest);
  if (!m) return undefined;
  const sender = m[1]!;
  const tail = m[2]!.trim();
  const a = ASCTIME.exec(tail);
  if (a) {
    const month = MONTHS.indexOf(a[1]!.toLowerCase());
    const [day, hh, mm, ss, year] = [Number(a[2]), Number(a[3]), Number(a[4]), Number(a[5] ?? 0), Number(a[7])];
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1900) return undefined;
    const utc = Date.UTC(year, month, day, hh, mm, Math.min(ss, 59)) - zoneMinutes(a[8] ?? a[6]) * 60_000;
    return { sender, date: new Date(utc) };
  }
  const d = parseRfc5322Date(tail);
  return d ? { sender, date: d } : undefined;
}

export interface Segment {
  /** Offset of the From_ line. */
  readonly start: number;
  readonly fromLine: string;
  /** Undefined when the first line of the file starts with "From " but is not a valid From_ line. */
  readonly from: FromLine | undefined;
  /** Offset of the first byte after the From_ line (where the message proper starts). */
  readonly messageStart: number;
  /** Offset just past the empty line ending the header block; -1 when none was seen. */
  headerEnd: number;
  /** The header block bytes (capped), for flags and dates. */
  header: Buffer;
  /** Exclusive end, without the one empty line that separates it from the next From_ line. */
  end: number;
  /** True when the segment (i.e. the file) ended in the middle of a line. */
  endsMidLine: boolean;
  /**
   * sha1 over [start, end) minus the bookkeeping header fields, hex: a flag change that rewrites Status or
   * X-Keywords in place (Dovecot pads X-Keywords for that) does not change the message's identity.
   */
  digest: string;
  /** gzip sources only: the bytes [start, end), kept because they cannot be re-read by offset cheaply. */
  data: Buffer | undefined;
  /** gzip sources only: more than the buffering cap, bytes dropped. */
  overflow: boolean;
}

const MAX_HEADER_BYTES = 1024 * 1024;

interface Building {
  seg: Segment;
  hash: Hash;
  headerParts: Buffer[];
  headerLen: number;
  chunks: Buffer[] | undefined;
  chunkLen: number;
}

/** Push-style scanner: feed chunks, collect finished segments. */
export class MboxScanner {
  /** Set when the first non-empty line is not a From_ candidate: the file is not an mbox. */
  notMbox: string | undefined;
  /** Set (to the line's offset) when a line grew past maxLineBytes without an end: scanning stops there. */
  lineTooLong: number | undefined;
  #pos = 0;
  #carry: Buffer[] = [];
  #carryLen = 0;
  #cur: Building | undefined;
  #deferredBlank: { off: number; line: Buffer } | undefined;
  #prevBlank = true;
  readonly #done: Segment[] = [];

  constructor(
    /** Keep segment bytes (gzip input) up to this many bytes per segment; 0 = do not keep. */
    private readonly keepBytes: number,
    /**
     * Longest line buffered: a line with no end (a corrupt or sparse file, a gzip bomb of one byte value) would
     * otherwise be held whole in memory (8.7 MB of .gz took 3.9 GB before this bound).
     */
    private readonly maxLineBytes = Number.MAX_SAFE_INTEGER,
  ) {}

  /** Feeds a chunk; returns segments finished so far. */
  push(chunk: Buffer): Segment[] {
    if (this.notMbox !== undefined || this.lineTooLong !== undefined) return [];
    const chunkStart = this.#pos;
    this.#pos += chunk.length;
    let i = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, i)) {
      let line = chunk.subarray(i, nl + 1);
      let off = chunkStart + i;
      if (this.#carry.length) {
        // A line spanning chunks: joined once, when its end arrives (never re-concatenated per chunk).
        const carried = this.#carryLen;
        line = Buffer.concat([...this.#carry, line]);
        off -= carried;
        this.#carry = [];
        this.#carryLen = 0;
      }
      this.#line(line, off);
      i = nl + 1;
      if (this.notMbox !== undefined) return this.#take();
    }
    if (i < chunk.length) {
      if (this.#carryLen + chunk.length - i > this.maxLineBytes) {
        this.lineTooLong = chunkStart + i - this.#carryLen;
        this.#carry = [];
        this.#carryLen = 0;
        return this.#take();
      }
      this.#carry.push(Buffer.from(chunk.subarray(i))); // a copy: do not pin the whole chunk
      this.#carryLen += chunk.length - i;
    }
    return this.#take();
  }

  /** Ends the input; returns the remaining segments. */
  end(): Segment[] {
    if (this.lineTooLong !== undefined) return this.#take();
    if (this.#carry.length && this.notMbox === undefined) {
      const line = Buffer.concat(this.#carry);
      this.#carry = [];
      this.#carryLen = 0;
      this.#line(line, this.#pos - line.length);
      if (this.#cur) this.#cur.seg.endsMidLine = true;
    }
    this.#finish(this.#deferredBlank ? this.#deferredBlank.off : this.#pos);
    return this.#take();
  }

  /** Bytes of the segment being built so far (to stop decompressing a message far past any sane size). */
  get currentBytes(): number {
    return this.#cur ? this.#pos - this.#cur.seg.start : 0;
  }

  /** The segment being built (for error reports when the stream fails). */
  get current(): Segment | undefined {
    return this.#cur?.seg;
  }

  #take(): Segment[] {
    return this.#done.splice(0, this.#done.length);
  }

  #line(line: Buffer, off: number): void {
    const blank = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    const fromCandidate = line.length >= 5 && line[0] === 0x46 && line.toString('latin1', 0, 5) === 'From ';
    if (!this.#cur) {
      if (blank && line[line.length - 1] === 0x0a) return; // leading empty lines before the first From_
      if (!fromCandidate) {
        this.notMbox = line.toString('latin1', 0, Math.min(line.length, 60)).replace(/\r?\n$/, '');
        return;
      }
      this.#start(line, off);
      return;
    }
    if (fromCandidate && this.#prevBlank) {
      const text = line.toString('latin1').replace(/\r?\n$/, '');
      const from = parseFromLine(text);
      if (from) {
        this.#finish(this.#deferredBlank ? this.#deferredBlank.off : off);
        this.#start(line, off, text, from);
        return;
      }
    }
    const b = this.#cur;
    this.#flushBlank();
    let hashed = true;
    if (b.seg.headerEnd < 0) {
      if (blank) {
        b.seg.headerEnd = off + line.length;
        this.#hashHeader(b);
      } else if (b.headerLen < MAX_HEADER_BYTES) {
        b.headerParts.push(Buffer.from(line));
        b.headerLen += line.length;
        hashed = false; // hashed at the end of the header block, without the bookkeeping fields
      }
    }
    if (blank) this.#deferredBlank = { off, line };
    else this.#add(line, hashed);
    this.#prevBlank = blank;
  }

  #hashHeader(b: Building): void {
    const block = Buffer.concat(b.headerParts);
    let pos = 0;
    for (const f of parseHeaderFields(block)) {
      if (!MBOX_BOOKKEEPING_HEADERS.has(f.name)) continue;
      b.hash.update(block.subarray(pos, f.start));
      pos = f.end;
    }
    b.hash.update(block.subarray(pos));
  }

  #add(line: Buffer, hash = true): void {
    const b = this.#cur!;
    if (hash) b.hash.update(line);
    if (b.chunks) {
      b.chunkLen += line.length;
      if (b.chunkLen > this.keepBytes) {
        b.chunks = undefined;
        b.seg.overflow = true;
      } else b.chunks.push(Buffer.from(line));
    }
  }

  #flushBlank(): void {
    if (this.#deferredBlank) this.#add(this.#deferredBlank.line);
    this.#deferredBlank = undefined;
  }

  #start(line: Buffer, off: number, text?: string, from?: FromLine): void {
    const fromLine = text ?? line.toString('latin1').replace(/\r?\n$/, '');
    const seg: Segment = {
      start: off,
      fromLine,
      from: from ?? parseFromLine(fromLine),
      messageStart: off + line.length,
      headerEnd: -1,
      header: Buffer.alloc(0),
      end: -1,
      endsMidLine: false,
      digest: '',
      data: undefined,
      overflow: false,
    };
    this.#cur = { seg, hash: createHash('sha1'), headerParts: [], headerLen: 0, chunks: this.keepBytes > 0 ? [] : undefined, chunkLen: 0 };
    this.#deferredBlank = undefined;
    this.#prevBlank = false;
    this.#add(line);
  }

  #finish(end: number): void {
    const b = this.#cur;
    if (!b) return;
    this.#cur = undefined;
    this.#deferredBlank = undefined;
    const seg = b.seg;
    if (seg.headerEnd < 0) this.#hashHeader(b); // headers only, or cut short
    seg.end = end;
    seg.header = Buffer.concat(b.headerParts);
    seg.digest = b.hash.digest('hex');
    if (b.chunks) seg.data = Buffer.concat(b.chunks);
    this.#done.push(seg);
  }
}
