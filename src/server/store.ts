// Mailboxes and messages of the embedded server. The memory store is the default and the bench's: it keeps each
// message as one Buffer. MaildirStore (maildir-store.ts) extends it with files on disk.
//
// The interface is synchronous on purpose: the session's hot path (APPEND into memory at >= 20k/s) then needs no
// promise per command. The Maildir backend therefore uses synchronous fs calls; it is for demos and restarts, not
// for throughput.

export const DELIMITER = '/';

export interface StoredMessage {
  readonly uid: number;
  flags: Set<string>;
  readonly internalDate: Date;
  readonly size: number;
}

export interface Mailbox {
  /** Unicode name; INBOX is always spelled "INBOX". */
  readonly name: string;
  readonly uidValidity: number;
  uidNext: number;
  /** Ascending by uid. */
  messages: StoredMessage[];
  specialUse: string | undefined;
  /** Bumped on every expunge, so selected sessions notice them cheaply. */
  expungeVersion: number;
}

export interface NewMessage {
  readonly data: Buffer;
  readonly flags: readonly string[];
  readonly internalDate?: Date | undefined;
}

/** A refusal the session turns into `NO [code] text`. */
export class StoreError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export function normalizeMailboxName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

interface MemoryMessage extends StoredMessage {
  readonly data: Buffer;
}

export class MemoryStore {
  readonly kind: 'memory' | 'maildir' = 'memory';
  protected readonly boxes = new Map<string, Mailbox>();
  // UIDVALIDITY must change when a name is reused (RFC 3501 §2.3.1.1): one counter, seeded from the clock.
  protected nextUidValidity = Math.floor(Date.now() / 1000);
  appendedMessages = 0;

  constructor(init = true) {
    if (init) this.addBox('INBOX', undefined);
  }

  list(): Mailbox[] {
    return [...this.boxes.values()];
  }

  get(name: string): Mailbox | undefined {
    return this.boxes.get(normalizeMailboxName(name));
  }

  /** Creates a mailbox and any missing parents (RFC 3501 §6.3.3). */
  create(name: string, specialUse?: string): Mailbox {
    const norm = normalizeMailboxName(name);
    if (this.boxes.has(norm)) throw new StoreError('ALREADYEXISTS', 'Mailbox already exists');
    if (!norm || norm.split(DELIMITER).some((p) => p === '')) throw new StoreError('CANNOT', 'Invalid mailbox name');
    const parts = norm.split(DELIMITER);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(DELIMITER);
      if (!this.boxes.has(parent)) this.addBox(parent, undefined);
    }
    return this.addBox(norm, specialUse);
  }

  delete(name: string): void {
    const norm = normalizeMailboxName(name);
    if (norm === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
    const box = this.boxes.get(norm);
    if (!box) throw new StoreError('NONEXISTENT', 'Mailbox does not exist');
    this.removeBox(box);
    this.boxes.delete(norm);
    box.messages = [];
    box.expungeVersion++;
  }

  /** Stores all messages or none (MULTIAPPEND is atomic, RFC 3502 §6.3.11). Returns the new UIDs. */
  append(name: string, items: readonly NewMessage[]): number[] {
    const box = this.get(name);
    if (!box) throw new StoreError('TRYCREATE', 'Mailbox does not exist');
    const now = new Date();
    const stored = this.persist(box, items.map((it, i) => ({
      uid: box.uidNext + i,
      flags: new Set(it.flags),
      internalDate: it.internalDate ?? now,
      size: it.data.length,
      data: it.data,
    })));
    // Only after every message is persisted do UIDs become visible: a failure above leaves the box unchanged.
    for (const m of stored) box.messages.push(m);
    box.uidNext += items.length;
    this.appendedMessages += items.length;
    return stored.map((m) => m.uid);
  }

  setFlags(box: Mailbox, msg: StoredMessage, flags: Set<string>): void {
    msg.flags = flags;
  }

  /** Removes the given UIDs; returns the removed messages' 1-based positions before removal, ascending. */
  expunge(box: Mailbox, uids: ReadonlySet<number>): number[] {
    const removed: number[] = [];
    const keep: StoredMessage[] = [];
    box.messages.forEach((m, i) => {
      if (uids.has(m.uid)) removed.push(i + 1);
      else keep.push(m);
    });
    if (removed.length === 0) return removed;
    this.removeMessages(box, box.messages.filter((m) => uids.has(m.uid)));
    box.messages = keep;
    box.expungeVersion++;
    return removed;
  }

  body(_box: Mailbox, msg: StoredMessage): Buffer {
    return (msg as MemoryMessage).data;
  }

  findUid(box: Mailbox, uid: number): number {
    const a = box.messages;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const u = a[mid]!.uid;
      if (u === uid) return mid;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  protected addBox(name: string, specialUse: string | undefined, uidValidity?: number, uidNext = 1): Mailbox {
    const box: Mailbox = {
      name, uidValidity: uidValidity ?? this.nextUidValidity++, uidNext, messages: [], specialUse, expungeVersion: 0,
    };
    if (uidValidity !== undefined && uidValidity >= this.nextUidValidity) this.nextUidValidity = uidValidity + 1;
    this.boxes.set(name, box);
    this.afterCreate(box);
    return box;
  }

  // Hooks for persistent backends.
  protected afterCreate(_box: Mailbox): void {}
  protected removeBox(_box: Mailbox): void {}
  protected removeMessages(_box: Mailbox, _msgs: StoredMessage[]): void {}
  protected persist(_box: Mailbox, msgs: Array<StoredMessage & { data: Buffer }>): StoredMessage[] {
    // Copy: the reader hands out views into socket chunks; keeping one would pin the whole chunk in memory.
    return msgs.map((m) => ({ ...m, data: Buffer.from(m.data) }));
  }
}

export type Store = MemoryStore;
