import { mkdir, open, readdir, rename, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { mulberry32 } from '../core/prng.js';

// A seeded synthetic corpus for `mailmigrate bench` and the peers benchmark. Every message is a pure function of
// (seed, index): nothing is stored, so a million-message run never holds the corpus in memory, and the same seed
// gives byte-identical mail on every machine. The size mix follows the 5000-message corpus of docs/measurements.md
// (107.8 MB, median 4 KB, mean 21.5 KB, 15 messages of 1–2 MB): in every block of 1000 consecutive indexes exactly
// HUGE_PER_BLOCK messages are 1–2 MB, TAIL_PER_BLOCK carry a 20–200 KB attachment, the rest are text mail around
// 4 KB. Stratifying per block (rather than drawing a class per message) keeps those counts exact for any prefix
// that is a whole number of blocks. Lines end in CRLF and stay under 80 octets (RFC 5322 §2.1.1).

export interface CorpusOptions {
  readonly seed: number;
  /** Every message exactly this many bytes (bench --size). Omitted: the realistic mix. */
  readonly size?: number | undefined;
}

export const BLOCK = 1000;
export const HUGE_PER_BLOCK = 3; // ≈0.3 % (docs/measurements.md: 15 of 5000)
export const TAIL_PER_BLOCK = 100; // ≈10 % with a 20–200 KB attachment
export const HUGE_MIN = 1_048_576;
export const HUGE_MAX = 2_000_000;
export const TAIL_MIN = 20_000;
export const TAIL_MAX = 200_000;
/** Text mail: log-normal around a 3.9 KB median, clamped below the tail. */
const BODY_MEDIAN = 3_600;
const BODY_SIGMA = 0.8;
const BODY_MIN = 900;
const BODY_MAX = TAIL_MIN - 1;
/** Messages carry an attachment from this size on; below it they are text only. */
const ATTACH_FROM = 16_000;
/** The smallest fixed size accepted: the headers take up to ~450 bytes and the body needs a few lines. */
export const MIN_MESSAGE_SIZE = 600;

const CRLF = '\r\n';


/** murmur3's 32-bit finalizer over a few integers: independent streams per (seed, index, purpose). */
function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

type SizeClass = 0 | 1 | 2; // body, tail, huge

let classCache: { seed: number; block: number; classes: Uint8Array } | undefined;

function blockClasses(seed: number, block: number): Uint8Array {
  if (classCache && classCache.seed === seed && classCache.block === block) return classCache.classes;
  const next = mulberry32(mix(seed, block, 1));
  const idx = Array.from({ length: BLOCK }, (_, k) => k);
  const classes = new Uint8Array(BLOCK);
  // Partial Fisher–Yates: the first HUGE+TAIL slots of a seeded shuffle get the big classes.
  for (let k = 0; k < HUGE_PER_BLOCK + TAIL_PER_BLOCK; k++) {
    const j = k + (next() % (BLOCK - k));
    [idx[k], idx[j]] = [idx[j]!, idx[k]!];
    classes[idx[k]!] = k < HUGE_PER_BLOCK ? 2 : 1;
  }
  classCache = { seed, block, classes };
  return classes;
}

function sizeClass(i: number, seed: number): SizeClass {
  return blockClasses(seed, Math.floor(i / BLOCK))[i % BLOCK] as SizeClass;
}

function checkIndex(i: number): void {
  if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`message index must be a non-negative integer, got ${i}`);
}

function checkOptions(opts: CorpusOptions): void {
  if (opts.size !== undefined && (!Number.isSafeInteger(opts.size) || opts.size < MIN_MESSAGE_SIZE)) {
    throw new ConfigError('--size', `must be a whole number of bytes, at least ${MIN_MESSAGE_SIZE}`);
  }
}

