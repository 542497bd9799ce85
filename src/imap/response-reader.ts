// Incremental IMAP server-response parser (RFC 3501 §7, RFC 9051 §7): bytes in, ResponseItem[] out.
//
// Hand-written rather than taken from imapflow/emailjs-imap-handler: those parse the whole response into a
// tree for every reply, which is more work than a tagged APPEND reply at 20k+ msg/s needs, and they do not
// report how many bytes of an incomplete response are buffered (we need that to detect a stream cut
// mid-response). Here only the framing (lines, literals) and the response head (tag/type, status, number,
// response code) are parsed; the rest of an untagged response stays text for the layer that wants it.
//
// Framing rules (decisions documented here, tested in test/imap/response-reader.test.ts):
// - A line ends at LF. CRLF is the standard; a bare LF is accepted too, because real servers and proxies emit
//   it and rejecting it buys nothing (the line content is the same). A CR anywhere else in a line is an error:
//   the grammar has no place for it, and it is what a desynchronised stream (a miscounted literal) looks like.
// - NUL is never valid outside a literal (RFC 3501 §4.3, §9 "CHAR8 ... except NUL") → ProtocolError.
// - Only an UNTAGGED response announces literals, and only with `{n}` or `~{n}` (RFC 3516) as the very last
//   bytes before the line end (RFC 3501 §4.3). `{` elsewhere (inside quoted strings, in text) is plain text.
//   Servers never send `{n+}` (RFC 7888 is client→server only), so it is not a literal header here.
// - Tagged, continuation and untagged OK/NO/BAD/BYE/PREAUTH responses carry resp-text, which has no literals,
//   so a trailing `{n}` there is text.
//
// Cost: a line is scanned by native indexOf only (LF, then NUL and CR) and never re-scanned across pushes
// (partial lines are kept as pieces, joined once when their LF arrives); literal payloads are never converted to
// strings and are kept as views into the pushed chunks (no copy when a literal arrives in one chunk).

import { ProtocolError } from '../core/errors.js';

export interface ResponseCode {
  /** Upper-case, e.g. 'APPENDUID'. */
  name: string;
  /** Raw text after the name inside [], '' if none. */
  args: string;
}

export type ResponseItem =
  | { kind: 'tagged'; tag: string; status: 'OK' | 'NO' | 'BAD'; code: ResponseCode | undefined; text: string }
  | {
      kind: 'untagged';
      /** Upper-case: 'OK','NO','BAD','BYE','PREAUTH','CAPABILITY','EXISTS','FETCH','LIST',... */
      type: string;
      /** For '* 12 EXISTS'. */
      number: number | undefined;
      /** For OK/NO/BAD/BYE/PREAUTH. */
      code: ResponseCode | undefined;
      /** Rest of the line after type (and code), literals replaced by their placeholder {n}. */
      text: string;
      /** Literal payloads in order. */
      literals: Buffer[];
      /** Exact bytes of the whole response. */
      raw: Buffer;
    }
  | { kind: 'continuation'; text: string };

export interface ResponseReaderOptions {
  /** Longest accepted line (one line of a response, CRLF included). Default 1 MiB. */
  maxLineLength?: number;
  /** Largest accepted literal. Default 256 MiB. */
  maxLiteralSize?: number;
  /** Largest accepted response (all its lines and literals), so endless `{0}` continuations cannot exhaust
   *  memory. Default 512 MiB. */
  maxResponseSize?: number;
}

/**
 * Bounds for a connection that reads whole stored messages (the control plane; the bulk index's body reads, which
 * verify uses). A line is a LIST, STATUS, SEARCH or FETCH response line: a few hundred bytes, a SEARCH by Message-ID a
 * handful of UIDs. The largest literal asked for is a whole message (BODY.PEEK[]); the sources refuse messages over
 * 64 MiB (DEFAULT_MAX_MESSAGE_BYTES), and a server may add headers, so 80 MiB leaves room.
 */
