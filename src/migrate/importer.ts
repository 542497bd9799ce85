import { type Clock, systemClock } from '../core/clock.js';
import { toMailmigrateError } from '../core/errors.js';
import type { Journal } from '../journal/journal.js';
import type { ReadItem, Source, SourceFolder, SourceItem } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { Pool } from '../transport/pool.js';
import type { SyncFlagsMode } from './flag-sync.js';
import { FlagApplication } from './flag-application.js';
import { FolderLanes, type LaneGate, laneCount } from './folder-lanes.js';
import { FolderRules } from './folder-rules.js';
import { FolderRuns } from './folder-runs.js';
import { FolderTargets } from './folder-targets.js';
import type { IndexMatch } from './folder-index.js';
import { ImportTally } from './import-tally.js';
import { type ImportOptions, type ImportResult, type Planned, type Prepared, RunStop } from './import-types.js';
import { MessagePlacement, type Owner } from './message-placement.js';
import { hadMessages, MessagePlanner } from './message-planner.js';
import { SendPipeline } from './send-pipeline.js';
import { SendWindow } from './send-window.js';
import type { ServerControl } from './server-lookup.js';
import { resolveUnknownOutcomes } from './unknown-outcomes.js';

export type { Failure, ImportEvent, ImportOptions, ImportProgress, ImportResult } from './import-types.js';

// The import pipeline (issue 11: the server is the truth):
//   sources → (deleted? skip) → folder check (one STATUS per folder, journal checkpoint) → (journal-confirmed in a
//   trusted folder? skip without reading, update changed flags) → read ahead → (folder held messages before? look the
//   message up in the folder's bulk index) → folder map and flag filter → journal intent (fsync'd, group commit) →
//   MULTIAPPEND batches over the pool → journal confirmation → (run complete) folder checkpoints.
// Exactly-once rests on two rules. (1) A message's 'sent' record is durable before any byte of it goes to the server
// (mbsync does the same), so after a crash the folder is known to need reconciliation. (2) Nothing is sent into a
// folder that held messages before the run without first asking the server what it holds (one bulk FETCH), and the
// journal is believed only while the folder is provably unchanged since the journal last saw it.
//
// This file walks the sources and runs the send loop, message by message — in several walks at once where the server
// takes one connection a folder (folder-lanes.ts: each walk fills the folders it claims); the parts it delegates to:
// message-planner.ts (what is decided before a message is read: folder, journal id, skips), folder-targets.ts (folder
// rules and map, the tree and each folder created once), message-placement.ts (already on the server, or the APPEND
// that sends it), send-pipeline.ts (journal intent, MULTIAPPEND over the pool, outcomes), flag-application.ts (flags
// wanted and flag changes), unknown-outcomes.ts (look-ups after a lost reply), import-tally.ts (counts and the result).

/** Every folder of `source` (a directory walk, no message read), in the source's order. */
export async function folderList(source: Source): Promise<SourceFolder[]> {
  const out: SourceFolder[] = [];
  for await (const f of source.folders()) out.push(f);
  return out;
}

/** What one walk's send window may hold (SendWindow), shared by the lanes of a source: 32 MiB. */
const WINDOW_MAX_BYTES = 32 * 1024 * 1024;
/** What one walk may read ahead (readAhead's default), shared by the lanes of a source: 64 MiB. */
const READ_AHEAD_MAX_BYTES = 64 * 1024 * 1024;

export class Importer {
  private readonly tally: ImportTally;
  private readonly stop = new RunStop();
  private pool: Pool | undefined;
  private pipeline: SendPipeline | undefined;
  private readonly folders: FolderRuns;
  private readonly flags: FlagApplication;
  private readonly targets: FolderTargets;
  private readonly planner: MessagePlanner;
  private readonly placement: MessagePlacement;
  private readonly clock: Clock;
  private readonly syncFlags: SyncFlagsMode;
  /** The most lanes a source was read in (ImportResult.foldersAtOnce). */
  private lanesUsed = 1;

