import { normalizeMessageId } from '../core/message-id.js';
import { compareContent } from './content-match.js';

// What one server folder holds, for reconciliation (issue 11): built from one bulk FETCH of UID, RFC822.SIZE, FLAGS
// and the Message-ID header, then asked, source message by source message, "is this one already there?".
//
// When a source message counts as present (the README's "Migrating mailboxes" states the same rule):
//  1. Same Message-ID and same size, and exactly one server message with that Message-ID not already matched
//     → present, without fetching anything (the common case: one bulk FETCH decides a whole folder).
//  2. Otherwise — no Message-ID, several server messages with that Message-ID, or sizes that differ because the
//     server rewrote the message — the candidates' bytes are fetched (at most MAX_FETCHED per source message) and
//     compared with the source bytes (content-match.ts): identical first, then "rewritten by the server".
// Each server message matches at most one source message ("claimed"), so two copies in the source need two copies on
// the server, and a message sent by this run (its APPENDUID claimed) is never taken for another source message.

export interface IndexedMessage {
  readonly uid: number;
  readonly size: number;
  readonly messageId?: string | undefined;
  readonly flags: readonly string[];
}

export interface IndexMatch {
  readonly uid: number;
  readonly how: 'id-and-size' | 'identical' | 'rewritten';
  /** The server's flags for it, as of the bulk FETCH. */
  readonly flags: readonly string[];
}

/** Candidates fetched per source message, at most: bounds the cost of a folder full of look-alikes. */
export const MAX_FETCHED = 32;

export class FolderIndex {
  readonly #byId = new Map<string, IndexedMessage[]>();
  readonly #withoutId = new Map<number, IndexedMessage[]>();
  readonly #claimed: Set<number>;
  #count = 0;
  #fetched = 0;

  /** `claimed`: UIDs already accounted for, shared with the importer's record of what this run appended. */
  constructor(claimed: Set<number> = new Set()) {
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

  /** Finds and claims the server copy of a source message, or resolves undefined when it is not there. */
  async match(messageId: string | undefined, data: Buffer, fetchBody: (uid: number) => Promise<Buffer>): Promise<IndexMatch | undefined> {
    const id = normalizeMessageId(messageId);
    const pool = id === undefined ? this.#withoutId.get(data.length) : this.#byId.get(id);
    const open = pool?.filter((m) => !this.#claimed.has(m.uid)) ?? [];
    if (open.length === 0) return undefined;
    if (id !== undefined && open.length === 1 && open[0]!.size === data.length) {
      return this.#take(open[0]!, 'id-and-size');
    }
    // Same size first: a server that keeps messages unchanged settles it with the first fetch.
    const ordered = [...open.filter((m) => m.size === data.length), ...open.filter((m) => m.size !== data.length)];
    let rewritten: IndexedMessage | undefined;
    for (const m of ordered.slice(0, MAX_FETCHED)) {
      this.#fetched++;
      const verdict = compareContent(data, await fetchBody(m.uid));
      if (verdict === 'identical') return this.#take(m, 'identical');
      if (verdict === 'rewritten') rewritten ??= m;
    }
    return rewritten ? this.#take(rewritten, 'rewritten') : undefined;
  }

  #take(m: IndexedMessage, how: IndexMatch['how']): IndexMatch {
    this.#claimed.add(m.uid);
    return { uid: m.uid, how, flags: m.flags };
  }
}

function push<K>(map: Map<K, IndexedMessage[]>, key: K, m: IndexedMessage): void {
  const list = map.get(key);
  if (list) list.push(m);
  else map.set(key, [m]);
}
