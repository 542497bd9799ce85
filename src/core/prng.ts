// mulberry32 (Tommy Ettinger, public domain): a tiny, fast, seeded 32-bit PRNG. For synthetic corpora, fuzzing and
// test shapes that must be the same on every run — never for anything secret. Hand-written: 8 lines, and the
// npm alternatives are either unseeded or far larger.

/** Returns a generator of uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Returns a generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
