import type { IdDigest } from './id-digest.js';

// One target mailbox's confirmed messages, in memory: an open-addressing hash table (linear probing, at most 70 %
// full, doubled when it would be fuller) keyed by the 128-bit digest of the journal id (id-digest.ts). Each slot is
// 26 bytes in four typed arrays — digest, UID, raw source size, flag list number — where a Map of strings cost
// ~0.3 KB of heap per message (docs/measurements.md, "Client memory"), and typed arrays are not traced by the
// garbage collector. What does not fit a slot (a size ≥ 4 GiB, more than 65534 distinct flag lists) goes to a small
// overflow Map, so nothing is ever rounded or dropped.

export interface ConfirmedValue {
  readonly uid: number | undefined;
  readonly rawSize: number | undefined;
  readonly flags: readonly string[];
}

const NO_FLAGS: readonly string[] = Object.freeze([]);
const UNKNOWN_SIZE = 0xffffffff;
const OVERFLOW = 0xffff;
const INITIAL_SLOTS = 256;

/** Distinct flag lists, numbered: a million confirmed messages share a handful of lists. 0 is "no flags". */
export class FlagLists {
  readonly #byKey = new Map<string, number>();
  readonly #lists: Array<readonly string[]> = [NO_FLAGS];

  /** The number of this list, registering it; ≥ OVERFLOW means "too many lists to number in a slot". */
  numberOf(flags: readonly string[] | undefined): number {
    if (!flags || flags.length === 0) return 0;
    const key = flags.join('\u0000');
    let n = this.#byKey.get(key);
    if (n === undefined) {
      n = this.#lists.length;
      this.#lists.push(Object.freeze([...flags]));
      this.#byKey.set(key, n);
    }
    return n;
  }

  list(n: number): readonly string[] {
    return this.#lists[n] ?? NO_FLAGS;
  }

  /** The shared frozen copy of a list. */
  shared(flags: readonly string[] | undefined): readonly string[] {
    return this.list(this.numberOf(flags));
  }
}

export class ConfirmedIndex {
  readonly #flagLists: FlagLists;
  #mask: number;
  #keys: Uint32Array;
  #uid: Uint32Array;
  #size: Uint32Array;
  #flags: Uint16Array;
  #count = 0;
  /** Values a slot cannot hold, by digest. */
  readonly #overflow = new Map<string, ConfirmedValue>();

  constructor(flagLists: FlagLists, slots = INITIAL_SLOTS) {
    this.#flagLists = flagLists;
    let n = INITIAL_SLOTS;
    while (n < slots) n *= 2;
    this.#mask = n - 1;
    this.#keys = new Uint32Array(n * 4);
    this.#uid = new Uint32Array(n);
    this.#size = new Uint32Array(n);
    this.#flags = new Uint16Array(n);
  }

  get size(): number {
    return this.#count;
  }

  /** Slots for `count` entries without growing (at most 70 % full): a reload sized from the records it will read
   *  skips every doubling on the way — measured 0.5–0.7 s of a 200k clean re-run's CPU, each doubling rehashing
   *  and copying every slot (docs/measurements.md, "Client memory"). */
  static slotsFor(count: number): number {
    let n = INITIAL_SLOTS;
    while (count * 10 > n * 7) n *= 2;
    return n;
  }

  /** Bytes held by the table's arrays (for benchmarks and tests of the memory bound). */
  get bytes(): number {
    return this.#keys.byteLength + this.#uid.byteLength + this.#size.byteLength + this.#flags.byteLength;
  }

