import * as crypto from 'node:crypto';

// The in-memory identity of a journal id: the first 128 bits of its SHA-256. The journal keeps a million
// confirmations as fixed-width digests in typed arrays (confirmed-index.ts) instead of a Map of strings: measured
// ~0.3 KB of heap per message for the Map (docs/measurements.md, "Client memory"), 26 bytes per slot for the
// digests. 128 bits of a cryptographic hash, not a fast non-cryptographic one: ids come from file names in an
// untrusted tree, and two ids that collide would make the second message look already imported (a loss). Seed-
// independent collisions are known for MurmurHash3 (Aumasson & Bernstein, 2012); none are for SHA-256, and an
// accidental collision among 10^6 ids has probability ~10^-27. Digests never leave memory: the file keeps the ids.
//
// `crypto.hash` (Node ≥ 20.12) is the one-shot form: measured 1.1 µs per 60-character id against 4.1 µs for
// createHash().update().digest() (which allocates a Hash object each time). Its digest is read as a latin1 string
// (one character per byte), not a Buffer: 0.32 µs per id against 1.11 µs with the Buffer and readUInt32LE (Node
// 20.20, 200 000 ids of 50 characters, process.cpuUsage; docs/measurements.md, "Client memory") — a clean re-run
// digests every confirmed id twice (building the table, then looking the source's id up), and each Buffer is one
// more object for the garbage collector. Same bytes, same words: only the way they are read changes.

type OneShot = (algorithm: string, data: string, encoding: 'latin1') => string;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;

/** Words of a digest: 4 × 32 bits. Never all zero (the index uses an all-zero key for an empty slot). */
export type IdDigest = Uint32Array;

export function newDigest(): IdDigest {
  return new Uint32Array(4);
}

// The last id digested and its words: the importer digests each source id twice in a row — counting repeats of
// the id in its folder (src/migrate/id-repeats.ts), then looking it up in the journal — so a clean re-run computed
// two SHA-256 of every id for one answer. A digest is a pure function of the id: returning the kept words for the
// same string changes nothing but the cost.
let lastId: string | undefined;
const last = new Uint32Array(4);

/** Fills `out` with the digest of `id` and returns it: the first 16 bytes of SHA-256(UTF-8 of id) as little-endian
 *  32-bit words. */
export function digestId(id: string, out: IdDigest = newDigest()): IdDigest {
  if (id === lastId) {
    out.set(last);
    return out;
  }
  const s = oneShot ? oneShot('sha256', id, 'latin1') : crypto.createHash('sha256').update(id, 'utf8').digest().toString('latin1');
  out[0] = word(s, 0);
  out[1] = word(s, 4);
  out[2] = word(s, 8);
  out[3] = word(s, 12);
  // An all-zero digest (probability 2^-128) would read as an empty slot: nudge it, deterministically.
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[3] = 1;
  last.set(out);
  lastId = id;
  return out;
}

/** Bytes i..i+3 of a latin1 string as a little-endian unsigned 32-bit word. */
function word(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) >>> 0;
}