  constructor(
    private readonly control: ServerControl,
    /** Undefined only for a dry run: the server alone answers, and nothing is recorded. */
    private readonly journal: Journal | undefined,
    private readonly options: ImportOptions,
  ) {
    if (!journal && !options.dryRun) throw new Error('Importer: a journal is required unless dryRun');
    this.clock = options.clock ?? systemClock;
    const rules = options.folderRules ?? new FolderRules();
    this.syncFlags = options.syncFlags ?? 'changed';
    this.tally = new ImportTally(options.onProgress);
    // Mirroring needs every message's server flags: only a bulk FETCH of every folder has them.
    this.folders = new FolderRuns(control, options.dryRun ? undefined : journal, options.recheck === true || this.syncFlags === 'mirror');
    this.flags = new FlagApplication(control, journal, this.folders, this.tally, this.stop, {
      syncFlags: this.syncFlags,
      includeDeleted: options.includeDeleted === true,
      dryRun: this.dry,
    });
    this.targets = new FolderTargets(control, this.folders, rules, this.tally, options);
    this.planner = new MessagePlanner(rules, this.targets, this.folders, this.flags, journal, this.tally, this.stop, options);
    this.placement = new MessagePlacement(control, this.folders, this.targets, this.flags, this.tally);
  }

  private get dry(): boolean {
    return this.options.dryRun === true;
  }

  async run(sources: readonly Source[]): Promise<ImportResult> {
    const started = this.clock.now();
    const delimiter = await this.control.delimiter();
    const specialUse = new Map<string, string>();
    const listed = await this.control.listFolders();
    for (const f of listed) if (f.specialUse) specialUse.set(f.specialUse, f.path);
    const server = { delimiter, specialUse, namespacePrefix: await this.control.namespacePrefix() };
    if (!this.dry) {
      this.pool = await Pool.open({
        ...this.options.pool,
        // Ctrl-C ends backoff sleeps at once; batches not yet sent come back as E_ABORTED (send-pipeline.ts).
        signal: this.options.signal,
        // Folders that exist need no probe APPEND: their first batches pipeline like the rest (issue 13).
        knownFolders: listed.map((f) => f.path),
        onRecord: (r) => {
          this.options.onRecord?.(r);
          this.tally.noteRecord(r);
        },
        onEvent: (e) => {
          if (e.type === 'alert') this.tally.noteAlert(e.text);
          this.options.onEvent?.({ type: 'pool', event: e });
        },
      });
      this.pipeline = new SendPipeline(this.pool, this.journal!, this.options.batch, this.tally, this.stop);
    }
    this.targets.begin(server, this.pool);
    this.placement.begin(this.pool);
    const stop = this.stop;
    let aborted = false;
    let poolClosed: Promise<void> | undefined;
    try {
      for (const source of sources) {
        if (stop.stopped) break;
        if (await this.importSource(source)) {
          aborted = true;
          break;
        }
      }
      if (this.pipeline) {
        await resolveUnknownOutcomes({ control: this.control, journal: this.journal!, pipeline: this.pipeline, tally: this.tally, stop, onEvent: this.options.onEvent });
      }
      // Nothing is sent after this: the pool's LOGOUTs go now, beside the flag updates and the checkpoint (the control
      // plane's), instead of one round trip after them.
      poolClosed = this.pool?.close().catch(() => undefined);
      await this.flags.flush();
      // Checkpoints only after a pass that went through every source message: a folder half-reconciled must be
      // reconciled again, not trusted.
      const complete = !aborted && !stop.stopped && !this.options.signal?.aborted && (this.pipeline?.unknown.length ?? 0) === 0;
      if (complete && this.journal && !this.dry) await this.folders.checkpoint(this.journal);
    } catch (e) {
      stop.fatal ??= toMailmigrateError(e);
    } finally {
      await (poolClosed ?? this.pool?.close().catch(() => undefined));
      if (!this.dry) await this.journal?.flush().catch((e) => (stop.fatal ??= toMailmigrateError(e)));
    }
    if (stop.fatal) throw stop.fatal;
    if (stop.halted) {
      const reason = `run stopped: the server's quota is full (${stop.halted.message}); messages not yet sent were left alone — free space and re-run the same command to continue`;
      this.tally.failures.push({ source: '(run)', code: 'E_OVERQUOTA', reason });
      this.options.onEvent?.({ type: 'warning', message: reason });
    }
    return this.tally.result({
      elapsedMs: this.clock.now() - started,
      folders: await this.folders.report(),
      aborted: aborted || this.options.signal?.aborted === true,
      dryRun: this.dry,
      connections: { opened: this.pool?.stats.connects ?? 0, cap: this.pool?.connectionCap },
      foldersAtOnce: this.lanesUsed,
    });
  }

