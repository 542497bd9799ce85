// The UIDs a run accounted for in one folder (appended by it, or matched to a source message), as sorted runs of
// consecutive numbers. A server hands out ascending UIDs to what one client appends (RFC 3501 §2.3.1.1), so a folder of
// 250 000 appended messages is a handful of runs — a Set<number> of them cost ~24 bytes of heap per message and
// was one of the things that grew with a million-message import (docs/measurements.md, "Client memory").

export class UidSet {
  /** Run i covers [#from[i], #to[i]]; runs are sorted, disjoint and never adjacent (adjacent runs are merged). */
  readonly #from: number[] = [];
  readonly #to: number[] = [];
  #size = 0;

  constructor(uids: Iterable<number> = []) {
    for (const u of uids) this.add(u);
  }

  get size(): number {
    return this.#size;
  }

  /** Runs held (for tests of the memory bound). */
  get runs(): number {
    return this.#from.length;
  }

  has(uid: number): boolean {
    const i = this.#runAtOrBefore(uid);
    return i >= 0 && uid <= this.#to[i]!;
  }

  add(uid: number): this {
    const from = this.#from;
    const to = this.#to;
    const n = from.length;
    // The common case: above every run (appends come back in order).
    if (n === 0 || uid > to[n - 1]!) {
      if (n > 0 && uid === to[n - 1]! + 1) to[n - 1] = uid;
      else {
        from.push(uid);
        to.push(uid);
      }
      this.#size++;
      return this;
    }
    const i = this.#runAtOrBefore(uid);
    if (i >= 0 && uid <= to[i]!) return this; // already there
    const joinsLeft = i >= 0 && to[i]! + 1 === uid;
    const joinsRight = i + 1 < n && from[i + 1]! - 1 === uid;
    if (joinsLeft && joinsRight) {
      to[i] = to[i + 1]!;
      from.splice(i + 1, 1);
      to.splice(i + 1, 1);
    } else if (joinsLeft) to[i] = uid;
    else if (joinsRight) from[i + 1] = uid;
    else {
      from.splice(i + 1, 0, uid);
      to.splice(i + 1, 0, uid);
    }
    this.#size++;
    return this;
  }

  /** Index of the last run starting at or below uid, -1 if none. */
  #runAtOrBefore(uid: number): number {
    let lo = 0;
    let hi = this.#from.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#from[mid]! <= uid) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
