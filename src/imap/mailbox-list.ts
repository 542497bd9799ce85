import { ProtocolError } from '../core/errors.js';
import type { ResponseItem } from './response-reader.js';
import { type ImapValue, parseValues } from './response-values.js';

// LIST and NAMESPACE answers read over our own transport (src/migrate/folder-survey.ts): the folder survey asks
// them right after its login, pipelined, so the first APPEND need not wait for the control plane's own login chain
// (docs/adaptation.md, "The folder list over a path").

type Untagged = Extract<ResponseItem, { kind: 'untagged' }>;

/** One `* LIST (<attributes>) <delimiter> <name>` (RFC 3501 §7.2.2); the name as it is on the wire. */
export interface ListedMailbox {
  readonly attributes: string[];
  /** NIL (a flat namespace) is ''. */
  readonly delimiter: string;
  readonly wire: string;
}

/** One personal namespace of `* NAMESPACE` (RFC 2342 §5): the prefix as listed, the delimiter ('' for NIL). */
export interface NamespaceEntry {
  readonly prefix: string;
  readonly delimiter: string;
}

/** The LIST answer, or a ProtocolError when it is not one. */
export function parseListResponse(u: Untagged): ListedMailbox {
  const v = parseValues(u.text, u.literals);
  const [attrs, delimiter, name] = v;
  if (v.length !== 3 || !Array.isArray(attrs) || Array.isArray(delimiter) || typeof name !== 'string') {
    throw new ProtocolError('malformed LIST response', u.text);
  }
  return { attributes: attrs.filter((a): a is string => typeof a === 'string'), delimiter: delimiter ?? '', wire: name };
}

/**
 * The personal namespaces of a NAMESPACE answer (the first of its three parts; other users' and shared are not
 * where an import goes). An empty array for NIL. A ProtocolError when it is not a NAMESPACE answer.
 */
export function parseNamespaceResponse(u: Untagged): NamespaceEntry[] {
  const v = parseValues(u.text, u.literals);
  if (v.length < 3) throw new ProtocolError('malformed NAMESPACE response', u.text);
  const personal = v[0];
  if (personal === null) return [];
  if (!Array.isArray(personal)) throw new ProtocolError('malformed NAMESPACE response', u.text);
  return personal.map((entry: ImapValue): NamespaceEntry => {
    // RFC 2342 §5: ("prefix" "delimiter" *extensions); the delimiter is NIL where the namespace has no hierarchy.
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || Array.isArray(entry[1]) || entry[1] === undefined) {
      throw new ProtocolError('malformed NAMESPACE entry', u.text);
    }
    return { prefix: entry[0], delimiter: entry[1] ?? '' };
  });
}
