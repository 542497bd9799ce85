import { ConfirmedIndex, FlagLists } from '../journal/confirmed-index.js';
import { digestId, newDigest } from '../journal/id-digest.js';

// How many times each source id has been seen in one folder, by the id's 128-bit digest (id-digest.ts says why a
// cryptographic one) in the journal's compact table: 26 bytes a slot instead of the id string and a Map entry.
// The count lives in the table's UID field, which is otherwise unused here.

export class IdRepeats {
  readonly #table = new ConfirmedIndex(new FlagLists());
  readonly #digest = newDigest();

  /** 1 the first time `id` is seen, 2 the second, … */
  count(id: string): number {
    const d = digestId(id, this.#digest);
    const n = (this.#table.get(d)?.uid ?? 0) + 1;
    this.#table.set(d, { uid: n, rawSize: undefined, flags: [] });
    return n;
  }
}
