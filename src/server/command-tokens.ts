// Tokens of an IMAP command line, as the embedded server reads them (RFC 3501 §4, §9): atoms (fetch sections
// included), quoted strings, parenthesised lists, and the literal announcement `{n}`, `{n+}` or `~{n}` (RFC 7888,
// RFC 3516) that may end a line. The reader (command-reader.ts) frames lines and literals; this file only cuts a
// line into tokens, so each can be tested apart.

export interface AtomToken { readonly kind: 'atom'; readonly value: string }
export interface StringToken { readonly kind: 'string'; readonly value: string }
export interface LiteralToken { readonly kind: 'literal'; readonly value: Buffer; readonly binary: boolean; readonly sync: boolean }
export interface ListToken { readonly kind: 'list'; readonly items: Token[] }
export type Token = AtomToken | StringToken | LiteralToken | ListToken;

/** A literal announced at the end of a line. */
export interface LiteralMarker {
  readonly size: number;
  readonly sync: boolean;
  readonly binary: boolean;
}

/** A syntax error in one line: the command is answered BAD, the stream stays in sync. */
export class LineError extends Error {}

// A literal size that cannot be a JS safe integer is garbage, not a request (ruby/net-imap#681 guards the same).
const MAX_LITERAL_DIGITS = 15;

/**
 * Tokenizes text[i..] into the open lists (`stack`: the top-level arguments, then each open parenthesis). Returns
 * the literal announced at the end of the line, if any. Throws LineError on a syntax error.
 */
export function tokenize(text: string, i: number, stack: Token[][]): LiteralMarker | null {
  const top = (): Token[] => stack[stack.length - 1]!;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20) { i++; continue; }
    if (c === 0x28 /* ( */) {
      const list: Token[] = [];
      top().push({ kind: 'list', items: list });
      stack.push(list);
      i++;
      continue;
    }
    if (c === 0x29 /* ) */) {
      if (stack.length <= 1) throw new LineError('Unexpected )');
      stack.pop();
      i++;
      continue;
    }
    if (c === 0x22 /* " */) {
      let out = '';
      let j = i + 1;
      let seg = j;
      for (;;) {
        if (j >= n) throw new LineError('Unterminated quoted string');
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c /* \ */) {
          const e = text.charCodeAt(j + 1);
          if (e !== 0x22 && e !== 0x5c) throw new LineError('Invalid escape in quoted string');
          out += text.slice(seg, j);
          seg = j + 1;
          j += 2;
          continue;
        }
        j++;
      }
      out += text.slice(seg, j);
      top().push({ kind: 'string', value: out });
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */ || (c === 0x7e /* ~ */ && text.charCodeAt(i + 1) === 0x7b)) {
      const binary = c === 0x7e;
      const m = /^\{(\d{1,15})(\+)?\}$/.exec(text.slice(binary ? i + 1 : i));
      if (!m || m[1]!.length > MAX_LITERAL_DIGITS) throw new LineError('Invalid literal');
      return { size: Number(m[1]), sync: m[2] === undefined, binary };
    }
    // Atom, including fetch sections: BODY.PEEK[HEADER.FIELDS (A B)]<0.10> is one token.
    let j = i;
    let depth = 0;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === 0x5b) depth++;
      else if (d === 0x5d) depth--;
      else if (depth <= 0 && (d === 0x20 || d === 0x28 || d === 0x29 || d === 0x22 || d === 0x7b)) break;
      else if (d < 0x20 || d === 0x7f) throw new LineError('Control character in command');
      j++;
    }
    if (depth > 0) throw new LineError('Unterminated [');
    top().push({ kind: 'atom', value: text.slice(i, j) });
    i = j;
  }
  return null;
}

export function nextSpace(text: string, from: number): number {
  const sp = text.indexOf(' ', from);
  return sp < 0 ? text.length : sp;
}

// tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 §9).
export function isValidTag(tag: string): boolean {
  if (tag.length === 0) return false;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2b || c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a || c === 0x22 || c === 0x5c) {
      return false;
    }
  }
  return true;
}
