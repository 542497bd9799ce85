// Small pieces of RFC 3501 syntax the server reads and writes: quoting, date-time, sequence sets, flags.
// Written here rather than imported from src/imap so the server checks the client independently (h-server brief).

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
const SYSTEM_BY_LOWER = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** Normalizes a flag's case for system flags; returns undefined for a flag a client may not set (\Recent, unknown \X). */
export function normalizeFlag(flag: string): string | undefined {
  if (flag.startsWith('\\')) return SYSTEM_BY_LOWER.get(flag.toLowerCase());
  // keyword = atom (RFC 3501 §9): no specials.
  return /^[^\s()[\]{}%*"\\\x00-\x1f\x7f]+$/.test(flag) ? flag : undefined;
}

/** A string as an IMAP quoted string, or a literal when quoting cannot carry it. */
export function quote(s: string): string {
  if (/[\r\n\x00]/.test(s) || Buffer.byteLength(s) !== s.length) return `{${Buffer.byteLength(s)}}\r\n${s}`;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A mailbox name as astring: atom when safe, else quoted. */
export function astring(s: string): string {
  return /^[A-Za-z0-9&+,./:;<=>?@^_`|~!#$'-]+$/.test(s) ? s : quote(s);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE (RFC 3501 §9), in UTC. */
export function formatDateTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `"${day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}

/** Parses the inside of an APPEND date-time; undefined when malformed. */
export function parseDateTime(s: string): Date | undefined {
  const m = /^([ \d]?\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) return undefined;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const day = Number(m[1]!.trim());
  const [h, mi, se] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (day < 1 || day > 31 || h > 23 || mi > 59 || se > 60) return undefined;
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const t = Date.UTC(Number(m[3]), month, day, h, mi, se) - offset * 60_000;
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** sequence-set (RFC 3501 §9) as ranges; `*` is `star`. Throws on bad syntax. */
export function parseSequenceSet(s: string, star: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of s.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(part);
    if (!m) throw new Error(`invalid sequence set ${JSON.stringify(s)}`);
    const a = m[1] === '*' ? star : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? star : Number(m[2]);
    if (a === 0 || b === 0) throw new Error('0 is not a valid sequence number');
    out.push(a <= b ? [a, b] : [b, a]);
  }
  return out;
}

export function inRanges(n: number, ranges: ReadonlyArray<[number, number]>): boolean {
  for (const [a, b] of ranges) if (n >= a && n <= b) return true;
  return false;
}

/** Compacts ascending numbers into a uid-set: 1,2,3,7 → "1:3,7". */
export function formatUidSet(uids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    parts.push(j === i ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