export const MESSAGE_READER_LIMITS = {
  maxLineLength: 1024 * 1024,
  maxLiteralSize: 80 * 1024 * 1024,
  maxResponseSize: 82 * 1024 * 1024,
} as const;

const DEFAULT_MAX_LINE = 1024 * 1024;
const DEFAULT_MAX_LITERAL = 256 * 1024 * 1024;
const DEFAULT_MAX_RESPONSE = 512 * 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;

// Types whose payload is resp-text (RFC 3501 §7.1: resp-cond-state, resp-cond-bye, greeting PREAUTH).
const RESP_TEXT_TYPES = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);
const RESP_TEXT_HEAD = /^\* (?:OK|NO|BAD|BYE|PREAUTH)(?: |$)/i;

export class ResponseReader {
  private readonly maxLine: number;
  private readonly maxLiteral: number;
  private readonly maxResponse: number;
  private failure: ProtocolError | undefined;

  // Incomplete line: pieces of pushed chunks (copied out only when the LF arrives).
  private linePieces: Buffer[] = [];
  private lineBytes = 0;

  // Current multi-part (untagged with literals) response, empty while idle.
  private respSegments: Buffer[] = []; // raw bytes in order: lines (with line ends) and literal payloads
  private respBytes = 0;
  private respText: string[] = []; // line contents without line ends
  private respLiterals: Buffer[] = [];

  // Literal being received.
  private literalRemaining = 0;
  private literalPieces: Buffer[] = [];
  private literalSize = 0;

  constructor(options: ResponseReaderOptions = {}) {
    this.maxLine = positive(options.maxLineLength, DEFAULT_MAX_LINE, 'maxLineLength');
    this.maxLiteral = positive(options.maxLiteralSize, DEFAULT_MAX_LITERAL, 'maxLiteralSize');
    this.maxResponse = positive(options.maxResponseSize, DEFAULT_MAX_RESPONSE, 'maxResponseSize');
  }

  /** Bytes buffered of an incomplete response (0 when idle) — used to detect a stream cut mid-response. */
  get pending(): number {
    return this.lineBytes + this.respBytes + (this.literalSize - this.literalRemaining);
  }

  /** True after push() threw; every further push throws the same error. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Feed bytes as they arrive; returns every response completed by them, in order. Input may be split at any
   * byte. Throws ProtocolError on malformed input; after that the reader stays failed.
   * The returned literals and raw buffers may share memory with `chunk`: do not reuse a pushed buffer.
   */
  push(chunk: Buffer): ResponseItem[] {
    if (this.failure) throw this.failure;
    const out: ResponseItem[] = [];
    try {
      this.consume(chunk, out);
    } catch (err) {
      this.failure =
        err instanceof ProtocolError ? err : new ProtocolError(`response reader failed: ${String(err)}`);
      this.reset();
      throw this.failure;
    }
    return out;
  }

