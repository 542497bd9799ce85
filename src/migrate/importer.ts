import { type Clock, systemClock } from '../core/clock.js';
import { toMailmigrateError } from '../core/errors.js';
import type { NormalizedMessage, SourceMessage } from '../core/types.js';
import type { Journal } from '../journal/journal.js';
import type { Source, SourceItem } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { Pool } from '../transport/pool.js';
import type { SyncFlagsMode } from './flag-sync.js';
import { FlagApplication } from './flag-application.js';
import { type MappedFolder, mapFolder, type ServerFolders } from './folder-map.js';
import { FolderRules } from './folder-rules.js';
import { type FolderRun, FolderRuns } from './folder-runs.js';
import { createTree, FolderRenames } from './folder-tree.js';
import { compareContent } from './content-match.js';
import type { IndexMatch } from './folder-index.js';
import { IdRepeats } from './id-repeats.js';
import { ImportTally } from './import-tally.js';
import { type ImportOptions, type ImportResult, type Planned, type Prepared, RunStop } from './import-types.js';
import { SendPipeline } from './send-pipeline.js';
import { type ServerControl, fingerprintOf } from './server-lookup.js';
import { resolveUnknownOutcomes } from './unknown-outcomes.js';

/** A source message matched by Message-ID and size alone, kept to re-check if a look-alike later claims its copy. */
interface Owner {
  readonly message: SourceMessage;
  readonly plan: Planned;
}

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
// This file walks the sources and decides, message by message; the parts it delegates to: send-pipeline.ts (journal
// intent, MULTIAPPEND over the pool, outcomes), flag-application.ts (flags wanted and flag changes), unknown-outcomes.ts
// (look-ups after a lost reply), import-tally.ts (counts and the result).

export class Importer {
  private readonly tally: ImportTally;
  private readonly stop = new RunStop();
  private readonly rules: FolderRules;
  /** Source folders (JSON of the name list) the source's subscription list leaves out: created unsubscribed. */
  private readonly unsubscribed = new Set<string>();
  private readonly created = new Map<string, Promise<void>>();
  private readonly mapped = new Map<string, MappedFolder & { subscribe: boolean }>();
  private readonly planned = new WeakMap<SourceMessage, Planned>();
  /** Ids seen in the current run of messages for one folder: a repeated source id (the same Maildir unique name in
   *  cur/ and new/) is a different message and gets its own journal id. Digests, not the id strings: a folder of
   *  250 000 messages kept ~100 bytes of heap per id in a Map (issue 14). */
  private idsSeen = { path: '', ids: new IdRepeats() };
  private pool: Pool | undefined;
  private pipeline: SendPipeline | undefined;
  private server!: ServerFolders;
  /** Folder names the server refused and what they were created as (folder-tree.ts). */
  private renames = new FolderRenames('');
  private readonly folders: FolderRuns;
  private readonly flags: FlagApplication;
  private readonly clock: Clock;
  private readonly syncFlags: SyncFlagsMode;

