import { toMailmigrateError } from '../core/errors.js';
import type { SourceMessage } from '../core/types.js';
import type { Journal } from '../journal/journal.js';
import type { SourceItem } from '../sources/index.js';
import type { FlagApplication } from './flag-application.js';
import type { FolderRules } from './folder-rules.js';
import type { FolderRun, FolderRuns } from './folder-runs.js';
import type { FolderTargets } from './folder-targets.js';
import { IdRepeats } from './id-repeats.js';
import type { ImportTally } from './import-tally.js';
import type { ImportOptions, Planned, RunStop } from './import-types.js';
import { type Admitted, STOP_READING } from '../sources/index.js';

/** One source walk's planning state (admitter()): several walks of one source may plan at once (folder-lanes.ts). */
interface Walk {
  planning: FolderRun | undefined;
  sourceFolder: readonly string[] | undefined;
  sourceRun: FolderRun | undefined;
  /** Ids seen in the walk's current run of messages for one folder: a repeated source id (the same Maildir unique
   *  name in cur/ and new/) is a different message and gets its own journal id. Digests, not the id strings: a
   *  folder of 250 000 messages kept ~100 bytes of heap per id in a Map (issue 14). Per walk: a folder is read by
   *  one walk, in the source's order, so its numbering is the same in every run however many walks there are. */
  idsSeen: { path: string; ids: IdRepeats };
}

/**
 * What is decided about each source message before any byte of it is read (importer.ts reads and sends what this
 * lets through): its folder's rules and target, its journal id, what the journal knows of it, and whether it is
 * skipped — excluded, deleted, --folders-only, or confirmed by the journal in a folder the server proves unchanged.
 */
export class MessagePlanner {
  private readonly planned = new WeakMap<SourceMessage, Planned>();

  constructor(
    private readonly rules: FolderRules,
    private readonly targets: FolderTargets,
    private readonly folders: FolderRuns,
    private readonly flags: FlagApplication,
    private readonly journal: Journal | undefined,
    private readonly tally: ImportTally,
    private readonly stop: RunStop,
    private readonly options: ImportOptions,
  ) {}

  private get dry(): boolean {
    return this.options.dryRun === true;
  }

  /** The plan made for a message `plan` let through; asked once (the plan is let go of then). */
  take(message: SourceMessage): Planned | undefined {
    const plan = this.planned.get(message);
    this.planned.delete(message);
    return plan;
  }

  /**
   * Before any byte is read: deleted messages are skipped; each message's folder is checked against the server
   * (once per folder); a message the journal confirms, in a folder unchanged since, is skipped without being read
   * (flag changes queued when its UID is known). One source's walk: the read-ahead asks it about each item (its
   * `admit` option) — the item to read, undefined to leave it, STOP_READING to end the walk — synchronously unless
   * the item opens a folder or needs the server: a step of the read-ahead instead of an async generator of its own,
   * which cost an iteration's promises per message (issue 14: bytes allocated per message).
   */
  admitter(): (item: SourceItem) => Admitted | Promise<Admitted> {
    // A trusted folder's confirmed messages are decided here and never reach the sending loop, which releases the
    // folders it leaves (importer.ts): so a clean re-run lets go of a trusted folder's confirmations here, when the
    // walk moves on, and holds one folder's at a time. The few messages of it still ahead in the read-ahead reload
    // it if they need the journal (Journal.release is a hint about memory, never a change of what is known).
    const walk: Walk = { planning: undefined, sourceFolder: undefined, sourceRun: undefined, idsSeen: { path: '', ids: new IdRepeats() } };
    return (item) => this.admit(item, walk);
  }

  private admit(item: SourceItem, walk: Walk): Admitted | Promise<Admitted> {
    if (item.kind !== 'message') return item;
    const m = item.message;
    const ruled = this.rules.apply(m.folder);
    if (ruled.excluded) {
      this.tally.noteExcluded(m.folder.length ? m.folder.join('/') : 'INBOX', ruled.rule);
      this.tally.skip('excluded');
      return undefined;
    }
    const mapped = this.targets.mapFolderOf(ruled.parts, ruled.explicit, m.folder);
    // The folder of the message before is settled: no await per message for it (FolderRuns.get hands the same run
    // for a path until a failed open, and this one opened).
    const planning = walk.planning;
    if (planning !== undefined && planning.path === mapped.path) return this.inRun(item, m, mapped, planning, walk);
    return this.folders.get(mapped.path).then(
      (run) => this.inRun(item, m, mapped, run, walk),
      (e: unknown) => {
        this.stop.fatal ??= toMailmigrateError(e);
        return STOP_READING;
      },
    );
  }

  private inRun(item: SourceItem, m: SourceMessage, mapped: Planned['mapped'], run: FolderRun, walk: Walk): Admitted | Promise<Admitted> {
    if (run !== walk.planning) {
      if (walk.planning?.verdict.trusted && !this.dry) this.journal?.release(walk.planning.path);
      walk.planning = run;
      // A folder absent or empty at the start is never looked up in the journal (below): nothing this run
      // confirms there needs to be held in memory for it (issue 14: a first import of a million messages).
      if (!hadMessages(run) && !this.dry) this.journal?.release(run.path);
    }
    if (m.folder !== walk.sourceFolder || run !== walk.sourceRun) {
      // Once per source folder and target, not a joined string per message.
      run.sources.add(m.folder.length ? m.folder.join('/') : '(top level)');
      walk.sourceFolder = m.folder;
      walk.sourceRun = run;
    }
    run.counts.messages++;
    if (m.deleted && !this.options.includeDeleted) {
      run.counts.deleted++;
      this.tally.skip('deleted');
      return undefined;
    }
    if (this.options.foldersOnly) return this.folderOnly(m, mapped, run);
    const id = uniqueId(walk, mapped.path, m.id);
    // What the journal knows matters only where the server held messages at the start: an absent or empty
    // folder gets every message (message-placement.ts), whatever the journal says (folder-check.ts voids it).
    const known = hadMessages(run) ? this.journal?.lookup(mapped.path, id) : undefined;
    const plan: Planned = { id, mapped, run, known };
    if (run.verdict.trusted && known?.state === 'confirmed' && (known.rawSize === undefined || known.rawSize === m.size)) {
      return this.flags.followKnown(m, plan, known).then((followed) => {
        if (followed) {
          run.counts.journal++;
          this.tally.skip('journal');
          return undefined;
        }
        this.planned.set(m, plan);
        return item;
      });
    }
    this.planned.set(m, plan);
    return item;
  }

  private async folderOnly(m: SourceMessage, mapped: Planned['mapped'], run: FolderRun): Promise<Admitted> {
    try {
      await this.targets.ensureFolder({ mapped, run });
    } catch (e) {
      run.counts.failed++;
      this.tally.progress.seen++;
      this.tally.fail(m.origin, toMailmigrateError(e));
      this.tally.report();
      return undefined;
    }
    this.tally.skip('foldersOnly');
    return undefined;
  }

}

/** The journal id of a source message: its source id, numbered from the second time the walk meets it in a folder. */
function uniqueId(walk: Walk, path: string, id: string): string {
  if (walk.idsSeen.path !== path) walk.idsSeen = { path, ids: new IdRepeats() };
  const n = walk.idsSeen.ids.count(id);
  return n === 1 ? id : `${id}#${n}`;
}

/** The folder held messages when this run first looked (STATUS): only then can a source message already be there. */
export function hadMessages(run: FolderRun): boolean {
  return run.status !== undefined && run.status.messages > 0;
}
