import { ProtocolError } from '../core/errors.js';

// The values of an untagged response's text (RFC 3501 §9): atoms, quoted strings, literals, NIL and parenthesised
// lists, for the few responses read field by field over our own transport (LIST, NAMESPACE, STATUS: src/imap/
// mailbox-list.ts). Hand-written: the response reader (response-reader.ts) already splits lines and literals, and
// what is left is a ~60-line walk; the parsers in npm IMAP clients are internal to them (imapflow's is not exported).

/** An atom or a string (quoted or literal) is a string; NIL is null; a parenthesised list is an array. */
export type ImapValue = string | null | ImapValue[];

/**
 * The values of `text`, in order. `literals` are the response's literal payloads: each `{n}` (or `~{n}`, RFC 3516)
 * in the text stands for the next one (response-reader.ts keeps the placeholder where the literal was), decoded as
 * UTF-8. An atom NIL (any case) is null; a quoted "NIL" stays the string. Throws a ProtocolError on text that is not
 * a sequence of values (an unclosed list or string, a stray ")", a missing literal).
 */
export function parseValues(text: string, literals: readonly Buffer[] = []): ImapValue[] {
  let i = 0;
  let lit = 0;
  const root: ImapValue[] = [];
  const stack: ImapValue[][] = [root];
  const fail = (why: string): never => {
    throw new ProtocolError(`response values: ${why}`, text);
  };
  while (i < text.length) {
    const c = text[i]!;
    const top = stack[stack.length - 1]!;
    if (c === ' ') {
      i++;
    } else if (c === '(') {
      const list: ImapValue[] = [];
      top.push(list);
      stack.push(list);
      i++;
    } else if (c === ')') {
      if (stack.length === 1) fail('")" without "("');
      stack.pop();
      i++;
    } else if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted string');
        const q = text[i]!;
        if (q === '"') break;
        // RFC 3501 §9: quoted-specials are escaped with "\"; nothing else is.
        if (q === '\\') {
          i++;
          if (i >= text.length) fail('unterminated quoted string');
        }
        s += text[i]!;
        i++;
      }
      i++;
      top.push(s);
    } else if (/^~?\{\d+\+?\}/.test(text.slice(i, i + 20))) {
      const end = text.indexOf('}', i);
      const payload = literals[lit++];
      if (!payload) fail('literal placeholder without its literal');
      top.push(payload!.toString('utf8'));
      i = end + 1;
    } else {
      // An atom runs to a space or a bracket; "[" and "]" belong to atoms such as BODY[TEXT], "\" to flags.
      let j = i;
      while (j < text.length && text[j] !== ' ' && text[j] !== '(' && text[j] !== ')' && text[j] !== '"') j++;
      const atom = text.slice(i, j);
      top.push(atom.toUpperCase() === 'NIL' ? null : atom);
      i = j;
    }
  }
  if (stack.length !== 1) fail('unclosed "("');
  return root;
}