/** The exact byte size of message i; cheap (no message is generated). */
export function messageSize(i: number, opts: CorpusOptions): number {
  checkIndex(i);
  checkOptions(opts);
  if (opts.size !== undefined) return opts.size;
  const next = mulberry32(mix(opts.seed, i, 2));
  const u = (next() + 0.5) / 4294967296; // (0,1)
  switch (sizeClass(i, opts.seed)) {
    case 2:
      return HUGE_MIN + Math.floor(u * (HUGE_MAX - HUGE_MIN));
    case 1:
      // 20–200 KB, leaning a little to the large end (mean ~126 KB): with the huge ones this gives the corpus
      // mean of ~21.5 KB that docs/measurements.md measured.
      return TAIL_MIN + Math.floor(u ** 0.7 * (TAIL_MAX - TAIL_MIN));
    default: {
      // Box–Muller from two uniforms: log-normal sizes, as text mail has.
      const v = (next() + 0.5) / 4294967296;
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      return Math.min(BODY_MAX, Math.max(BODY_MIN, Math.round(BODY_MEDIAN * Math.exp(BODY_SIGMA * z))));
    }
  }
}

/** Sizes of messages 0..count-1 (for progress totals and tests), without generating them. */
export function corpusSizes(count: number, opts: CorpusOptions): number[] {
  return Array.from({ length: count }, (_, i) => messageSize(i, opts));
}

const FIRST = ['Anna', 'Ben', 'Chloé', 'David', 'Emma', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara'];
const LAST = ['Andersen', 'Baker', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Haddad', 'Ivanova', 'Jensen', 'Kim', 'Lopez', 'Meyer', 'Nakamura', 'Okafor', 'Petrov', 'Rossi', 'Schmidt', 'Tanaka', 'Weber'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'corp.example'];
const TOPICS = ['quarterly report', 'meeting notes', 'travel plans', 'invoice 2041', 'project kickoff', 'server migration', 'holiday schedule', 'budget review', 'design draft', 'contract renewal', 'team lunch', 'release checklist'];
const PREFIX = ['', '', '', 'Re: ', 'Re: ', 'Fwd: '];
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you ' +
  'were her she there been one all we their has would when if so no will more about can said up what out into them ' +
  'some could time only new now other than then also two may first these like after should well people any where ' +
  'through back most over how even much before must such our here three very still between under last never know ' +
  'report meeting schedule review budget draft server mailbox folder message attachment invoice project deadline ' +
  'please thanks regards update question answer monday friday morning afternoon office team customer quarter plan ' +
  'a I information'
).split(' ');
const ATTACH = [
  ['application/pdf', 'pdf'],
  ['image/jpeg', 'jpg'],
  ['image/png', 'png'],
  ['application/msword', 'doc'],
  ['application/zip', 'zip'],
] as const;

const pick = <T>(next: () => number, xs: readonly T[]): T => xs[next() % xs.length]!;

function toAscii(s: string): string {
  return s.normalize('NFD').replace(/[^\x20-\x7e]/g, '');
}

/** RFC 5322 §3.3 date-time; "+0000" rather than the obsolete "GMT" zone. */
function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

const EPOCH_2012 = Date.UTC(2012, 0, 1);

/** The Date header of message i: spread over ~10 years in index order, minute jitter; also used for mtimes. */
export function messageDate(i: number, opts: CorpusOptions): Date {
  const jitter = mulberry32(mix(opts.seed, i, 3))() % 3_600_000;
  return new Date(EPOCH_2012 + (i % 2_000_000) * 157_000 + jitter);
}

/** Unique per (seed, index). */
export function messageId(i: number, opts: CorpusOptions): string {
  return `<${opts.seed}.${i}.${mix(opts.seed, i, 4).toString(16)}@bench.mailmigrate.invalid>`;
}

const WORDS_BY_LENGTH = new Map<number, string[]>();
for (const w of WORDS) WORDS_BY_LENGTH.set(w.length, [...(WORDS_BY_LENGTH.get(w.length) ?? []), w]);
const LONGEST_WORD = Math.max(...WORDS_BY_LENGTH.keys());

/** A line of exactly `len` (≥ 2) printable ASCII characters (no CRLF) of whole words: the last word is chosen by
 *  the length left, so exact sizes need no truncated words or padding. */
function textLine(next: () => number, len: number): string {
  let s = pick(next, WORDS);
  s = s.charAt(0).toUpperCase() + s.slice(1);
  for (;;) {
    const gap = len - s.length;
    if (gap === 0) return s;
    if (gap === 1) return s + '.';
    if (gap - 1 <= LONGEST_WORD) return s + ' ' + pick(next, WORDS_BY_LENGTH.get(gap - 1)!);
    s += ' ' + pick(next, WORDS);
  }
}

/** Text body of exactly `len` bytes (len ≥ 27), CRLF lines ≤ 74 octets, paragraphs separated by blank lines. */
function textBody(next: () => number, len: number, signature: string): string {
  const sig = `${CRLF}-- ${CRLF}${signature}${CRLF}`;
  const withSig = len > sig.length + 140;
  let rem = withSig ? len - sig.length : len;
  const lines: string[] = [];
  let inPara = 0;
  while (rem > 100) {
    if (inPara >= 4 + (next() % 4)) {
      lines.push(CRLF);
      rem -= 2;
      inPara = 0;
      continue;
    }
    const k = 30 + (next() % 43); // 30–72 characters
    lines.push(textLine(next, k) + CRLF);
    rem -= k + 2;
    inPara++;
  }
  // 27 ≤ rem ≤ 100 here (the loop stops above 100 − 74): one or two lines take it exactly.
  if (rem <= 76) lines.push(textLine(next, rem - 2) + CRLF);
  else {
    const a = Math.floor((rem - 4) / 2);
    lines.push(textLine(next, a) + CRLF, textLine(next, rem - 4 - a) + CRLF);
  }
  if (withSig) lines.push(sig);
  return lines.join('');
}

/** Bytes of base64 text for n raw bytes in 76-character CRLF lines (RFC 2045 §6.8). */
function base64Bytes(n: number): number {
  const e = 4 * Math.ceil(n / 3);
  return e + 2 * Math.ceil(e / 76);
}

function base64Lines(raw: Buffer): string {
  const b = raw.toString('base64');
  let out = '';
  for (let p = 0; p < b.length; p += 76) out += b.slice(p, p + 76) + CRLF;
  return out;
}

function randomBytes(next: () => number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n + 3);
  for (let p = 0; p < n; p += 4) buf.writeUInt32LE(next(), p);
  return buf.subarray(0, n);
}