  private consume(chunk: Buffer, out: ResponseItem[]): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (this.literalRemaining > 0) {
        const take = Math.min(this.literalRemaining, len - off);
        this.literalPieces.push(chunk.subarray(off, off + take));
        this.literalRemaining -= take;
        off += take;
        if (this.literalRemaining === 0) this.finishLiteral();
        continue;
      }
      const lf = chunk.indexOf(LF, off);
      if (lf < 0) {
        const rest = len - off;
        if (this.lineBytes + rest > this.maxLine) throw this.overlong(chunk.subarray(off, off + 120));
        this.linePieces.push(chunk.subarray(off));
        this.lineBytes += rest;
        return;
      }
      const end = lf + 1;
      if (this.lineBytes + (end - off) > this.maxLine) throw this.overlong(chunk.subarray(off, off + 120));
      let line: Buffer;
      if (this.lineBytes === 0) {
        line = chunk.subarray(off, end);
      } else {
        this.linePieces.push(chunk.subarray(off, end));
        line = Buffer.concat(this.linePieces, this.lineBytes + (end - off));
        this.linePieces = [];
        this.lineBytes = 0;
      }
      off = end;
      this.onLine(line, out);
    }
  }

  private overlong(head: Buffer): ProtocolError {
    return new ProtocolError(`response line longer than ${this.maxLine} bytes`, head.toString('latin1'));
  }

  private finishLiteral(): void {
    const data =
      this.literalPieces.length === 1 ? this.literalPieces[0]! : Buffer.concat(this.literalPieces, this.literalSize);
    this.literalPieces = [];
    this.literalSize = 0;
    this.respLiterals.push(data);
    this.respSegments.push(data);
    this.respBytes += data.length;
  }

  /** One complete line (line end included). */
  private onLine(line: Buffer, out: ResponseItem[]): void {
    // Content end: before CRLF, or before a bare LF (accepted, see header comment).
    let contentEnd = line.length - 1;
    if (contentEnd > 0 && line[contentEnd - 1] === CR) contentEnd--;
    const content = line.subarray(0, contentEnd);
    if (content.indexOf(0) >= 0) throw new ProtocolError('NUL byte in response line', content.toString('latin1'));
    if (content.indexOf(CR) >= 0) throw new ProtocolError('bare CR in response line', content.toString('latin1'));
    const text = content.toString('utf8');

    const continuing = this.respSegments.length > 0;
    if (!continuing) {
      const c0 = text.charCodeAt(0);
      if (c0 !== 0x2a /* '*' */) {
        // Tagged and continuation responses are one line: resp-text has no literals.
        out.push(c0 === 0x2b /* '+' */ ? parseContinuation(text) : parseTagged(text));
        return;
      }
      if (text.length < 3 || text.charCodeAt(1) !== 0x20) throw new ProtocolError('malformed untagged response', text);
    }

    // resp-text (untagged OK/NO/BAD/BYE/PREAUTH) has no literals in the grammar, so a trailing "{5}" in such a
    // line is text; only checked when a literal header is present (rare) to keep the common path cheap.
    let literal = trailingLiteral(text);
    if (literal !== undefined && !continuing && RESP_TEXT_HEAD.test(text)) literal = undefined;
    this.respSegments.push(line);
    this.respBytes += line.length;
    this.respText.push(text);
    if (this.respBytes + (literal ?? 0) > this.maxResponse) {
      throw new ProtocolError(`response larger than ${this.maxResponse} bytes`, this.respText[0]!);
    }
    if (literal === undefined) {
      out.push(this.finishResponse());
      return;
    }
    if (literal > this.maxLiteral) {
      throw new ProtocolError(`literal of ${literal} bytes exceeds the ${this.maxLiteral}-byte limit`, text);
    }
    this.literalSize = literal;
    this.literalRemaining = literal;
    if (literal === 0) this.finishLiteral();
  }

  private finishResponse(): ResponseItem {
    const segments = this.respSegments;
    const raw = segments.length === 1 ? segments[0]! : Buffer.concat(segments, this.respBytes);
    const joined = this.respText.length === 1 ? this.respText[0]! : this.respText.join('');
    const literals = this.respLiterals;
    this.respSegments = [];
    this.respBytes = 0;
    this.respText = [];
    this.respLiterals = [];
    return parseUntagged(joined, literals, raw);
  }

  private reset(): void {
    this.linePieces = [];
    this.lineBytes = 0;
    this.respSegments = [];
    this.respBytes = 0;
    this.respText = [];
    this.respLiterals = [];
    this.literalPieces = [];
    this.literalRemaining = 0;
    this.literalSize = 0;
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer`);
  return v;
}

// More digits than this is absurd (and could lose precision as a JS number); below it, maxLiteralSize decides.
const MAX_COUNT_DIGITS = 15;

/** The count of a `{n}` / `~{n}` at the very end of the line content, or undefined if the line has none. */
function trailingLiteral(text: string): number | undefined {
  const last = text.length - 1;
  if (last < 2 || text.charCodeAt(last) !== 0x7d /* '}' */) return undefined;
  let i = last - 1;
  while (i >= 0) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i--;
  }
  if (i === last - 1 || i < 0 || text.charCodeAt(i) !== 0x7b /* '{' */) return undefined;
  const digits = last - 1 - i;
  if (digits > MAX_COUNT_DIGITS) {
    throw new ProtocolError(`absurd literal count (${digits} digits)`, text.slice(Math.max(0, i - 40)));
  }
  return Number(text.slice(i + 1, last));
}

function parseContinuation(text: string): ResponseItem {
  // RFC 3501 §7.5: "+" SP (resp-text / base64). Some servers send a bare "+"; accept "+" with or without SP.
  return { kind: 'continuation', text: text.length > 1 && text.charCodeAt(1) === 0x20 ? text.slice(2) : text.slice(1) };
}

/** RFC 3501 §9: tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR = ATOM-CHAR / "]". */
function isTagChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false; // CTL, SP, 8-bit
  // atom-specials (minus ']' which resp-specials allows in astrings) plus '+'
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x2b;
}

function parseTagged(text: string): ResponseItem {
  let i = 0;
  while (i < text.length && isTagChar(text.charCodeAt(i))) i++;
  if (i === 0 || text.charCodeAt(i) !== 0x20) throw new ProtocolError('malformed response (not "+", "*" or a tag)', text);
  const tag = text.slice(0, i);
  const sp = text.indexOf(' ', i + 1);
  const word = (sp < 0 ? text.slice(i + 1) : text.slice(i + 1, sp)).toUpperCase();
  if (word !== 'OK' && word !== 'NO' && word !== 'BAD') {
    throw new ProtocolError('tagged response status is not OK, NO or BAD', text);
  }
  const { code, text: rest } = parseRespText(sp < 0 ? '' : text.slice(sp + 1));
  return { kind: 'tagged', tag, status: word, code, text: rest };
}

function parseUntagged(text: string, literals: Buffer[], raw: Buffer): ResponseItem {
  // text starts with "* " (checked by the caller).
  let i = 2;
  let number: number | undefined;
  let c = text.charCodeAt(i);
  if (c >= 0x30 && c <= 0x39) {
    const start = i;
    while (i < text.length && (c = text.charCodeAt(i)) >= 0x30 && c <= 0x39) i++;
    if (i - start > 10 || text.charCodeAt(i) !== 0x20) {
      throw new ProtocolError('malformed numbered untagged response', text);
    }
    number = Number(text.slice(start, i));
    i++;
  }
  const sp = text.indexOf(' ', i);
  const type = (sp < 0 ? text.slice(i) : text.slice(i, sp)).toUpperCase();
  if (!/^[A-Z][A-Z0-9._-]*$/.test(type)) throw new ProtocolError('malformed untagged response type', text);
  const after = sp < 0 ? '' : text.slice(sp + 1);
  if (number === undefined && RESP_TEXT_TYPES.has(type)) {
    const rt = parseRespText(after);
    return { kind: 'untagged', type, number, code: rt.code, text: rt.text, literals, raw };
  }
  return { kind: 'untagged', type, number, code: undefined, text: after, literals, raw };
}

/**
 * resp-text = ["[" resp-text-code "]" SP] text (RFC 3501 §9). Lenient: a '[' without a closing ']' is text,
 * and the SP after ']' may be missing. Quoted strings inside the code may contain ']'.
 */
function parseRespText(s: string): { code: ResponseCode | undefined; text: string } {
  if (s.charCodeAt(0) !== 0x5b /* '[' */) return { code: undefined, text: s };
  let inQuote = false;
  let close = -1;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* '\' */) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x5d /* ']' */) {
      close = i;
      break;
    }
  }
  if (close < 0) return { code: undefined, text: s };
  const inner = s.slice(1, close);
  const sp = inner.indexOf(' ');
  const name = (sp < 0 ? inner : inner.slice(0, sp)).toUpperCase();
  if (name === '') return { code: undefined, text: s };
  const args = sp < 0 ? '' : inner.slice(sp + 1);
  const text = s.charCodeAt(close + 1) === 0x20 ? s.slice(close + 2) : s.slice(close + 1);
  return { code: { name, args }, text };
}
