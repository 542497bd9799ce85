import { normalizeMessageId } from '../core/message-id.js';
import { compareContent } from './content-match.js';

// What one server folder holds, for reconciliation (issue 11): built from one bulk FETCH of UID, RFC822.SIZE, FLAGS
// and the Message-ID header, then asked, source message by source message, "is this one already there?".
//
// When a source message counts as present (the README's "Migrating mailboxes" states the same rule):
//  1. Same Message-ID and same size, exactly one server message with that Message-ID, and the first source message
//     with that Message-ID in this folder → present, without fetching anything (the common case: one bulk FETCH
//     decides a whole folder). `verify` by default does not take this shortcut: it compares content (verify.ts).
//  2. Otherwise — no Message-ID, several server messages with that Message-ID, a Message-ID the source repeats, or
//     sizes that differ because the server rewrote the message — the candidates' bytes are fetched (at most MAX_FETCHED per source message) and
//     compared with the source bytes (content-match.ts): identical first, then "rewritten by the server".
// Each server message matches at most one source message ("claimed"), so two copies in the source need two copies on
// the server, and a message sent by this run (its APPENDUID claimed) is never taken for another source message.

export interface IndexedMessage {
  readonly uid: number;
  readonly size: number;
  readonly messageId?: string | undefined;
  readonly flags: readonly string[];
}

export interface IndexMatch<O = unknown> {
  readonly uid: number;
  readonly how: 'id-and-size' | 'identical' | 'rewritten';
  /** The server's flags for it, as of the bulk FETCH. */
  readonly flags: readonly string[];
  /**
   * The owner of an earlier Message-ID-and-size match that this source message took over: the server copy is this
   * message, byte for byte, and not the earlier one, which is therefore not on the server and must be sent.
   */
  readonly displaced?: O;
}

/** Asked whether the earlier source message `owner` really is `server` (the caller reads it again). */
export type OwnsCheck<O> = (owner: O, server: Buffer) => Promise<boolean>;

/** Rule-1 claims kept with their owner for a later re-check, per folder, at most: each holds a reference to a source
 *  message (~0.3 KB), and a fresh journal over a large imported folder makes every message such a claim. Past the
 *  bound, rule-1 claims are final, as they were before the re-check existed. */
export const MAX_SHORTCUT_OWNERS = 50_000;

/** Candidates fetched per source message, at most: bounds the cost of a folder full of look-alikes. */
export const MAX_FETCHED = 32;

/** What FolderIndex needs of the set of claimed UIDs (a Set<number>, or the run's compact UidSet). */
export interface UidClaims {
  has(uid: number): boolean;
  add(uid: number): unknown;
}

export class FolderIndex {
  readonly #byId = new Map<string, IndexedMessage[]>();
  readonly #withoutId = new Map<number, IndexedMessage[]>();
  readonly #claimed: UidClaims;
  /** Source Message-IDs already presented to match(): a repeat is decided by content. */
  readonly #seenIds = new Set<string>();
  /** Claims made by rule 1 without comparing bytes, by UID → the owner the caller gave (to re-check on a repeat). */
  readonly #byShortcut = new Map<number, unknown>();
  #count = 0;
  #fetched = 0;

  /** `claimed`: UIDs already accounted for, shared with the importer's record of what this run appended. */
  constructor(claimed: UidClaims = new Set<number>()) {
    this.#claimed = claimed;
  }