  constructor(
    private readonly control: ServerControl,
    /** Undefined only for a dry run: the server alone answers, and nothing is recorded. */
    private readonly journal: Journal | undefined,
    private readonly options: ImportOptions,
  ) {
    if (!journal && !options.dryRun) throw new Error('Importer: a journal is required unless dryRun');
    this.clock = options.clock ?? systemClock;
    this.rules = options.folderRules ?? new FolderRules();
    this.syncFlags = options.syncFlags ?? 'changed';
    this.tally = new ImportTally(options.onProgress);
    // Mirroring needs every message's server flags: only a bulk FETCH of every folder has them.
    this.folders = new FolderRuns(control, options.dryRun ? undefined : journal, options.recheck === true || this.syncFlags === 'mirror');
    this.flags = new FlagApplication(control, journal, this.folders, this.tally, this.stop, {
      syncFlags: this.syncFlags,
      includeDeleted: options.includeDeleted === true,
      dryRun: this.dry,
    });
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
    this.server = { delimiter, specialUse, namespacePrefix: await this.control.namespacePrefix() };
    this.renames = new FolderRenames(delimiter);
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
    const stop = this.stop;
    let aborted = false;
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
      await this.flags.flush();
      // Checkpoints only after a pass that went through every source message: a folder half-reconciled must be
      // reconciled again, not trusted.
      const complete = !aborted && !stop.stopped && !this.options.signal?.aborted && (this.pipeline?.unknown.length ?? 0) === 0;
      if (complete && this.journal && !this.dry) await this.folders.checkpoint(this.journal);
    } catch (e) {
      stop.fatal ??= toMailmigrateError(e);
    } finally {
      await this.pool?.close().catch(() => undefined);
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
    });
  }

  /** Returns true when stopped by the abort signal. */
  private async importSource(source: Source): Promise<boolean> {
    const signal = this.options.signal;
    const stop = this.stop;
    // The folder list first (a directory walk, no message read): the subscription list decides how folders are
    // created, and folders without messages are created too, as mbsync does (issue 12).
    const folders = [];
    for await (const f of source.folders()) {
      folders.push(f.folder);
      if (f.subscribed === false) this.unsubscribed.add(JSON.stringify(f.folder));
    }
    // The folder tree first, so a name the server refuses is repaired before any message is planned (folder-tree.ts).
    if (!this.dry && !signal?.aborted) await this.createTree(folders);
    const capacity = this.pool?.capacity ?? 1;
    const windowMax = Math.max(64, capacity * this.options.batch * 2);
    const windowBytesMax = 32 * 1024 * 1024;
    let window: Prepared[] = [];
    let windowBytes = 0;
    const inflight = new Set<Promise<void>>();
    const flush = async (): Promise<void> => {
      if (window.length === 0) return;
      const w = window;
      window = [];
      windowBytes = 0;
      await this.pipeline!.dispatch(w, inflight);
    };
    // The folder whose messages are being sent. When the next folder's first message comes, every message of the one
    // before has been looked up and is in the window: once the window is journalled, the journal may let go of that
    // folder's confirmations (Journal.release), so memory holds one folder's state, not the whole run's (issue 14).
    let current: string | undefined;
    const leave = async (): Promise<void> => {
      await flush();
      if (current !== undefined && this.journal && !this.dry) this.journal.release(current);
    };
    for await (const item of readAhead(this.plan(source.items()), { depth: this.options.readAhead ?? 32 })) {
      if (signal?.aborted || stop.stopped) break;
      if (item.kind === 'skipped') {
        this.tally.noteSkippedPath(item);
        continue;
      }
      this.tally.progress.seen++;
      if (item.kind === 'rejected') {
        if (item.message) this.countFailedIn(item.message);
        this.fail(item.message?.origin ?? item.error.path, item.error);
        continue;
      }
      if (item.kind !== 'message') continue;
      const plan = this.planned.get(item.message)!;
      this.planned.delete(item.message);
      if (plan.run.path !== current) {
        await leave();
        current = plan.run.path;
      }
      let found: IndexMatch | undefined;
      try {
        found = await this.lookUp(item.message, plan, item.normalized);
      } catch (e) {
        // Could not ask the server what the folder holds: sending now might duplicate. Stop, re-run to continue.
        stop.fatal ??= toMailmigrateError(e);
        break;
      }
      let prepared: Prepared | undefined;
      if (found) {
        if (found.displaced) this.flags.forget(plan.run, found.uid);
        await this.flags.alreadyThere(item.message, plan, found);
        // This message took over a server copy an earlier one had been matched to by Message-ID and size alone
        // (folder-index.ts): that earlier one is not on the server after all, and goes now.
        if (found.displaced) prepared = await this.sendInstead(found.displaced as Owner);
      } else {
        prepared = await this.prepare(item.message, item.normalized, plan);
      }
      if (!prepared) continue;
      if (this.dry) {
        plan.run.counts.appended++;
        this.tally.appended(prepared.append.data.length);
        this.tally.report();
        continue;
      }
      window.push(prepared);
      windowBytes += prepared.append.data.length;
      if (window.length >= windowMax || windowBytes >= windowBytesMax) await flush();
    }
    if (!signal?.aborted && !stop.stopped) await leave();
    await Promise.all(inflight);
    if (!signal?.aborted && !stop.fatal) await this.createEmptyFolders(folders);
    for (const n of source.notes) this.tally.sourceNotes.add(n);
    return signal?.aborted === true;
  }

  private async createTree(folders: ReadonlyArray<readonly string[]>): Promise<void> {
    const targets = [];
    for (const parts of folders) {
      const ruled = this.rules.apply(parts);
      if (!ruled.excluded) targets.push({ source: parts.join('/'), mapped: this.mapFolderOf(ruled.parts, ruled.explicit, parts) });
    }
    await createTree(targets, {
      control: this.control, runs: this.folders, renames: this.renames, delimiter: this.server.delimiter, namespacePrefix: this.server.namespacePrefix ?? '',
      onRepair: (r) => this.tally.repairs.add(r),
      onCreated: (path, specialUse) => {
        this.pool?.markFolderKnown(path);
        this.tally.foldersCreated.push(path);
        this.options.onEvent?.({ type: 'folder-created', path, specialUse });
      },
    });
  }

  /** Source folders that held no message (or only skipped ones) still get their folder on the server. */
  private async createEmptyFolders(folders: ReadonlyArray<readonly string[]>): Promise<void> {
    for (const parts of folders) {
      const ruled = this.rules.apply(parts);
      if (ruled.excluded) continue;
      const mapped = this.mapFolderOf(ruled.parts, ruled.explicit, parts);
      if (mapped.path.toUpperCase() === 'INBOX') continue;
      try {
        const run = await this.folders.get(mapped.path);
        if (run.status || run.created) continue;
        run.sources.add(parts.length ? parts.join('/') : '(top level)');
        await this.ensureFolder({ mapped, run });
      } catch (e) {
        this.fail(parts.join('/'), toMailmigrateError(e));
      }
    }
  }

  /**
   * Before any byte is read: deleted messages are skipped; each message's folder is checked against the server
   * (once per folder); a message the journal confirms, in a folder unchanged since, is skipped without being read
   * (flag changes queued when its UID is known).
   */
  private async *plan(items: AsyncIterable<SourceItem>): AsyncGenerator<SourceItem> {
    // A trusted folder's confirmed messages are decided here and never reach the sending loop, which releases the
    // folders it leaves (importSource): so a clean re-run lets go of a trusted folder's confirmations here, when the
    // walk moves on, and holds one folder's at a time. The few messages of it still ahead in the read-ahead reload
    // it if they need the journal (Journal.release is a hint about memory, never a change of what is known).
    let planning: FolderRun | undefined;
    for await (const item of items) {
      if (item.kind !== 'message') {
        yield item;
        continue;
      }
      const m = item.message;
      const ruled = this.rules.apply(m.folder);
      if (ruled.excluded) {
        this.tally.noteExcluded(m.folder.length ? m.folder.join('/') : 'INBOX', ruled.rule);
        this.tally.skip('excluded');
        continue;
      }
      const mapped = this.mapFolderOf(ruled.parts, ruled.explicit, m.folder);
      let run: FolderRun;
      try {
        run = await this.folders.get(mapped.path);
      } catch (e) {
        this.stop.fatal ??= toMailmigrateError(e);
        return;
      }
      if (run !== planning) {
        if (planning?.verdict.trusted && !this.dry) this.journal?.release(planning.path);
        planning = run;
        // A folder absent or empty at the start is never looked up in the journal (below): nothing this run
        // confirms there needs to be held in memory for it (issue 14: a first import of a million messages).
        if (!hadMessages(run) && !this.dry) this.journal?.release(run.path);
      }
      run.sources.add(m.folder.length ? m.folder.join('/') : '(top level)');
      run.counts.messages++;
      if (m.deleted && !this.options.includeDeleted) {
        run.counts.deleted++;
        this.tally.skip('deleted');
        continue;
      }
      if (this.options.foldersOnly) {
        try {
          await this.ensureFolder({ mapped, run });
        } catch (e) {
          run.counts.failed++;
          this.tally.progress.seen++;
          this.fail(m.origin, toMailmigrateError(e));
          continue;
        }
        this.tally.skip('foldersOnly');
        continue;
      }
      const id = this.uniqueId(mapped.path, m.id);
      // What the journal knows matters only where the server held messages at the start: an absent or empty
      // folder gets every message (lookUp below), whatever the journal says (folder-check.ts voids it).
      const known = hadMessages(run) ? this.journal?.lookup(mapped.path, id) : undefined;
      const plan: Planned = { id, mapped, run, known };
      if (run.verdict.trusted && known?.state === 'confirmed' && (known.rawSize === undefined || known.rawSize === m.size)) {
        if (await this.flags.followKnown(m, plan, known)) {
          run.counts.journal++;
          this.tally.skip('journal');
          continue;
        }
      }
      this.planned.set(m, plan);
      yield item;
    }
  }

  /** `source`: the folder as the source names it, for its subscription state. */
  private mapFolderOf(parts: readonly string[], explicit: boolean, source: readonly string[]): MappedFolder & { subscribe: boolean } {
    const key = JSON.stringify([parts, explicit, source]);
    let mapped = this.mapped.get(key);
    if (!mapped) {
      mapped = { ...mapFolder(parts, this.server, this.options.folderPrefix, explicit), subscribe: !this.unsubscribed.has(JSON.stringify(source)) };
      for (const r of mapped.repairs) this.tally.repairs.add(r);
      this.mapped.set(key, mapped);
    }
    return this.renames.size ? { ...mapped, path: this.renames.apply(mapped.path) } : mapped;
  }

  private uniqueId(path: string, id: string): string {
    if (this.idsSeen.path !== path) this.idsSeen = { path, ids: new IdRepeats() };
    const n = this.idsSeen.ids.count(id);
    return n === 1 ? id : `${id}#${n}`;
  }

  /** Is this message already in its folder? Only folders that held messages before the run need asking. */
  private async lookUp(message: SourceMessage, plan: Planned, n: NormalizedMessage): Promise<IndexMatch | undefined> {
    const run = plan.run;
    if (!hadMessages(run)) return undefined;
    const index = await this.folders.index(run);
    return index.match<Owner>(n.messageId, n.data, (uid) => this.control.fetchBody(run.path, uid), { message, plan }, async (o, server) => {
      try {
        return compareContent((await o.message.read()).data, server) !== 'different';
      } catch {
        return true; // unreadable now: keep the earlier verdict rather than guess (it cannot be sent anyway)
      }
    });
  }

  /** An earlier message counted "already on the server" turned out not to be there: undo that count, send it. */
  private async sendInstead(o: Owner): Promise<Prepared | undefined> {
    this.tally.progress.skipped--;
    this.tally.skippedBy.checked--;
    o.plan.run.counts.checked--;
    let normalized: NormalizedMessage;
    try {
      normalized = await o.message.read();
    } catch (e) {
      o.plan.run.counts.failed++;
      this.fail(o.message.origin, toMailmigrateError(e));
      return undefined;
    }
    return this.prepare(o.message, normalized, o.plan);
  }

  private async prepare(message: SourceMessage, normalized: NormalizedMessage, plan: Planned): Promise<Prepared | undefined> {
    if (normalized.hasNul && this.pool && !this.pool.capabilities?.binary) {
      plan.run.counts.failed++;
      this.fail(message.origin, { code: 'E_SOURCE_NUL', message: 'message contains NUL bytes and the server does not offer BINARY (RFC 3516)' });
      return undefined;
    }
    try {
      await this.ensureFolder(plan);
    } catch (e) {
      plan.run.counts.failed++;
      this.fail(message.origin, toMailmigrateError(e));
      return undefined;
    }
    const flags = await this.flags.wanted(message, plan.mapped.path, true);
    return {
      message,
      id: plan.id,
      run: plan.run,
      append: {
        mailbox: plan.mapped.path,
        flags,
        internalDate: message.internalDate,
        data: normalized.data,
        ...(normalized.hasNul ? { binary: true } : {}),
      },
      messageId: normalized.messageId,
      fingerprint: normalized.fingerprint ?? fingerprintOf(normalized.data),
    };
  }

  private ensureFolder(plan: Pick<Planned, 'mapped' | 'run'>): Promise<void> {
    const { mapped, run } = plan;
    if (run.status || mapped.path.toUpperCase() === 'INBOX') return Promise.resolve();
    let p = this.created.get(mapped.path);
    if (!p) {
      p = (async () => {
        if (this.dry) {
          run.created = true;
          return;
        }
        const created = await this.control.ensureFolder(mapped.path, mapped.specialUse, mapped.subscribe);
        run.created = created;
        this.pool?.markFolderKnown(mapped.path);
        if (created) {
          this.tally.foldersCreated.push(mapped.path);
          this.options.onEvent?.({ type: 'folder-created', path: mapped.path, specialUse: mapped.specialUse });
        }
      })();
      // A failure (control connection lost mid-CREATE) must not poison the folder for the rest of the run.
      p.catch(() => this.created.delete(mapped.path));
      this.created.set(mapped.path, p);
    }
    return p;
  }

  private countFailedIn(m: SourceMessage): void {
    const p = this.planned.get(m);
    if (p) {
      p.run.counts.failed++;
      this.planned.delete(m);
    }
  }

  private fail(source: string, err: { code: string; message: string }): void {
    this.tally.fail(source, err);
    this.tally.report();
  }
}

/** The folder held messages when this run first looked (STATUS): only then can a source message already be there. */
function hadMessages(run: FolderRun): boolean {
  return run.status !== undefined && run.status.messages > 0;
}
