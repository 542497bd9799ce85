import type { Journal } from '../journal/journal.js';
import { READ_AHEAD_FOLDERS, READ_AHEAD_MESSAGES } from '../core/settings.js';
import { AFTER_CRASH_WINDOW_MS, settled } from './folder-settle.js';
import { STATUS_AHEAD_MAX_AGE_MS } from './control-adapter.js';
import { checkFolder, type FolderDistrust, type FolderStatus, type FolderVerdict, sameStatus } from './folder-check.js';
import { FolderIndex } from './folder-index.js';
import { FlagUpdates } from './flag-sync.js';
import type { ServerControl } from './server-lookup.js';
import { UidSet } from './uid-set.js';

// The migration's registry of target folders: for each folder this run sends into, what the server said at the
// start (STATUS), whether the journal may be trusted there (folder-check.ts), the bulk index built on first need,
// the UIDs this run accounted for, pending flag updates, and the per-folder counts the summary shows.


export interface FolderCounts {
  /** Source messages mapped to this folder. */
  messages: number;
  /** Appended now (in a dry run: would be appended). */
  appended: number;
  /** Skipped: the journal confirms them and the folder is unchanged since. */
  journal: number;
  /** Skipped: found on the server by reconciliation. */
  checked: number;
  /** Skipped: marked deleted in the source. */
  deleted: number;
  /** Already there, flags changed to follow the source (in a dry run: would be). */
  flagsUpdated: number;
  failed: number;
}

export interface FolderRun {
  readonly path: string;
  /** STATUS before this run sent anything; undefined when the folder did not exist. */
  readonly status: FolderStatus | undefined;
  readonly verdict: FolderVerdict;
  /** Source folder names (as the reader gave them) mapped here; more than one is a merge, reported. */
  readonly sources: Set<string>;
  /** UIDs accounted for: appended by this run or matched to a source message. */
  readonly claimed: UidSet;
  readonly counts: FolderCounts;
  /** Flag changes waiting to be sent, and which journal id each UID belongs to. */
  readonly flagUpdates: FlagUpdates;
  readonly flagTargets: Map<number, { id: string; flags: string[] }>;
  created: boolean;
  index: Promise<FolderIndex> | undefined;
}

export interface FolderReport extends FolderCounts {
  readonly target: string;
  readonly sources: string[];
  /** Did the folder exist before; was it created (or, in a dry run, would it be). */
  readonly existed: boolean;
  readonly created: boolean;
  /** The name the server refused, when this folder was created under a repaired name instead (folder-tree.ts). */
  readonly refusedName?: string;
  /** How the journal was validated: 'trusted', or why the folder was reconciled. */
  readonly check: 'trusted' | FolderDistrust;
  readonly checkDetail: string | undefined;
  /** Messages on the server before the run, and bodies fetched to settle ambiguous matches. */
  readonly serverMessages: number;
  readonly bodiesFetched: number;
}

export class FolderRuns {
  readonly #runs = new Map<string, Promise<FolderRun>>();
  readonly #settled = new Map<string, FolderRun>();
  /** Folders this run created before opening them (the tree is created first, folder-tree.ts). */
  readonly #createdFirst = new Set<string>();
  /** Repaired path → the name the server refused. */
  readonly #refused = new Map<string, string>();
  /** When this run began looking at folders: the quiet check of a folder no run vouches for counts from here. */
  readonly #startedAt = Date.now();
  /** Folders whose first look was taken ahead (expect()), and the after-window looks taken for them (#lookAfterWindow). */
  readonly #expected = new Set<string>();
  readonly #afterWindow = new Map<string, Promise<{ m: Map<string, FolderStatus | undefined>; at: number } | undefined>>();
  readonly #lookedAfterWindow = new Set<string>();
  /** The walk's order (expect()), how far #advance has looked in it, and the folders it opened that the walk has not
   *  reached yet, with the messages each held at the start (what its index holds). */
  readonly #order: string[] = [];
  #nextAhead = 0;
  readonly #openedAhead = new Map<string, number>();
  #aheadMessages = 0;
  #advancing = false;

  constructor(
    private readonly control: ServerControl,
    private readonly journal: Journal | undefined,
    private readonly recheck: boolean,
  ) {}

  /** The folder's run state, checked against the server once (one STATUS) on first use. The walk asking for a folder
   *  also opens the next ones ahead of it (#advance). */
  get(path: string): Promise<FolderRun> {
    const p = this.#runOf(path);
    const held = this.#openedAhead.get(path);
    if (held !== undefined) {
      this.#openedAhead.delete(path);
      this.#aheadMessages -= held;
    }
    this.#advance();
    return p;
  }

  #runOf(path: string): Promise<FolderRun> {
    let p = this.#runs.get(path);
    if (!p) {
      p = this.#open(path);
      // A failed STATUS (connection lost) must not poison the folder for the rest of the run.
      p.catch(() => this.#runs.delete(path));
      this.#runs.set(path, p);
    }
    return p;
  }

