// The embedded server's own incremental IMAP command reader (RFC 3501 §2.2, §4.3, §9; RFC 7888; RFC 3516).
// Hand-written and deliberately independent of src/imap: the server exists to check our client, so it must not
// share the client's parsing bugs (design.md "Layers"). No npm package parses IMAP *commands* server-side.
//
// Input may be split at any byte. Only command-line text is scanned (short); literal bytes are never looped over
// in JS — they are sliced out with subarray (or concatenated once when they span chunks), which keeps APPEND of
// 4 KB messages cheap on the bench's hot path.
//
// Cutting a line into tokens is command-tokens.ts; this file frames lines and literals, applies the bounds and the
// session's literal policy, and assembles commands.
//
// Pull model: push(chunk) queues bytes; next() returns the next event or null when more bytes are needed. The
// session drives it, so it can stop pulling while an async step (fault delay, STARTTLS) runs.

import { isValidTag, LineError, nextSpace, type Token, tokenize } from './command-tokens.js';

/** Why a command is refused before it runs (the literal was too big, a non-sync literal was not allowed, ...). */
export interface Rejection {
  readonly status: 'NO' | 'BAD';
  readonly code?: string;
  readonly text: string;
  /** The literal must not be read at all: the session says BYE with `text` and closes (the stream cannot be
   *  resynchronized without reading it, and reading it is what the bound forbids). */
  readonly close?: boolean;
}

export interface ParsedCommand {
  readonly tag: string;
  /** Upper-case verb; UID commands are joined: 'UID FETCH'. */
  readonly verb: string;
  readonly args: Token[];
  /** Set when a non-synchronizing literal was refused: its bytes were read and dropped. */
  readonly rejection?: Rejection;
}

/** What the reader knows when a literal is announced, for the session's policy. */
export interface LiteralAnnouncement {
  readonly tag: string;
  readonly verb: string;
  readonly size: number;
  readonly sync: boolean;
  readonly binary: boolean;
  /** Tokens of the command so far (e.g. the APPEND mailbox), top level. */
  readonly args: readonly Token[];
  /** 0 for the first literal of the command. */
  readonly index: number;
  /** Bytes of this command held so far (its lines and kept literals), before this literal. */
  readonly commandBytes: number;
}

export type ReaderEvent =
  | { readonly kind: 'command'; readonly command: ParsedCommand }
  /** A synchronizing literal was announced and accepted by the policy: the session must send `+` (RFC 3501 §7.5). */
  | { readonly kind: 'continue'; readonly tag: string; readonly verb: string; readonly size: number }
  /** A synchronizing literal was refused: answer the tag; the client sends no literal, the command is over. */
  | { readonly kind: 'reject'; readonly tag: string; readonly verb: string; readonly rejection: Rejection }
  /** A line that is not a command; it was dropped. `fatal`: the stream cannot be resynchronized, close it. */
  | { readonly kind: 'bad'; readonly tag: string | undefined; readonly text: string; readonly fatal: boolean; readonly code?: string }
  /** A raw line requested with expectLine() (AUTHENTICATE's client response, RFC 3501 §6.2.2). */
  | { readonly kind: 'line'; readonly text: string };

export interface CommandReaderOptions {
  /** Longest command line (without literals); a longer one is a fatal error. Default 64 KiB. */
  maxLineBytes?: number;
  /** Most bytes one command may hold, lines and kept literals together; more is a fatal error. Default: none. */
  maxCommandBytes?: number;
  /** Most bytes of refused non-synchronizing literals one command may make us read and drop; more is a fatal
   *  error (TOOBIG). Reading costs no memory, but without a bound a refused command could stream forever. */
  maxDiscardBytes?: number;
  /** Decides on every literal as it is announced; null accepts. */
  policy?: (a: LiteralAnnouncement) => Rejection | null;
}

