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
// createHash().update().digest() (which allocates a Hash object each time).

type OneShot = (algorithm: string, data: string, encoding: 'buffer') => Buffer;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;

/** Words of a digest: 4 × 32 bits. Never all zero (the index uses an all-zero key for an empty slot). */
export type IdDigest = Uint32Array;

export function newDigest(): IdDigest {
  return new Uint32Array(4);
}

/** Fills `out` with the digest of `id` and returns it. */
export function digestId(id: string, out: IdDigest = newDigest()): IdDigest {
  const b = oneShot ? oneShot('sha256', id, 'buffer') : crypto.createHash('sha256').update(id, 'utf8').digest();
  out[0] = b.readUInt32LE(0);
  out[1] = b.readUInt32LE(4);
  out[2] = b.readUInt32LE(8);
  out[3] = b.readUInt32LE(12);
  // An all-zero digest (probability 2^-128) would read as an empty slot: nudge it, deterministically.
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[3] = 1;
  return out;
}
