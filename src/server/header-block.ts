// The header block of a stored message (RFC 5322 §2.1): where it ends and its fields, for BODY[HEADER.FIELDS]
// and SEARCH HEADER. Only the header is scanned, never the body; indexOf is native (memchr/memmem).

export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** The field's raw bytes including folded lines and the final CRLF. */
  readonly raw: Buffer;
}

/** Offset just past the blank line ending the header, or the message length if there is none. */
export function headerEnd(data: Buffer): number {
  const i = data.indexOf('\r\n\r\n');
  if (i >= 0) return i + 4;
  if (data.length >= 2 && data[0] === 0x0d && data[1] === 0x0a) return 2;
  return data.length;
}

export function headerFields(data: Buffer): HeaderField[] {
  const end = headerEnd(data);
  const out: HeaderField[] = [];
  let start = 0;
  while (start < end) {
    let lineEnd = data.indexOf(0x0a, start);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end - 1;
    // A field continues while the next line starts with SP or HTAB (folding, RFC 5322 §2.2.3).
    while (lineEnd + 1 < end && (data[lineEnd + 1] === 0x20 || data[lineEnd + 1] === 0x09)) {
      const next = data.indexOf(0x0a, lineEnd + 1);
      lineEnd = next < 0 || next >= end ? end - 1 : next;
    }
    const raw = data.subarray(start, lineEnd + 1);
    const colon = raw.indexOf(0x3a);
    if (colon > 0) out.push({ name: raw.toString('latin1', 0, colon).trim().toLowerCase(), raw });
    start = lineEnd + 1;
  }
  return out;
}

/** A field's unfolded value as text. */
export function fieldValue(f: HeaderField): string {
  const s = f.raw.toString('utf8');
  return s.slice(s.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim();
}

/** The header subset for BODY[HEADER.FIELDS (...)] / .NOT, with the terminating blank line (RFC 3501 §6.4.5). */
export function selectFields(data: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const parts = headerFields(data).filter((f) => wanted.has(f.name) !== not).map((f) => f.raw);
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