const LF = 0x0a;
const CR = 0x0d;
export class CommandReader {
  private maxLine: number;
  private maxCommand: number;
  private maxDiscard: number;
  private discardBytes = 0;
  private commandBytes = 0;
  private readonly policy: (a: LiteralAnnouncement) => Rejection | null;
  private readonly queue: Buffer[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  // Command being assembled across line parts and literals.
  private inCommand = false;
  private tag = '';
  private verb = '';
  private stack: Token[][] = [];
  private literalIndex = 0;
  private rejection: Rejection | undefined;
  // Literal being read.
  private litRemaining = -1;
  private litParts: Buffer[] = [];
  private litSize = 0;
  private litBinary = false;
  private litSync = false;
  private litDiscard = false;
  private wantRawLine = false;

  constructor(options: CommandReaderOptions = {}) {
    this.maxLine = options.maxLineBytes ?? 64 * 1024;
    this.maxCommand = options.maxCommandBytes ?? Infinity;
    this.maxDiscard = options.maxDiscardBytes ?? Infinity;
    this.policy = options.policy ?? (() => null);
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.queue.push(chunk);
  }

  /** Bytes held but not yet consumed. */
  get buffered(): number {
    let n = this.buf.length - this.pos;
    for (const c of this.queue) n += c.length;
    return n;
  }

  /** Changes the bounds from the next byte on (the session widens them after login). */
  setLimits(limits: { maxLineBytes: number; maxCommandBytes: number; maxDiscardBytes: number }): void {
    this.maxLine = limits.maxLineBytes;
    this.maxCommand = limits.maxCommandBytes;
    this.maxDiscard = limits.maxDiscardBytes;
  }

  /** The next line is a raw client response, not a command (SASL). */
  expectLine(): void {
    this.wantRawLine = true;
  }

  /** Drops every buffered byte and any partial command: after STARTTLS, plaintext sent ahead must not be run (RFC 3207 §4.2 analogue, CVE-2011-0411 class). */
  reset(): void {
    this.queue.length = 0;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.wantRawLine = false;
    this.endCommand();
    this.litRemaining = -1;
    this.litParts = [];
  }

  next(): ReaderEvent | null {
    for (;;) {
      if (this.litRemaining >= 0) {
        if (!this.readLiteral()) return null;
        continue;
      }
      const lf = this.findLineEnd();
      if (lf < 0) {
        if (this.buf.length - this.pos > this.maxLine) {
          this.reset();
          return { kind: 'bad', tag: undefined, text: 'Command line too long', fatal: true };
        }
        return null;
      }
      const start = this.pos;
      this.pos = lf + 1;
      if (lf === start || this.buf[lf - 1] !== CR) {
        // Bare LF: RFC 3501 §2.2 requires CRLF; Cyrus rejects it too (docs/measurements.md). The client must be fixed.
        const tag = this.inCommand ? this.tag : undefined;
        this.endCommand();
        return { kind: 'bad', tag, text: 'Line must end with CRLF', fatal: false };
      }
      const text = this.buf.toString('utf8', start, lf - 1);
      if (this.wantRawLine) {
        this.wantRawLine = false;
        return { kind: 'line', text };
      }
      const ev = this.parseLine(text);
      if (ev) return ev;
    }
  }

  // Finds the LF ending the current line, pulling queued chunks in as needed. Returns its index in this.buf.
  private findLineEnd(): number {
    let from = this.pos;
    for (;;) {
      const i = this.buf.indexOf(LF, from);
      if (i >= 0) return i;
      const chunk = this.queue.shift();
      if (!chunk) return -1;
      const rest = this.buf.length - this.pos;
      from = rest;
      // A partial line is short (bounded by maxLine), so joining it with the next chunk is cheap.
      this.buf = rest === 0 ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk], rest + chunk.length);
      this.pos = 0;
    }
  }

  // Moves literal bytes from the buffers; returns true when the literal is complete.
  private readLiteral(): boolean {
    for (;;) {
      const avail = this.buf.length - this.pos;
      if (avail > 0) {
        const take = Math.min(avail, this.litRemaining);
        if (!this.litDiscard) this.litParts.push(this.buf.subarray(this.pos, this.pos + take));
        this.pos += take;
        this.litRemaining -= take;
      }
      if (this.litRemaining === 0) break;
      const chunk = this.queue.shift();
      if (!chunk) return false;
      this.buf = chunk;
      this.pos = 0;
    }
    const parts = this.litParts;
    const value = this.litDiscard ? Buffer.alloc(0) : parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.litSize);
    this.litParts = [];
    this.litRemaining = -1;
    this.top().push({ kind: 'literal', value, binary: this.litBinary, sync: this.litSync });
    return true;
  }

  private top(): Token[] {
    return this.stack[this.stack.length - 1]!;
  }

  private endCommand(): void {
    this.inCommand = false;
    this.tag = '';
    this.verb = '';
    this.stack = [];
    this.literalIndex = 0;
    this.rejection = undefined;
    this.commandBytes = 0;
    this.discardBytes = 0;
  }

  private parseLine(text: string): ReaderEvent | null {
    let i = 0;
    // Each line of a command is held (as tokens) until the command ends, so lines count toward its size: a
    // stream of `{0+}` continuation lines would otherwise grow one command without bound.
    this.commandBytes = (this.inCommand ? this.commandBytes : 0) + text.length + 2;
    if (this.commandBytes > this.maxCommand) {
      this.reset();
      return { kind: 'bad', tag: undefined, text: 'Command too large', fatal: true };
    }
    if (!this.inCommand) {
      if (text.length === 0) return { kind: 'bad', tag: undefined, text: 'Empty command line', fatal: false };
      const sp = text.indexOf(' ');
      const tag = sp < 0 ? text : text.slice(0, sp);
      if (!isValidTag(tag)) return { kind: 'bad', tag: undefined, text: 'Invalid tag', fatal: false };
      if (sp < 0) return { kind: 'bad', tag, text: 'Missing command', fatal: false };
      i = sp + 1;
      let end = nextSpace(text, i);
      let verb = text.slice(i, end).toUpperCase();
      if (!/^[A-Z][A-Z0-9-]*$/.test(verb)) return { kind: 'bad', tag, text: 'Invalid command', fatal: false };
      if (verb === 'UID') {
        const vs = end + 1;
        end = nextSpace(text, vs);
        const sub = text.slice(vs, end).toUpperCase();
        if (!sub) return { kind: 'bad', tag, text: 'UID needs a command', fatal: false };
        verb = `UID ${sub}`;
      }
      i = end;
      this.inCommand = true;
      this.tag = tag;
      this.verb = verb;
      this.stack = [[]];
    }
    try {
      const lit = tokenize(text, i, this.stack);
      if (lit) return this.announceLiteral(lit);
    } catch (err) {
      const tag = this.tag;
      this.endCommand();
      return { kind: 'bad', tag, text: err instanceof LineError ? err.message : 'Syntax error', fatal: false };
    }
    if (this.stack.length !== 1) {
      const tag = this.tag;
      this.endCommand();
      return { kind: 'bad', tag, text: 'Unbalanced parentheses', fatal: false };
    }
    const command: ParsedCommand = this.rejection
      ? { tag: this.tag, verb: this.verb, args: this.stack[0]!, rejection: this.rejection }
      : { tag: this.tag, verb: this.verb, args: this.stack[0]! };
    this.endCommand();
    return { kind: 'command', command };
  }

  private announceLiteral(lit: { size: number; sync: boolean; binary: boolean }): ReaderEvent | null {
    const ann: LiteralAnnouncement = {
      tag: this.tag, verb: this.verb, size: lit.size, sync: lit.sync, binary: lit.binary,
      args: this.stack[0]!, index: this.literalIndex++, commandBytes: this.commandBytes,
    };
    const refusal = this.rejection ? null : this.policy(ann);
    if (refusal?.close) {
      const tag = this.tag;
      this.reset();
      return refusal.code
        ? { kind: 'bad', tag, text: refusal.text, fatal: true, code: refusal.code }
        : { kind: 'bad', tag, text: refusal.text, fatal: true };
    }
    if (lit.sync && refusal) {
      const tag = this.tag;
      const verb = this.verb;
      this.endCommand();
      return { kind: 'reject', tag, verb, rejection: refusal };
    }
    if (refusal) this.rejection = refusal;
    if (this.rejection === undefined) {
      // The safety net under the policy: a kept literal is held in memory until the command ends.
      this.commandBytes += lit.size;
      if (this.commandBytes > this.maxCommand) {
        const tag = this.tag;
        this.reset();
        return { kind: 'bad', tag, text: 'Command too large', fatal: true, code: 'TOOBIG' };
      }
    } else if (!lit.sync) {
      // Every later literal of a refused command is dropped without asking the policy: bound them together.
      this.discardBytes += lit.size;
      if (this.discardBytes > this.maxDiscard) {
        const tag = this.tag;
        this.reset();
        return { kind: 'bad', tag, text: 'Literal too large to skip', fatal: true, code: 'TOOBIG' };
      }
    }
    this.litRemaining = lit.size;
    this.litSize = lit.size;
    this.litSync = lit.sync;
    this.litBinary = lit.binary;
    // A refused non-sync literal still arrives; read past it so the stream stays in sync, keep nothing.
    this.litDiscard = this.rejection !== undefined;
    if (lit.sync) {
      // A sync literal inside a command already refused (after a non-sync one) gets no `+`: answer now.
      if (this.rejection) {
        const tag = this.tag;
        const verb = this.verb;
        const rejection = this.rejection;
        this.litRemaining = -1;
        this.endCommand();
        return { kind: 'reject', tag, verb, rejection };
      }
      return { kind: 'continue', tag: this.tag, verb: this.verb, size: lit.size };
    }
    return null;
  }
}