  add(m: IndexedMessage): void {
    this.#count++;
    const id = normalizeMessageId(m.messageId);
    if (id === undefined) push(this.#withoutId, m.size, m);
    else push(this.#byId, id, m);
  }

  /** Server messages indexed. */
  get size(): number {
    return this.#count;
  }

  /** Bodies fetched so far to settle ambiguous matches (reported: it is the cost of ambiguity). */
  get fetched(): number {
    return this.#fetched;
  }

  /** Server messages no source message matched, by UID (verify's "extra"). */
  unclaimed(): IndexedMessage[] {
    const out: IndexedMessage[] = [];
    for (const map of [this.#byId, this.#withoutId] as const) {
      for (const list of map.values()) for (const m of list) if (!this.#claimed.has(m.uid)) out.push(m);
    }
    return out.sort((a, b) => a.uid - b.uid);
  }

  /**
   * The open (unclaimed) server messages that could be this source message, same size first, at most MAX_FETCHED:
   * those with its Message-ID, or without one, those without a Message-ID of the same size.
   */
  candidates(messageId: string | undefined, size: number): IndexedMessage[] {
    const id = normalizeMessageId(messageId);
    const pool = id === undefined ? this.#withoutId.get(size) : this.#byId.get(id);
    const open = pool?.filter((m) => !this.#claimed.has(m.uid)) ?? [];
    // Same size first: a server that keeps messages unchanged settles it with the first comparison.
    return [...open.filter((m) => m.size === size), ...open.filter((m) => m.size !== size)].slice(0, MAX_FETCHED);
  }

  /** Claims a server message for a source message (verify's batched comparison decides outside match()). */
  claim(m: IndexedMessage, how: IndexMatch['how']): IndexMatch {
    return this.#take(m, how);
  }

  /** Counts a body compared outside match() (the cost of content comparison, reported). */
  countFetched(n: number): void {
    this.#fetched += n;
  }

  /**
   * Finds and claims the server copy of a source message, or resolves undefined when it is not there.
   * Message-ID and size decide alone only while that Message-ID is unique on the server *and* has not been seen in
   * the source before: a second source message with the same Message-ID (a draft saved twice, a list copy and a
   * direct copy of the same size) is compared by content, so it is never taken for the first one's server copy.
   *
   * The shortcut can still be wrong the other way: two different source messages with one Message-ID and one size,
   * and only the *second* on the server — the first took the server copy by rule 1. When the second finds no open
   * copy, the copies claimed by rule 1 for its Message-ID are compared with it; one identical to it, and not to the
   * earlier message (`owns`, which re-reads that one), passes to it, and the match names the earlier owner as
   * `displaced`: the caller sends that one. Without `owner`/`owns` the shortcut claims are final.
   */
  async match<O>(
    messageId: string | undefined,
    data: Buffer,
    fetchBody: (uid: number) => Promise<Buffer>,
    owner?: O,
    owns?: OwnsCheck<O>,
  ): Promise<IndexMatch<O> | undefined> {
    const id = normalizeMessageId(messageId);
    const repeated = id !== undefined && this.#seenIds.has(id);
    if (id !== undefined) this.#seenIds.add(id);
    const all = id === undefined ? undefined : this.#byId.get(id);
    const ordered = this.candidates(messageId, data.length);
    if (!repeated && all?.length === 1 && ordered[0]?.size === data.length) {
      const m = this.#take<O>(ordered[0], 'id-and-size');
      if (owner !== undefined && this.#byShortcut.size < MAX_SHORTCUT_OWNERS) this.#byShortcut.set(m.uid, owner);
      return m;
    }
    let rewritten: IndexedMessage | undefined;
    for (const m of ordered) {
      this.#fetched++;
      const verdict = compareContent(data, await fetchBody(m.uid));
      if (verdict === 'identical') return this.#take(m, 'identical');
      if (verdict === 'rewritten') rewritten ??= m;
    }
    if (rewritten) return this.#take(rewritten, 'rewritten');
    if (!repeated || !owns || !all) return undefined;
    for (const m of all) {
      if (!this.#byShortcut.has(m.uid)) continue;
      const earlier = this.#byShortcut.get(m.uid) as O;
      this.#fetched++;
      const body = await fetchBody(m.uid);
      if (compareContent(data, body) !== 'identical' || (await owns(earlier, body))) continue;
      this.#byShortcut.delete(m.uid);
      return { uid: m.uid, how: 'identical', flags: m.flags, displaced: earlier };
    }
    return undefined;
  }

  #take<O>(m: IndexedMessage, how: IndexMatch['how']): IndexMatch<O> {
    this.#claimed.add(m.uid);
    return { uid: m.uid, how, flags: m.flags };
  }
}

function push<K>(map: Map<K, IndexedMessage[]>, key: K, m: IndexedMessage): void {
  const list = map.get(key);
  if (list) list.push(m);
  else map.set(key, [m]);
}
