import { createHash } from 'node:crypto';

// When is a message on the server the same as a message in the source? (issues 11 and 16)
// Servers legitimately change what they store: Cyrus replaces raw 8-bit header bytes with 'X' (same length, so the
// size does not show it), some servers add a header (Received, Return-Path, X-…) or normalise line endings. A look-up
// that demands identical bytes sends such messages again after every crash (1550–1600 copies of 1500 messages on
// Cyrus); one that compares only sizes merges two different messages. This decides with a fingerprint of both sides:
//   identical  — the same bytes;
//   rewritten  — the same body (line endings normalised) and every source header field present on the server (after
//                unfolding, collapsing white space and mapping every 8-bit byte to one class, 'X', as Cyrus does),
//                the server only adding fields: the server's own rewriting of *this* message;
//   different  — anything else. A body difference, a changed or missing source header is never the same message.
//
// The fingerprint (ContentPrint) is what makes this cheap to hold: a few hashes per message instead of its bytes, so
// `verify` can fingerprint the source as it streams and compare against server bodies fetched later, in batches.
// The one ambiguity it accepts on purpose: two source messages that differ *only* in which 8-bit bytes their headers
// carry are the same after Cyrus' rewriting — the server itself made them indistinguishable. Each server copy still
// matches at most one source message (folder-index.ts claims it), so neither is lost.

export type ContentMatch = 'identical' | 'rewritten' | 'different';

/** A message's content identity: exact bytes, canonical body, and each canonical header field, hashed. */
export interface ContentPrint {
  /** SHA-256 of the bytes as they are. */
  readonly exact: string;
  /** SHA-256 of the body with CRLF, CR and LF as one line ending and trailing line endings dropped. */
  readonly body: string;
  /** Hashes of the canonical header fields (headerFields below), sorted: a multiset. */
  readonly headers: readonly string[];
}

export function contentPrint(data: Buffer): ContentPrint {
  const { head, body } = split(data);
  const headers = headerFields(head).map((f) => hash(f, 16)).sort();
  return { exact: hash(data, 32), body: hash(canonicalLines(body), 32), headers };
}

export function comparePrints(source: ContentPrint, server: ContentPrint): ContentMatch {
  if (source.exact === server.exact) return 'identical';
  if (source.body !== server.body) return 'different';
  // Every source field must be on the server, as often as in the source (sorted lists: one merge walk).
  let j = 0;
  for (const f of source.headers) {
    while (j < server.headers.length && server.headers[j]! < f) j++;
    if (server.headers[j] !== f) return 'different';
    j++;
  }
  return 'rewritten';
}

export function compareContent(source: Buffer, server: Buffer): ContentMatch {
  if (source.equals(server)) return 'identical';
  return comparePrints(contentPrint(source), contentPrint(server));
}

function hash(data: Buffer | string, bytes: number): string {
  const h = createHash('sha256');
  if (typeof data === 'string') h.update(data, 'latin1');
  else h.update(data);
  return h.digest().subarray(0, bytes).toString('base64url');
}

function split(data: Buffer): { head: Buffer; body: Buffer } {
  // The header block ends at the first empty line (RFC 5322 §2.1), CRLF or bare LF.
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0x0a) continue;
    if (data[i + 1] === 0x0a) return { head: data.subarray(0, i + 1), body: data.subarray(i + 2) };
    if (data[i + 1] === 0x0d && data[i + 2] === 0x0a) return { head: data.subarray(0, i + 1), body: data.subarray(i + 3) };
  }
  return { head: data, body: Buffer.alloc(0) };
}

/** The body with CRLF, CR and LF as one line ending, and without trailing line endings at the very end. */
function canonicalLines(b: Buffer): string {
  return b.toString('latin1').replace(/\r\n?/g, '\n').replace(/\n+$/, '');
}

/** Header fields unfolded (RFC 5322 §2.2.3), name lower-cased, white-space runs collapsed, 8-bit bytes as 'X'. */
function headerFields(head: Buffer): string[] {
  const text = head.toString('latin1').replace(/[\x80-\xff]/g, 'X').replace(/\r\n?/g, '\n');
  const unfolded = text.replace(/\n[ \t]+/g, ' ');
  const out: string[] = [];
  for (const line of unfolded.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : line.trim();
    const value = colon > 0 ? line.slice(colon + 1).replace(/[ \t]+/g, ' ').trim() : '';
    out.push(`${name}:${value}`);
  }
  return out;
}
