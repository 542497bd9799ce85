import { digestId, newDigest } from '../journal/id-digest.js';

// How many times each source id has been seen in one folder. Only the first 64 bits of the id's digest are kept
// (id-digest.ts), 8 bytes a slot in an open-addressing set, where a Map of the id strings held ~100 bytes per id (a
// folder of 250 000: ~25 MB, issue 14). Repeats are rare (the same Maildir unique name in cur/ and new/), so their
// counts sit in a small Map. A collision of 64 bits (~2·10^-9 for 250 000 ids) cannot lose or duplicate a message:
// the second id would be journalled as "<id>#2", which the journal does not know, so that message would be looked up
// on the server like any the journal cannot vouch for.

const INITIAL_SLOTS = 1024;

export class IdRepeats {
  #keys = new Uint32Array(INITIAL_SLOTS * 2);
  #mask = INITIAL_SLOTS - 1;
  #count = 0;
  readonly #repeats = new Map<string, number>();
  readonly #digest = newDigest();

  /** 1 the first time `id` is seen, 2 the second, … */
  count(id: string): number {
    const d = digestId(id, this.#digest);
    // digestId never returns all-zero words 0..3; keep words 0 and 1 non-zero together too (an empty slot is 0, 0).
    const a = d[0]!;
    const b = (d[0]! | d[1]!) === 0 ? 1 : d[1]!;
    if ((this.#count + 1) * 10 > (this.#mask + 1) * 7) this.#grow();
    let i = a & this.#mask;
    for (;;) {
      const ka = this.#keys[i * 2]!;
      const kb = this.#keys[i * 2 + 1]!;
      if ((ka | kb) === 0) {
        this.#keys[i * 2] = a;
        this.#keys[i * 2 + 1] = b;
        this.#count++;
        return 1;
      }
      if (ka === a && kb === b) {
        const key = `${a},${b}`;
        const n = (this.#repeats.get(key) ?? 1) + 1;
        this.#repeats.set(key, n);
        return n;
      }
      i = (i + 1) & this.#mask;
    }
  }

  #grow(): void {
    const old = this.#keys;
    const slots = (this.#mask + 1) * 2;
    this.#keys = new Uint32Array(slots * 2);
    this.#mask = slots - 1;
    for (let s = 0; s < old.length; s += 2) {
      const a = old[s]!;
      const b = old[s + 1]!;
      if ((a | b) === 0) continue;
      let i = a & this.#mask;
      while ((this.#keys[i * 2]! | this.#keys[i * 2 + 1]!) !== 0) i = (i + 1) & this.#mask;
      this.#keys[i * 2] = a;
      this.#keys[i * 2 + 1] = b;
    }
  }
}
