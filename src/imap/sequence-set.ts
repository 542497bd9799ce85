// Sequence sets / uid-sets (RFC 3501 §9 sequence-set, RFC 4315 §4 uid-set): "5:7,9" <-> [5, 6, 7, 9].
// Used for APPENDUID/COPYUID answers and for UID SEARCH/FETCH during verification.

/** Largest number of values parseSequenceSet expands, so a hostile "1:4294967295" cannot exhaust memory. */
export const MAX_EXPANDED = 1_000_000;
const MAX_NZ = 4294967295; // nz-number is a 32-bit unsigned value (RFC 3501 §9)

/**
 * Expands "5:7,9" to [5, 6, 7, 9], in the order written. A range "7:5" is the same set as "5:7" (RFC 4315 §4) and
 * expands ascending. '*' is not allowed (it has no value without a mailbox). Returns undefined when the text is
 * not a valid set of nz-numbers or expands past `max` values.
 */
export function parseSequenceSet(text: string, max = MAX_EXPANDED): number[] | undefined {
  if (text.length === 0) return undefined;
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b < 1 || a > MAX_NZ || b > MAX_NZ) return undefined;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (out.length + (hi - lo + 1) > max) return undefined;
    for (let v = lo; v <= hi; v++) out.push(v);
  }
  return out;
}

/** Compresses numbers into the shortest sequence-set for sorted input: [5, 6, 7, 9] → "5:7,9". Order is kept;
 *  only ascending runs of +1 are merged. Throws RangeError on an empty list or a value that is not an nz-number. */
export function formatSequenceSet(values: readonly number[]): string {
  if (values.length === 0) throw new RangeError('empty sequence set');
  const parts: string[] = [];
  let start = values[0]!;
  let prev = start;
  check(start);
  for (let i = 1; i <= values.length; i++) {
    const v = values[i];
    if (v !== undefined) check(v);
    if (v !== undefined && v === prev + 1) {
      prev = v;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}:${prev}`);
    if (v !== undefined) start = prev = v;
  }
  return parts.join(',');
}

function check(v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > MAX_NZ) throw new RangeError(`not an nz-number: ${v}`);
}
