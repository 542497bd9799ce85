import type { WalkShare } from '../sources/index.js';

// Several folders at once (issue 16: Courier). A server that takes one connection a folder (Courier: its folder lock,
// adapt-start.ts startFolderChange) fills a folder no faster than one client and one server process take turns on
// it, however many connections the run has: 1000 messages into Courier cost our client ~1 ms and Courier ~1.4 ms each,
// one after the other. With one walk of the source the connections met only where two folders meet. Here the walk is
// split into lanes, each a walk of the same source (Source.sharedItems) that reads the folders it claims, so every
// connection has a folder of its own to fill. Measured before this existed, two imports of one folder each side by side
// against Perl's Mail::IMAPClient folder after folder into a private Courier (2000 messages, two folders): 1.8× and
// 1.95× Perl's rate, against 1.1× for one import of both (docs/adaptation.md, "Several folders at once").
//
// What must not change with the lane count, for exactly-once across runs that split differently:
// - A target folder is filled by one lane only. A folder's messages are matched against what the server holds in the
//   order they come (folder-index.ts: a later look-alike may take over an earlier one's copy), and that order must be
//   the source's. So lanes claim target folders, not source folders: two source folders that map to one target
//   (folder rules, a merge) go to the lane that claimed it first.
// - A source folder is read by one walk, in the source's order: the journal ids (message-planner.ts, a repeated
//   source id numbered in the order met) are the same whatever the lanes.
// - Every item of the source is yielded once: the first lane also yields what is nobody's message (WalkShare.strays).

/** How many lanes a source is read in: see FolderLanes. */
export function laneCount(input: {
  /** The source can share its walk (Source.sharedItems). */
  readonly shareable: boolean;
  /** Source folders, excluded ones included: no more lanes than folders. */
  readonly folders: number;
  /** --folders-at-once, when given. */
  readonly given: number | undefined;
  /** The pool's settings now: one connection a folder (Courier's signature, or a lock measured) and connections. */
  readonly connectionsPerFolder: number | undefined;
  readonly connections: number;
}): number {
  if (!input.shareable || input.folders < 2) return 1;
  // Where connections may share a folder (Dovecot, Cyrus), one walk already keeps every connection busy: MULTIAPPEND
  // batches of one folder go over all of them. Lanes are for the servers where they cannot.
  const wanted = input.given ?? (input.connectionsPerFolder === 1 ? input.connections : 1);
  return Math.max(1, Math.min(wanted, input.folders));
}

/** A lane's share of the pool: at most its part of the pool's capacity in batches (FolderLanes). */
export interface LaneGate {
  /** Takes a slot of the lane's share: undefined when taken at once, else a promise resolved once one was taken. */
  take(): Promise<void> | undefined;
  /** Gives a slot back (its batch settled, or was never submitted). */
  leave(): void;
}

/**
 * The lanes of one source: who claimed which target folder, and each lane's share of the pool. A lane holds at most
 * capacity ÷ running lanes batches in the pool (at least one): with one connection a folder, a lane holding more would
 * wait in the pool for its folder's connection while holding a slot another lane's folder could use (the pool admits
 * by count: pool-admission.ts), and the lanes would take turns instead of working side by side. When a lane ends,
 * the others share what it held.
 */
export class FolderLanes {
  readonly #owner = new Map<string, number>();
  readonly #active: number[];
  readonly #waiters: Array<Array<() => void>>;
  #running: number;

  constructor(
    readonly count: number,
    /** The key of the target folder a source folder's messages go to (or of its exclusion): what lanes claim. */
    private readonly targetOf: (folder: readonly string[]) => string,
    /** The pool's capacity in batches now (connections × depth): it changes as adaptation runs. */
    private readonly capacity: () => number,
  ) {
    this.#active = new Array<number>(count).fill(0);
    this.#waiters = Array.from({ length: count }, () => []);
    this.#running = count;
  }

  /** Lane `lane`'s walk: lane 0 also yields what is nobody's message (WalkShare.strays). */
  share(lane: number): WalkShare {
    return {
      strays: lane === 0,
      claim: (folder) => {
        const key = this.targetOf(folder);
        const owner = this.#owner.get(key);
        if (owner !== undefined) return owner === lane;
        this.#owner.set(key, lane);
        return true;
      },
    };
  }

  gate(lane: number): LaneGate {
    return {
      take: () => {
        if (this.#free(lane)) {
          this.#active[lane]!++;
          return undefined;
        }
        return new Promise<void>((r) => this.#waiters[lane]!.push(r));
      },
      leave: () => {
        this.#active[lane]!--;
        this.#wake();
      },
    };
  }

  /** A lane has submitted its last batch (called once by each): the others may use its share. */
  finished(): void {
    this.#running = Math.max(1, this.#running - 1);
    this.#wake();
  }

  #share(): number {
    return Math.max(1, Math.floor(this.capacity() / this.#running));
  }

  #free(lane: number): boolean {
    return this.#active[lane]! < this.#share();
  }

  #wake(): void {
    for (let lane = 0; lane < this.count; lane++) {
      const w = this.#waiters[lane]!;
      while (w.length > 0 && this.#free(lane)) {
        // Taken for the waiter as it is woken, or every waiter of the lane would pass the same free slot.
        this.#active[lane]!++;
        w.shift()!();
      }
    }
  }
}