  /**
   * Opens the next folders of the walk (expect()) before it reaches them, one at a time, at most READ_AHEAD_FOLDERS and
   * READ_AHEAD_MESSAGES (by their STATUS) ahead: a folder to reconcile has its index read then, on the bulk reader's
   * connection, while the walk is still in the folder before — over a path one folder after the other they were the
   * walk's pace (docs/adaptation.md, "A tree of folders over a path"); now the reads of the folders opened ahead go on
   * the wire behind one another (bulk-index.ts: pipelined), one round trip for all of them.
   */
  #advance(): void {
    if (this.#advancing || this.#openedAhead.size >= READ_AHEAD_FOLDERS || this.#aheadMessages >= READ_AHEAD_MESSAGES) return;
    while (this.#nextAhead < this.#order.length && this.#runs.has(this.#order[this.#nextAhead]!)) this.#nextAhead++;
    const next = this.#order[this.#nextAhead];
    if (next === undefined) return;
    this.#advancing = true;
    this.#openedAhead.set(next, 0);
    this.#runOf(next)
      .then(
        (run) => {
          const n = run.status?.messages ?? 0;
          if (!this.#openedAhead.has(next)) return; // the walk got there first
          this.#openedAhead.set(next, n);
          this.#aheadMessages += n;
        },
        () => this.#openedAhead.delete(next), // the walk will open it again, and meet the error itself
      )
      .finally(() => {
        this.#advancing = false;
        this.#advance();
      });
  }

  /** Has this run opened (or begun opening) the folder? */
  has(path: string): boolean {
    return this.#runs.has(path);
  }

  /** The folder was created by this run before anything opened it: it is new, not an existing empty folder. */
  markCreated(path: string): void {
    this.#createdFirst.add(path);
  }

  /** `path` was created instead of `refused`, a name the server would not take. */
  noteRename(path: string, refused: string): void {
    this.#refused.set(path, refused);
  }

  async #open(path: string): Promise<FolderRun> {
    let status = await this.control.folderStatus(path);
    const createdFirst = this.#createdFirst.has(path);
    // The count alone: folderCounts() would build the folder's table of confirmations here, before the walk lets go of
    // the previous folder's (issue 14: two tables held at once in a re-run).
    const unconfirmed = this.journal?.unconfirmed(path).length ?? 0;
    // A run died here with APPENDs unanswered (kill -9, a crash): the server may still be storing them. Reading the
    // folder before it is quiet would miss them and send them again (Courier, kill -9 then an immediate re-run:
    // 601 messages for 600 sources, once in a CI run).
    if (unconfirmed > 0 && status && !createdFirst) {
      await settled(this.control, path, AFTER_CRASH_WINDOW_MS);
      status = await this.control.folderStatus(path);
    } else if (this.journal && status && status.messages > 0 && !createdFirst && !this.journal.checkpoint(path)) {
      status = await this.#quietSinceStart(path, status);
    }
    const verdict = checkFolder({
      // Created moments ago by this run: checked as the absent folder it was (nothing to trust or reconcile).
      status: createdFirst ? undefined : status,
      checkpoint: this.journal?.checkpoint(path),
      unconfirmed,
      // Without a journal (a dry run) there is nothing to trust: the server alone answers.
      recheck: this.recheck || this.journal === undefined,
    });
    const run: FolderRun = {
      path,
      status,
      verdict,
      sources: new Set(),
      claimed: new UidSet(),
      counts: { messages: 0, appended: 0, journal: 0, checked: 0, deleted: 0, flagsUpdated: 0, failed: 0 },
      flagUpdates: new FlagUpdates(),
      flagTargets: new Map(),
      created: createdFirst,
      index: undefined,
    };
    this.#settled.set(path, run);
    // A folder to reconcile is read in bulk at once, on its own connection, while the source is still being read:
    // the FETCH overlaps reading the files instead of stalling the first message that needs it.
    if (!verdict.trusted && status && status.messages > 0) this.index(run).catch(() => undefined);
    return run;
  }

  /**
   * A folder that holds mail no run of this journal vouches for (a fresh or lost journal, another machine's run) is
   * about to be read in bulk and reconciled — and a client killed a moment ago may have left the server storing into
   * it: that run's journal, which would say so, is not this one. So the folder must be unchanged from this first look
   * until AFTER_CRASH_WINDOW_MS after the run began before it is read; if it changed, the read waits until it settles.
   * (A folder first looked at late in that window is watched only for what is left of it: a killed client's server
   * finishes within seconds, so the hazard is the first folders of an immediate re-run.)
   * The window counts from the start of the run, not per folder, so a run pays it at most once (3 s), however many
   * folders it reconciles — per folder in sequence it cost a fresh re-run of 3 folders 0.9 → 9.7 s. An empty folder
   * is not waited for (every first import into INBOX would pay it): the hazard is a re-run, into folders with mail.
   * Measured without it: an immediate fresh-journal re-run after a kill -9 doubled the APPENDs the server stored
   * afterwards (test/reliability/late-store.test.ts).
   */
  async #quietSinceStart(path: string, before: FolderStatus): Promise<FolderStatus | undefined> {
    const wait = this.#startedAt + AFTER_CRASH_WINDOW_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const now = await this.#lookAfterWindow(path);
    if (sameStatus(now, before)) return now;
    await settled(this.control, path, AFTER_CRASH_WINDOW_MS);
    return this.control.folderStatus(path);
  }