  get(d: IdDigest): ConfirmedValue | undefined {
    const i = this.#find(d);
    if (i < 0) return undefined;
    const f = this.#flags[i]!;
    if (f === OVERFLOW) return this.#overflow.get(digestKey(d));
    const uid = this.#uid[i]!;
    const size = this.#size[i]!;
    return { uid: uid === 0 ? undefined : uid, rawSize: size === UNKNOWN_SIZE ? undefined : size, flags: this.#flagLists.list(f) };
  }

  has(d: IdDigest): boolean {
    return this.#find(d) >= 0;
  }

  /** Sets the value; returns true when the digest was not there before. */
  set(d: IdDigest, v: ConfirmedValue): boolean {
    if ((this.#count + 1) * 10 > (this.#mask + 1) * 7) this.#grow();
    let i = d[0]! & this.#mask;
    let added = false;
    for (;;) {
      const k = i * 4;
      if (this.#empty(k)) {
        this.#keys.set(d, k);
        this.#count++;
        added = true;
        break;
      }
      if (this.#keys[k] === d[0] && this.#keys[k + 1] === d[1] && this.#keys[k + 2] === d[2] && this.#keys[k + 3] === d[3]) break;
      i = (i + 1) & this.#mask;
    }
    // IMAP UIDs are 32-bit and never 0 (RFC 3501 §2.3.1.1): 0 stores "unknown".
    const uid = v.uid ?? 0;
    const size = v.rawSize ?? UNKNOWN_SIZE;
    const flags = this.#flagLists.numberOf(v.flags);
    if (uid > 0xffffffff || (v.rawSize !== undefined && size >= UNKNOWN_SIZE) || flags >= OVERFLOW) {
      this.#flags[i] = OVERFLOW;
      this.#overflow.set(digestKey(d), { uid: v.uid, rawSize: v.rawSize, flags: this.#flagLists.list(flags) });
    } else {
      if (this.#overflow.size) this.#overflow.delete(digestKey(d));
      this.#uid[i] = uid;
      this.#size[i] = size;
      this.#flags[i] = flags;
    }
    return added;
  }

  /** Only the flags of a digest already there; false when it is not. */
  setFlags(d: IdDigest, flags: readonly string[]): boolean {
    const v = this.get(d);
    if (!v) return false;
    this.set(d, { uid: v.uid, rawSize: v.rawSize, flags });
    return true;
  }

  /** Removes the digest; returns whether it was there. Backward-shift deletion keeps every probe run unbroken
   *  (Knuth, TAOCP vol. 3, §6.4, Algorithm R), so no tombstones accumulate. */
  delete(d: IdDigest): boolean {
    let i = this.#find(d);
    if (i < 0) return false;
    if (this.#flags[i] === OVERFLOW) this.#overflow.delete(digestKey(d));
    this.#count--;
    let j = i;
    for (;;) {
      j = (j + 1) & this.#mask;
      if (this.#empty(j * 4)) break;
      const home = this.#keys[j * 4]! & this.#mask;
      // The entry at j may move back to i only if its home slot is not cyclically within (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      this.#move(j, i);
      i = j;
    }
    this.#keys.fill(0, i * 4, i * 4 + 4);
    return true;
  }

  #find(d: IdDigest): number {
    let i = d[0]! & this.#mask;
    for (;;) {
      const k = i * 4;
      if (this.#empty(k)) return -1;
      if (this.#keys[k] === d[0] && this.#keys[k + 1] === d[1] && this.#keys[k + 2] === d[2] && this.#keys[k + 3] === d[3]) return i;
      i = (i + 1) & this.#mask;
    }
  }

  #empty(k: number): boolean {
    return (this.#keys[k]! | this.#keys[k + 1]! | this.#keys[k + 2]! | this.#keys[k + 3]!) === 0;
  }

  #move(from: number, to: number): void {
    this.#keys.copyWithin(to * 4, from * 4, from * 4 + 4);
    this.#uid[to] = this.#uid[from]!;
    this.#size[to] = this.#size[from]!;
    this.#flags[to] = this.#flags[from]!;
  }

  #grow(): void {
    const keys = this.#keys;
    const uid = this.#uid;
    const size = this.#size;
    const flags = this.#flags;
    const n = (this.#mask + 1) * 2;
    this.#mask = n - 1;
    this.#keys = new Uint32Array(n * 4);
    this.#uid = new Uint32Array(n);
    this.#size = new Uint32Array(n);
    this.#flags = new Uint16Array(n);
    for (let s = 0; s < uid.length; s++) {
      const k = s * 4;
      if ((keys[k]! | keys[k + 1]! | keys[k + 2]! | keys[k + 3]!) === 0) continue;
      let i = keys[k]! & this.#mask;
      while (!this.#empty(i * 4)) i = (i + 1) & this.#mask;
      this.#keys.set(keys.subarray(k, k + 4), i * 4);
      this.#uid[i] = uid[s]!;
      this.#size[i] = size[s]!;
      this.#flags[i] = flags[s]!;
    }
  }
}

function digestKey(d: IdDigest): string {
  return `${d[0]},${d[1]},${d[2]},${d[3]}`;
}