  /** Returns true when stopped by the abort signal. */
  private async importSource(source: Source): Promise<boolean> {
    const signal = this.options.signal;
    const stop = this.stop;
    // The folder list first (a directory walk, no message read): the subscription list decides how folders are
    // created, and folders without messages are created too, as mbsync does (issue 12).
    const folders = [];
    for (const f of await (this.options.folderLists?.get(source) ?? folderList(source))) {
      folders.push(f.folder);
      if (f.subscribed === false) this.targets.noteUnsubscribed(f.folder);
    }
    // The folder tree first, so a name the server refuses is repaired before any message is planned (folder-tree.ts).
    if (!this.dry && !signal?.aborted) await this.targets.createTree(folders);
    // Every folder's first look in one round trip, not one a folder as each is reached (issue 16: a path).
    if (!signal?.aborted) await this.targets.prefetch(folders);
    const inflight = new Set<Promise<void>>();
    const lanes = this.lanesFor(source, folders.length);
    if (lanes === undefined) await this.readWalk(source.items(), inflight, 1, undefined);
    else {
      // A lane that fails stops the others (stop.fatal) and its error is the run's, as with one walk; every lane has
      // ended before it is thrown.
      const walks = Array.from({ length: lanes.count }, (_, i) =>
        this.readWalk(source.sharedItems!(lanes.share(i)), inflight, lanes.count, lanes.gate(i))
          .catch((e: unknown) => {
            stop.fatal ??= toMailmigrateError(e);
            throw e;
          })
          .finally(() => lanes.finished()),
      );
      const failed = (await Promise.allSettled(walks)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    // Every message is handed over: the checkpoint (or the next source's folder bursts) will want the survey again.
    if (this.journal && !this.dry && !signal?.aborted) this.control.expectStatuses?.(this.folders.all().length, this.pool?.size ?? 0);
    await Promise.all(inflight);
    if (!signal?.aborted && !stop.fatal) await this.targets.createEmptyFolders(folders);
    for (const n of source.notes) this.tally.sourceNotes.add(n);
    return signal?.aborted === true;
  }

  /** The source read in folder lanes (folder-lanes.ts), or undefined for one walk. */
  private lanesFor(source: Source, folders: number): FolderLanes | undefined {
    const pool = this.pool;
    if (!pool || this.dry || this.options.foldersOnly) return undefined;
    const settings = pool.settings;
    const count = laneCount({
      shareable: source.sharedItems !== undefined,
      folders,
      given: this.options.foldersAtOnce,
      connectionsPerFolder: settings.connectionsPerFolder,
      connections: settings.connections,
    });
    if (count < 2) return undefined;
    this.lanesUsed = Math.max(this.lanesUsed, count);
    return new FolderLanes(count, (f) => this.targets.laneKey(f), () => pool.capacity);
  }

  /**
   * One walk of a source (all of it, or one lane's share: `lanes` walks at once): each message planned, looked up
   * where needed, and sent through a window journalled before it goes.
   */
  private async readWalk(items: AsyncIterable<SourceItem>, inflight: Set<Promise<void>>, lanes: number, gate: LaneGate | undefined): Promise<void> {
    const signal = this.options.signal;
    const stop = this.stop;
    const capacity = this.pool?.capacity ?? 1;
    // One round of commands (connections × depth × batch): while the pool works through one, the next is read and
    // journalled. Two rounds (the window until MULTIAPPEND went from 50 to 200) held 2400 messages at once: +22 MB
    // peak RSS for 50 000 small messages (134 against 112 MB) for no msg/s (docs/measurements.md, "Batch size and
    // the folder's size").
    // In messages of the pool's current batch: while adaptation looks, MULTIAPPENDs carry 50 (ADAPT_LOOK_BATCH), and a
    // window of 200-message rounds (800) was ~100 ms of reading and hashing before the first APPEND left.
    const windowFor = (): number => Math.max(64, capacity * (this.pool?.batchSize ?? this.options.batch));
    // The byte bounds of the window and the read-ahead are the run's, shared by its lanes.
    const window = new SendWindow(windowFor(), Math.floor(WINDOW_MAX_BYTES / lanes));
    // The folder whose messages are being sent. When the next folder's first message comes, every message of the one
    // before has been looked up and is in the window: once the window is journalled, the journal may let go of that
    // folder's confirmations (Journal.release), so memory holds one folder's state, not the whole run's (issue 14).
    let current: string | undefined;
    // The loop keeps only what awaits; each message's synchronous work is in small methods (planItem, send window,
    // countDry), compiled on their own instead of as part of this long-lived async function (issue 14).
    const reading = { depth: this.options.readAhead ?? 32, maxBytes: Math.floor(READ_AHEAD_MAX_BYTES / lanes), admit: this.planner.admitter() };
    for await (const item of readAhead(items, reading)) {
      if (signal?.aborted || stop.stopped) break;
      const plan = this.planItem(item);
      if (plan === undefined || item.kind !== 'message') continue;
      if (plan.run.path !== current) {
        await this.leave(current, window, inflight, gate);
        current = plan.run.path;
      }
      let found: IndexMatch<Owner> | undefined;
      try {
        // Only a folder that held messages at the start can hold this one: no promise per message otherwise.
        if (hadMessages(plan.run)) found = await this.placement.lookUp(item.message, plan, item.normalized);
      } catch (e) {
        // Could not ask the server what the folder holds: sending now might duplicate. Stop, re-run to continue.
        stop.fatal ??= toMailmigrateError(e);
        break;
      }
      const placed = this.placement.place(item.message, item.normalized, plan, found);
      const prepared = placed instanceof Promise ? await placed : placed;
      if (!prepared) continue;
      if (this.dry) this.countDry(plan, prepared);
      else if (window.add(prepared)) await this.flush(window, inflight, gate, windowFor);
    }
    if (!signal?.aborted && !stop.stopped) await this.leave(current, window, inflight, gate);
  }

  /**
   * Counts one item the read-ahead yielded and returns its plan when it is a message to place; skipped paths and
   * rejected messages are counted (and failed) here and give undefined.
   */
  private planItem(item: ReadItem): Planned | undefined {
    if (item.kind === 'skipped') {
      this.tally.noteSkippedPath(item);
      return undefined;
    }
    this.tally.progress.seen++;
    if (item.kind === 'rejected') {
      const failed = item.message ? this.planner.take(item.message) : undefined;
      if (failed) failed.run.counts.failed++;
      this.fail(item.message?.origin ?? item.error.path, item.error);
      return undefined;
    }
    if (item.kind !== 'message') return undefined;
    return this.planner.take(item.message)!;
  }

  /** A dry run counts the message it would have sent. */
  private countDry(plan: Planned, prepared: Prepared): void {
    plan.run.counts.appended++;
    this.tally.appended(prepared.append.data.length);
    this.tally.report();
  }

  /** Journals and sends what the window holds; its batches join `inflight`. */
  private async flush(window: SendWindow, inflight: Set<Promise<void>>, gate: LaneGate | undefined, windowFor?: () => number): Promise<void> {
    if (window.length === 0) return;
    const taken = window.take();
    if (windowFor) window.resize(windowFor());
    await this.pipeline!.dispatch(taken, inflight, gate);
  }

  /** Leaves the folder `current`: its window is sent, then the journal may let go of its confirmations. */
  private async leave(current: string | undefined, window: SendWindow, inflight: Set<Promise<void>>, gate: LaneGate | undefined): Promise<void> {
    await this.flush(window, inflight, gate);
    if (current !== undefined && this.journal && !this.dry) this.journal.release(current);
  }

  private fail(source: string, err: { code: string; message: string }): void {
    this.tally.fail(source, err);
    this.tally.report();
  }
}