/** Generates message i: deterministic for (i, opts), exactly messageSize(i, opts) bytes, CRLF line ends. */
export function generateMessage(i: number, opts: CorpusOptions): Buffer {
  const size = messageSize(i, opts);
  const next = mulberry32(mix(opts.seed, i, 5));
  const person = (): [string, string] => {
    const f = pick(next, FIRST);
    const l = pick(next, LAST);
    return [`${f} ${l}`, `${toAscii(f).toLowerCase()}.${l.toLowerCase()}@${pick(next, DOMAINS)}`];
  };
  const [fromName, fromAddr] = person();
  const [toName, toAddr] = person();
  const subject = `${pick(next, PREFIX)}${pick(next, TOPICS)} (#${i})`;
  const withAttachment = size >= ATTACH_FROM;
  const boundary = `=_mm_${mix(opts.seed, i, 6).toString(16)}`;
  // Non-ASCII display names are RFC 2047 encoded-words, as real clients send them.
  const display = (name: string): string => (/^[\x20-\x7e]*$/.test(name) ? `"${name}"` : `=?UTF-8?B?${Buffer.from(name).toString('base64')}?=`);
  const headers =
    `Message-ID: ${messageId(i, opts)}${CRLF}` +
    `Date: ${rfc5322Date(messageDate(i, opts))}${CRLF}` +
    `From: ${display(fromName)} <${fromAddr}>${CRLF}` +
    `To: ${display(toName)} <${toAddr}>${CRLF}` +
    `Subject: ${subject}${CRLF}` +
    `MIME-Version: 1.0${CRLF}` +
    (withAttachment
      ? `Content-Type: multipart/mixed; boundary="${boundary}"${CRLF}`
      : `Content-Type: text/plain; charset=us-ascii${CRLF}Content-Transfer-Encoding: 7bit${CRLF}`) +
    `X-Mailmigrate-Bench: seed=${opts.seed} index=${i}${CRLF}` +
    CRLF;
  const headBytes = Buffer.byteLength(headers);
  const signature = toAscii(fromName);
  if (!withAttachment) {
    if (size - headBytes < 27) throw new ConfigError('--size', `${size} bytes cannot hold message ${i}'s headers`);
    return Buffer.from(headers + textBody(next, size - headBytes, signature), 'latin1');
  }
  const [mime, ext] = pick(next, ATTACH);
  const filename = `${pick(next, TOPICS).replace(/ /g, '-')}-${i}.${ext}`;
  const textHead = `--${boundary}${CRLF}Content-Type: text/plain; charset=us-ascii${CRLF}Content-Transfer-Encoding: 7bit${CRLF}${CRLF}`;
  const attHead =
    // Parameters folded onto continuation lines (RFC 5322 §2.2.3): long file names would pass 78 octets.
    `--${boundary}${CRLF}Content-Type: ${mime};${CRLF}\tname="${filename}"${CRLF}` +
    `Content-Disposition: attachment;${CRLF}\tfilename="${filename}"${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}`;
  const close = `--${boundary}--${CRLF}`;
  const fixed = headBytes + textHead.length + attHead.length + close.length;
  const budget = size - fixed;
  // Largest attachment whose base64 leaves the text part 300–~400 bytes (then the text part absorbs the rest).
  const TEXT_MIN = 300;
  let n = Math.max(0, Math.floor(((budget - TEXT_MIN) * 3 * 76) / (4 * 78)));
  while (n > 0 && base64Bytes(n) > budget - TEXT_MIN) n--;
  const textLen = budget - base64Bytes(n);
  const text = textBody(next, textLen, signature);
  const att = base64Lines(randomBytes(next, n));
  return Buffer.from(headers + textHead + text + attHead + att + close, 'latin1');
}

