// When is a message on the server the same as a message in the source? (issues 11 and 16)
// Servers legitimately change what they store: Cyrus replaces raw 8-bit header bytes with 'X', some servers add a
// header (Received, Return-Path, X-…) or normalise line endings. A look-up that demands identical bytes sends such
// messages again after every crash (1550–1600 copies of 1500 messages on Cyrus); one that compares only sizes merges
// two different messages. This decides with the bytes of both sides:
//   identical  — the same bytes;
//   rewritten  — the same body (line endings normalised) and every source header field present on the server (after
//                unfolding, collapsing white space and mapping 8-bit bytes as Cyrus does), the server only adding
//                fields: the server's own rewriting of *this* message;
//   different  — anything else. A body difference, a changed or missing source header is never the same message.

export type ContentMatch = 'identical' | 'rewritten' | 'different';

export function compareContent(source: Buffer, server: Buffer): ContentMatch {
  if (source.equals(server)) return 'identical';
  const a = split(source);
  const b = split(server);
  if (!sameBody(a.body, b.body)) return 'different';
  const have = new Map<string, number>();
  for (const f of headerFields(b.head)) have.set(f, (have.get(f) ?? 0) + 1);
  for (const f of headerFields(a.head)) {
    const n = have.get(f);
    if (!n) return 'different';
    have.set(f, n - 1);
  }
  return 'rewritten';
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

/** Bodies compare with CRLF, CR and LF as one line ending, and without trailing line endings at the very end. */
function sameBody(a: Buffer, b: Buffer): boolean {
  return canonicalLines(a) === canonicalLines(b);
}

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