  /**
   * The folder's STATUS once the quiet window is over. Where the control offers bursts (control-adapter.ts), the first
   * folder to ask takes it for every folder the walk will reach (expect()) that has not had this look yet, in one round trip
   * instead of one a folder as each is reached (50 folders through a 40 ms round trip: 2 s); each answer is used
   * once, and only within STATUS_AHEAD_MAX_AGE_MS, else the folder is asked again.
   */
  async #lookAfterWindow(path: string): Promise<FolderStatus | undefined> {
    const burst = this.control.currentStatuses;
    let look = this.#afterWindow.get(path);
    if (!look && burst && this.#expected.size > 0) {
      const paths = [path, ...[...this.#expected].filter((p) => p !== path && !this.#lookedAfterWindow.has(p) && !this.#afterWindow.has(p))];
      const taken = burst.call(this.control, paths).then(
        (m) => ({ m, at: Date.now() }),
        () => undefined,
      );
      for (const p of paths) this.#afterWindow.set(p, taken);
      look = taken;
    }
    this.#afterWindow.delete(path);
    this.#lookedAfterWindow.add(path);
    const got = look ? await look : undefined;
    if (got && got.m.has(path) && Date.now() - got.at <= STATUS_AHEAD_MAX_AGE_MS) return got.m.get(path);
    return this.control.folderStatus(path);
  }

  /** The folders the walk will reach, in its order (their first looks were taken ahead): one after-window burst covers
   *  them, and they are opened ahead of the walk (#advance). */
  expect(paths: readonly string[]): void {
    for (const p of paths) {
      if (!this.#expected.has(p)) this.#order.push(p);
      this.#expected.add(p);
    }
  }

  /**
   * What the folder held before this run, in bulk (one FETCH), built once. A folder that was absent or empty at the
   * start holds only what this run appended (all claimed), so it needs no FETCH.
   */
  index(run: FolderRun): Promise<FolderIndex> {
    if (!run.index) {
      const index = new FolderIndex(run.claimed);
      if (!run.status || run.status.messages === 0) run.index = Promise.resolve(index);
      else {
        // Not one at a time: the bulk reader has one connection (bulk-index.ts), on which the reads of the folders
        // opened ahead go behind one another — pipelined, one round trip for all — and READ_AHEAD_FOLDERS/MESSAGES
        // bound what they hold. (They once opened a connection each and ran in turn, to stay within the server's
        // per-user connection limit.)
        const read = this.control.indexFolder(run.path, (e) => index.add(e));
        run.index = read.then(() => index);
        run.index.catch(() => (run.index = undefined));
      }
    }
    return run.index;
  }

  /** Every folder this run looked at. */
  all(): FolderRun[] {
    return [...this.#settled.values()];
  }

  /** Records each folder's STATUS as a checkpoint, after a run that went through every source message. */
  async checkpoint(journal: Journal): Promise<void> {
    const runs = this.all();
    // One burst for all of them where the control offers it (one round trip instead of one a folder).
    const now = (await this.control.currentStatuses?.(runs.map((r) => r.path)).catch(() => undefined)) ?? new Map<string, FolderStatus | undefined>();
    for (const run of runs) {
      const status = now.has(run.path) ? now.get(run.path) : await this.control.folderStatus(run.path);
      if (!status) continue;
      const before = journal.checkpoint(run.path);
      if (sameStatus(before, status)) continue;
      journal.recordCheckpoint({ mailbox: run.path, ...status });
    }
  }

  async report(): Promise<FolderReport[]> {
    const out: FolderReport[] = [];
    for (const run of this.all().sort((a, b) => a.path.localeCompare(b.path))) {
      const index = run.index ? await run.index.catch(() => undefined) : undefined;
      out.push({
        target: run.path,
        sources: [...run.sources].sort(),
        existed: run.status !== undefined && !this.#createdFirst.has(run.path),
        created: run.created,
        ...(this.#refused.has(run.path) ? { refusedName: this.#refused.get(run.path)! } : {}),
        check: run.verdict.trusted ? 'trusted' : run.verdict.reason,
        checkDetail: run.verdict.trusted ? undefined : run.verdict.detail,
        serverMessages: run.status?.messages ?? 0,
        bodiesFetched: index?.fetched ?? 0,
        ...run.counts,
      });
    }
    return out;
  }
}