export interface MaildirWriteResult {
  readonly count: number;
  readonly bytes: number;
}

/**
 * Writes messages 0..count-1 as a Maildir at `dir` (cur/new/tmp; files in cur/ with Maildir++ ",S=size" and
 * ":2,flags" info), mtimes set to each message's Date so importers that take INTERNALDATE from mtime agree.
 * For the peers benchmark, where other tools need the corpus on disk. Writes a few files at a time.
 */
export async function writeMaildir(dir: string, count: number, opts: CorpusOptions): Promise<MaildirWriteResult> {
  checkOptions(opts);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  let bytes = 0;
  const PARALLEL = 16;
  const one = async (i: number): Promise<void> => {
    const data = generateMessage(i, opts);
    const date = messageDate(i, opts);
    const r = mulberry32(mix(opts.seed, i, 7))() % 10;
    const flags = r < 6 ? 'S' : r < 8 ? 'RS' : r < 9 ? 'FS' : ''; // most archived mail is read
    const name = `${Math.floor(date.getTime() / 1000)}.M${i}P${opts.seed >>> 0}.mailmigrate-bench,S=${data.length}:2,${flags}`;
    const path = join(dir, 'cur', name);
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await utimes(path, date, date);
    bytes += data.length;
  };
  for (let i = 0; i < count; i += PARALLEL) {
    const batch: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(count, i + PARALLEL); j++) batch.push(one(j));
    await Promise.all(batch);
  }
  return { count, bytes };
}

/**
 * Deals a Maildir written by writeMaildir into a tree of `n` folders, round-robin in file-name order: message i stays
 * in INBOX (cur/) when i % n is 0, else moves to the Maildir++ folder ".F<i % n>" (zero-padded to the widest). The
 * shape bench:peers --folders and bench:chaos's lane variant import; returns each folder's name ('F1', …) in order.
 */
export async function dealIntoFolders(dir: string, n: number): Promise<string[]> {
  const width = String(n - 1).length;
  const folders = Array.from({ length: n - 1 }, (_, k) => `F${String(k + 1).padStart(width, '0')}`);
  for (const f of folders) for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, `.${f}`, sub), { recursive: true });
  const names = (await readdir(join(dir, 'cur'))).sort();
  for (let i = 0; i < names.length; i++) {
    const k = i % n;
    if (k !== 0) await rename(join(dir, 'cur', names[i]!), join(dir, `.${folders[k - 1]!}`, 'cur', names[i]!));
  }
  return folders;
}
