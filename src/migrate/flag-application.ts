import { toMailmigrateError } from '../core/errors.js';
import type { SourceMessage } from '../core/types.js';
import type { Journal, JournalLookup } from '../journal/journal.js';
import { applyDelta, flagDelta, isEmptyDelta, type SyncFlagsMode } from './flag-sync.js';
import type { IndexMatch } from './folder-index.js';
import type { FolderRun, FolderRuns } from './folder-runs.js';
import type { ImportTally } from './import-tally.js';
import type { Planned, RunStop } from './import-types.js';
import type { ServerControl } from './server-lookup.js';

// Flags during an import: which flags a source message should carry (the folder's PERMANENTFLAGS decide what the
// server keeps), and how the flags of messages already on the server follow the source (--sync-flags, flag-sync.ts
// holds the rules). Changes are grouped: one UID STORE per group of messages needing the same change.

/** Flag updates sent as soon as this many wait in one folder. */
const FLAG_FLUSH = 500;

/** A folder's PERMANENTFLAGS (lower-cased) and the verdict already reached for each flag spelling. */
interface Permanent {
  readonly flags: ReadonlySet<string>;
  readonly anyKeyword: boolean;
  readonly verdicts: Map<string, boolean>;
}

export interface FlagApplicationOptions {
  readonly syncFlags: SyncFlagsMode;
  readonly includeDeleted: boolean;
  readonly dryRun: boolean;
}

export class FlagApplication {
  private readonly permanent = new Map<string, Promise<Permanent | null>>();
  /** The settled values of `permanent`, for the synchronous path of wanted(). */
  private readonly known = new Map<string, Permanent | null>();

  constructor(
    private readonly control: ServerControl,
    private readonly journal: Journal | undefined,
    private readonly folders: FolderRuns,
    private readonly tally: ImportTally,
    private readonly stop: RunStop,
    private readonly options: FlagApplicationOptions,
  ) {}

  /**
   * The flags a source message should have on the server; `count`: count the flags dropped for the report.
   * Synchronous once the folder's PERMANENTFLAGS are known (every message but the first of a folder): this runs
   * once per message, and a promise per message was measurable (docs/measurements.md, "Client CPU per message").
   */
  wanted(m: SourceMessage, path: string, count: boolean): string[] | Promise<string[]> {
    const flags = m.deleted && this.options.includeDeleted ? [...m.flags, '\\Deleted'] : m.flags;
    if (flags.length === 0) return [];
    const known = this.known.get(path);
    if (known !== undefined) return this.accepted(known, flags, count);
    return this.permanentOf(path).then((perm) => this.accepted(perm, flags, count));
  }

  /** A journal-confirmed message: its flags follow the source when its UID is known. False: look it up instead. */
  async followKnown(m: SourceMessage, plan: Planned, known: Extract<JournalLookup, { state: 'confirmed' }>): Promise<boolean> {
    const mode = this.options.syncFlags;
    if (mode === 'off') return true;
    if (!plan.run.status) return false;
    const wanted = await this.wanted(m, plan.mapped.path, false);
    const delta = flagDelta(mode, wanted, known.flags, undefined);
    if (isEmptyDelta(delta)) return true;
    if (known.uid === undefined) return false; // no UIDPLUS: find it through the folder's index
    await this.queue(plan.run, known.uid, plan.id, delta, wanted);
    return true;
  }

  /** A message found in its folder by reconciliation: confirmed in the journal, its flags made to follow. */
  async alreadyThere(m: SourceMessage, plan: Planned, found: IndexMatch): Promise<void> {
    const run = plan.run;
    this.tally.progress.skipped++;
    this.tally.skippedBy.checked++;
    run.counts.checked++;
    const wanted = await this.wanted(m, run.path, false);
    // What this tool stored last applies only if the journal's UID is this very server message.
    const last = plan.known?.state === 'confirmed' && plan.known.uid === found.uid ? plan.known.flags : undefined;
    const delta = flagDelta(this.options.syncFlags, wanted, last, found.flags);
    if (!this.options.dryRun) {
      try {
        this.journal!.recordConfirmed([{ id: plan.id, mailbox: run.path, uid: found.uid, flags: last ?? wanted }]);
      } catch (e) {
        this.stop.fatal ??= toMailmigrateError(e);
      }
    }
    if (!isEmptyDelta(delta)) await this.queue(run, found.uid, plan.id, delta, applyDelta(last ?? wanted, delta));
    this.tally.report();
  }

  /** Forgets the change queued for `uid` by a source message that turned out not to be that server message. */
  forget(run: FolderRun, uid: number): void {
    if (!run.flagUpdates.forget(uid)) return;
    run.flagTargets.delete(uid);
    run.counts.flagsUpdated--;
    this.tally.flagsUpdated--;
  }

  private async queue(run: FolderRun, uid: number, id: string, delta: ReturnType<typeof flagDelta>, after: string[]): Promise<void> {
    run.counts.flagsUpdated++;
    this.tally.flagsUpdated++;
    if (this.options.dryRun) return;
    run.flagUpdates.add(uid, delta);
    run.flagTargets.set(uid, { id, flags: after });
    if (run.flagUpdates.size >= FLAG_FLUSH) await this.flushFolder(run);
  }

  /** Sends every flag change still waiting (end of the run). */
  async flush(): Promise<void> {
    for (const run of this.folders.all()) if (run.flagUpdates.size) await this.flushFolder(run);
  }

  /** One UID STORE per group of messages needing the same change; the journal then records the new flags. */
  private async flushFolder(run: FolderRun): Promise<void> {
    for (const g of run.flagUpdates.drain()) {
      await this.control.storeFlags(run.path, g.uids, g.delta.add, g.delta.remove);
      const done = g.uids.map((uid) => {
        const t = run.flagTargets.get(uid)!;
        run.flagTargets.delete(uid);
        return { id: t.id, mailbox: run.path, flags: t.flags };
      });
      this.journal?.recordFlags(done);
    }
  }

  /** The folder's PERMANENTFLAGS, asked once per folder; null when they could not be read (then nothing is dropped). */
  private permanentOf(path: string): Promise<Permanent | null> {
    let p = this.permanent.get(path);
    if (!p) {
      p = this.control
        .permanentFlags(path)
        .then(
          (r): Permanent => ({ flags: new Set(r.flags.map((f) => f.toLowerCase())), anyKeyword: r.anyKeyword, verdicts: new Map() }),
          () => null,
        )
        .then((perm) => {
          this.known.set(path, perm);
          return perm;
        });
      this.permanent.set(path, p);
    }
    return p;
  }

  /** Drops flags the folder's PERMANENTFLAGS do not accept (RFC 3501 §7.1), counting them, instead of failing. */
  private accepted(perm: Permanent | null, flags: readonly string[], count: boolean): string[] {
    if (!perm) return [...flags];
    const out: string[] = [];
    for (const f of flags) {
      let ok = perm.verdicts.get(f);
      if (ok === undefined) {
        ok = perm.flags.has(f.toLowerCase()) || (!f.startsWith('\\') && perm.anyKeyword);
        perm.verdicts.set(f, ok);
      }
      if (ok) out.push(f);
      else if (count) this.tally.flagsDropped[f] = (this.tally.flagsDropped[f] ?? 0) + 1;
    }
    return out;
  }
}
