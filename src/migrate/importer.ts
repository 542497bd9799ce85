import { type Clock, systemClock } from '../core/clock.js';
import { AbortedError, JournalError, type MailmigrateError, toMailmigrateError } from '../core/errors.js';
import type { AppendMessage, NormalizedMessage, SourceMessage } from '../core/types.js';
import type { Journal, JournalLookup } from '../journal/journal.js';
import type { Source, SourceItem } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { Pool, type PoolOptions, type MessageOutcome } from '../transport/pool.js';
import type { TimingRecord } from '../transport/timing.js';
import { derivePhases } from '../transport/timing.js';
import { applyDelta, flagDelta, isEmptyDelta, type SyncFlagsMode } from './flag-sync.js';
import { type MappedFolder, mapFolder, type ServerFolders } from './folder-map.js';
import { FolderRules } from './folder-rules.js';
import { type FolderReport, type FolderRun, FolderRuns } from './folder-runs.js';
import { createTree, FolderRenames } from './folder-tree.js';
import type { IndexMatch } from './folder-index.js';
import { type ServerControl, findOnServer, fingerprintOf } from './server-lookup.js';

// The import pipeline (issue 11: the server is the truth):
//   sources → (deleted? skip) → folder check (one STATUS per folder, journal checkpoint) → (journal-confirmed in a
//   trusted folder? skip without reading, update changed flags) → read ahead → (folder held messages before? look the
//   message up in the folder's bulk index) → folder map and flag filter → journal intent (fsync'd, group commit) →
//   MULTIAPPEND batches over the pool → journal confirmation → (run complete) folder checkpoints.
// Exactly-once rests on two rules. (1) A message's 'sent' record is durable before any byte of it goes to the server
// (mbsync does the same), so after a crash the folder is known to need reconciliation. (2) Nothing is sent into a
// folder that held messages before the run without first asking the server what it holds (one bulk FETCH), and the
// journal is believed only while the folder is provably unchanged since the journal last saw it.

export interface ImportOptions {
  readonly pool: PoolOptions;
  /** MULTIAPPEND size (1 = plain APPEND). */
  readonly batch: number;
  /** Names to import under (--folder), as a list. */
  readonly folderPrefix?: readonly string[];
  /** Messages read from disk ahead of sending. */
  readonly readAhead?: number;
  /** Reconcile every folder with the server, whatever the journal says (--recheck). */
  readonly recheck?: boolean;
  /** How flags of messages already on the server follow the source (--sync-flags). Default 'changed'. */
  readonly syncFlags?: SyncFlagsMode;
  /** Import messages marked deleted in the source, with \Deleted (--include-deleted). */
  readonly includeDeleted?: boolean;
  /** Reconcile read-only and count what would happen: no folder created, nothing appended or stored. */
  readonly dryRun?: boolean;
  /** --include/--exclude/--map/--map-file/--to (folder-rules.ts). */
  readonly folderRules?: FolderRules;
  /** Create the folder tree only: every folder the source has is created, no message is sent (--folders-only). */
  readonly foldersOnly?: boolean;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly onRecord?: (r: TimingRecord) => void;
  readonly onEvent?: (e: ImportEvent) => void;
}

export type ImportEvent =
  | { type: 'folder-created'; path: string; specialUse?: string | undefined }
  | { type: 'resume-checked'; found: number; missing: number }
  | { type: 'pool'; event: unknown }
  | { type: 'warning'; message: string };

export interface ImportProgress {
  appended: number;
  /** All skipped: journal + checked + deleted. */
  skipped: number;
  failed: number;
  bytes: number;
  seen: number;
}

export interface Failure {
  readonly source: string;
  readonly code: string;
  readonly reason: string;
}

export interface ImportResult extends ImportProgress {
  readonly total: number;
  readonly elapsedMs: number;
  readonly failures: Failure[];
  /** Why messages were skipped: "already imported (journal)", "already on the server (checked)", deleted in the
   *  source, excluded by --include/--exclude, not sent because of --folders-only. */
  readonly skippedBy: { journal: number; checked: number; deleted: number; excluded: number; foldersOnly: number };
  /** Source folders left out by --include/--exclude, with the rule and how many messages they held. */
  readonly excluded: Array<{ source: string; rule: string; messages: number }>;
  /** Paths of the source that are not mail or were not followed (clutter, index files, links out of the tree), by
   *  reason, and each path (the first MAX_SKIPPED_PATHS; `pathsLeftOut` counts the rest). Not failures. */
  readonly skippedPaths: { byReason: Record<string, number>; paths: Array<{ path: string; reason: string; detail: string }>; pathsLeftOut: number };
  /** One-line notes from the source readers (dates taken from file names, folder names repaired, ...). */
  readonly sourceNotes: string[];
  /** [ALERT] texts from the server (RFC 3501 §7.1), each once. */
  readonly alerts: string[];
  readonly flagsUpdated: number;
  readonly folders: FolderReport[];
  readonly flagsDropped: Record<string, number>;
  readonly foldersCreated: string[];
  readonly repairs: string[];
  readonly unknownResolved: number;
  readonly aborted: boolean;
  readonly dryRun: boolean;
  /** A bounded sample of timing records, for diagnosis. */
  readonly records: TimingRecord[];
  readonly connections: { opened: number; cap: number | undefined };
}

interface Prepared {
  readonly message: SourceMessage;
  /** The journal id (the source id, made unique within the folder). */
  readonly id: string;
  readonly run: FolderRun;
  readonly append: AppendMessage;
  readonly messageId: string | undefined;
  readonly fingerprint: string;
}

interface Planned {
  readonly id: string;
  readonly mapped: MappedFolder & { subscribe: boolean };
  readonly run: FolderRun;
  readonly known: JournalLookup | undefined;
}

const RECORD_SAMPLE = 20_000;
/** Skipped paths listed one by one in the report; beyond this only counted (a tree of clutter cannot grow memory). */
const MAX_SKIPPED_PATHS = 10_000;
/** Flag updates sent as soon as this many wait (each group is one UID STORE per direction). */
const FLAG_FLUSH = 500;

export class Importer {
  private readonly progress: ImportProgress = { appended: 0, skipped: 0, failed: 0, bytes: 0, seen: 0 };
  private readonly skippedBy = { journal: 0, checked: 0, deleted: 0, excluded: 0, foldersOnly: 0 };
  private readonly excluded = new Map<string, { rule: string; messages: number }>();
  private readonly rules: FolderRules;
  private readonly skippedPaths = { byReason: {} as Record<string, number>, paths: [] as Array<{ path: string; reason: string; detail: string }>, pathsLeftOut: 0 };
  private readonly sourceNotes = new Set<string>();
  /** [ALERT] texts the server sent (RFC 3501 §7.1: must be shown to the user), each once. */
  private readonly alerts = new Set<string>();
  /** Source folders (JSON of the name list) the source's subscription list leaves out: created unsubscribed. */
  private readonly unsubscribed = new Set<string>();
  private flagsUpdated = 0;
  private readonly failures: Failure[] = [];
  private readonly flagsDropped: Record<string, number> = {};
  private readonly created = new Map<string, Promise<void>>();
  private readonly foldersCreated: string[] = [];
  private readonly repairs = new Set<string>();
  private readonly mapped = new Map<string, MappedFolder & { subscribe: boolean }>();
  private readonly permanent = new Map<string, Promise<{ flags: Set<string>; anyKeyword: boolean } | undefined>>();
  private readonly planned = new WeakMap<SourceMessage, Planned>();
  /** Ids seen in the current run of messages for one folder: a repeated source id (the same Maildir unique name in
   *  cur/ and new/) is a different message and gets its own journal id. */
  private idsSeen = { path: '', ids: new Map<string, number>() };
  private readonly records: TimingRecord[] = [];
  private recordsSeen = 0;
  private unknown: Prepared[] = [];
  private unknownResolved = 0;
  private pool: Pool | undefined;
  private server!: ServerFolders;
  /** Folder names the server refused and what they were created as (folder-tree.ts). */
  private renames = new FolderRenames('');
  private readonly folders: FolderRuns;
  private readonly clock: Clock;
  private readonly syncFlags: SyncFlagsMode;
  private fatal: MailmigrateError | undefined;
  /** Set by NO [OVERQUOTA] (RFC 5530 §3): every later APPEND would fail too, so the run stops reading. */
  private halted: MailmigrateError | undefined;

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
    // Mirroring needs every message's server flags: only a bulk FETCH of every folder has them.
    this.folders = new FolderRuns(control, options.dryRun ? undefined : journal, options.recheck === true || this.syncFlags === 'mirror');
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
        // Ctrl-C ends backoff sleeps at once; batches not yet sent come back as E_ABORTED (see settle()).
        signal: this.options.signal,
        // Folders that exist need no probe APPEND: their first batches pipeline like the rest (issue 13).
        knownFolders: listed.map((f) => f.path),
        onRecord: (r) => this.onRecord(r),
        onEvent: (e) => {
          if (e.type === 'alert') this.noteAlert(e.text);
          this.options.onEvent?.({ type: 'pool', event: e });
        },
      });
    }
    let aborted = false;
    try {
      for (const source of sources) {
        if (this.halted || this.fatal) break;
        if (await this.importSource(source)) {
          aborted = true;
          break;
        }
      }
      await this.resendUnknown();
      await this.flushFlagUpdates();
      // Checkpoints only after a pass that went through every source message: a folder half-reconciled must be
      // reconciled again, not trusted.
      const complete = !aborted && !this.fatal && !this.halted && !this.options.signal?.aborted && this.unknown.length === 0;
      if (complete && this.journal && !this.dry) await this.folders.checkpoint(this.journal);
    } catch (e) {
      this.fatal ??= toMailmigrateError(e);
    } finally {
      await this.pool?.close().catch(() => undefined);
      if (!this.dry) await this.journal?.flush().catch((e) => (this.fatal ??= toMailmigrateError(e)));
    }
    if (this.fatal) throw this.fatal;
    if (this.halted) {
      const reason = `run stopped: the server's quota is full (${this.halted.message}); messages not yet sent were left alone — free space and re-run the same command to continue`;
      this.failures.push({ source: '(run)', code: 'E_OVERQUOTA', reason });
      this.options.onEvent?.({ type: 'warning', message: reason });
    }
    const elapsedMs = this.clock.now() - started;
    return {
      ...this.progress,
      total: this.progress.seen,
      elapsedMs,
      failures: this.failures,
      skippedBy: { ...this.skippedBy },
      excluded: [...this.excluded].map(([source, e]) => ({ source, ...e })),
      skippedPaths: this.skippedPaths,
      sourceNotes: [...this.sourceNotes],
      alerts: [...this.alerts],
      flagsUpdated: this.flagsUpdated,
      folders: await this.folders.report(),
      flagsDropped: this.flagsDropped,
      foldersCreated: this.foldersCreated,
      repairs: [...this.repairs],
      unknownResolved: this.unknownResolved,
      aborted: aborted || this.options.signal?.aborted === true,
      dryRun: this.dry,
      records: this.records,
      connections: { opened: this.pool?.stats.connects ?? 0, cap: this.pool?.connectionCap },
    };
  }

  private onRecord(r: TimingRecord): void {
    this.options.onRecord?.(r);
    // Reservoir sample (Vitter's algorithm R): bounded memory, unbiased over a run of any length.
    this.recordsSeen++;
    if (this.records.length < RECORD_SAMPLE) this.records.push(r);
    else {
      const j = Math.floor(Math.random() * this.recordsSeen);
      if (j < RECORD_SAMPLE) this.records[j] = r;
    }
  }

  /** Returns true when stopped by the abort signal. */
  private async importSource(source: Source): Promise<boolean> {
    const signal = this.options.signal;
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
      await this.dispatch(w, inflight);
    };
    for await (const item of readAhead(this.plan(source.items()), { depth: this.options.readAhead ?? 32 })) {
      if (signal?.aborted || this.fatal || this.halted) break;
      if (item.kind === 'skipped') {
        this.noteSkippedPath(item);
        continue;
      }
      this.progress.seen++;
      if (item.kind === 'rejected') {
        if (item.message) this.countIn(item.message, 'failed');
        this.fail(item.message?.origin ?? item.error.path, item.error);
        continue;
      }
      if (item.kind !== 'message') continue;
      const plan = this.planned.get(item.message)!;
      this.planned.delete(item.message);
      let found: IndexMatch | undefined;
      try {
        found = await this.lookUp(plan.run, item.normalized);
      } catch (e) {
        // Could not ask the server what the folder holds: sending now might duplicate. Stop, re-run to continue.
        this.fatal ??= toMailmigrateError(e);
        break;
      }
      if (found) {
        await this.alreadyThere(item.message, plan, found);
        continue;
      }
      const prepared = await this.prepare(item.message, item.normalized, plan);
      if (!prepared) continue;
      if (this.dry) {
        plan.run.counts.appended++;
        this.progress.appended++;
        this.progress.bytes += prepared.append.data.length;
        this.report();
        continue;
      }
      window.push(prepared);
      windowBytes += prepared.append.data.length;
      if (window.length >= windowMax || windowBytes >= windowBytesMax) await flush();
    }
    if (!signal?.aborted && !this.fatal && !this.halted) await flush();
    await Promise.all(inflight);
    if (!signal?.aborted && !this.fatal) await this.createEmptyFolders(folders);
    for (const n of source.notes) this.sourceNotes.add(n);
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
      onRepair: (r) => this.repairs.add(r),
      onCreated: (path, specialUse) => {
        this.pool?.markFolderKnown(path);
        this.foldersCreated.push(path);
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

  private noteAlert(text: string): void {
    if (this.alerts.size < 100) this.alerts.add(text.slice(0, 500));
  }

  private noteSkippedPath(item: { path: string; reason: string; detail: string }): void {
    const s = this.skippedPaths;
    s.byReason[item.reason] = (s.byReason[item.reason] ?? 0) + 1;
    if (s.paths.length < MAX_SKIPPED_PATHS) s.paths.push({ path: item.path, reason: item.reason, detail: item.detail });
    else s.pathsLeftOut++;
  }

  /**
   * Before any byte is read: deleted messages are skipped; each message's folder is checked against the server
   * (once per folder); a message the journal confirms, in a folder unchanged since, is skipped without being read
   * (flag changes queued when its UID is known).
   */
  private async *plan(items: AsyncIterable<SourceItem>): AsyncGenerator<SourceItem> {
    for await (const item of items) {
      if (item.kind !== 'message') {
        yield item;
        continue;
      }
      const m = item.message;
      const ruled = this.rules.apply(m.folder);
      if (ruled.excluded) {
        const key = m.folder.length ? m.folder.join('/') : 'INBOX';
        const e = this.excluded.get(key) ?? { rule: ruled.rule, messages: 0 };
        e.messages++;
        this.excluded.set(key, e);
        this.skip('excluded');
        continue;
      }
      const mapped = this.mapFolderOf(ruled.parts, ruled.explicit, m.folder);
      let run: FolderRun;
      try {
        run = await this.folders.get(mapped.path);
      } catch (e) {
        this.fatal ??= toMailmigrateError(e);
        return;
      }
      run.sources.add(m.folder.length ? m.folder.join('/') : '(top level)');
      run.counts.messages++;
      if (m.deleted && !this.options.includeDeleted) {
        run.counts.deleted++;
        this.skip('deleted');
        continue;
      }
      if (this.options.foldersOnly) {
        try {
          await this.ensureFolder({ mapped, run });
        } catch (e) {
          run.counts.failed++;
          this.progress.seen++;
          this.fail(m.origin, toMailmigrateError(e));
          continue;
        }
        this.skip('foldersOnly');
        continue;
      }
      const id = this.uniqueId(mapped.path, m.id);
      const known = this.journal?.lookup(mapped.path, id);
      const plan: Planned = { id, mapped, run, known };
      if (run.verdict.trusted && known?.state === 'confirmed' && (known.rawSize === undefined || known.rawSize === m.size)) {
        if (await this.followFlagsKnown(m, plan, known)) {
          run.counts.journal++;
          this.skip('journal');
          continue;
        }
      }
      this.planned.set(m, plan);
      yield item;
    }
  }

  /** A message not read, counted under its reason. */
  private skip(why: keyof Importer['skippedBy']): void {
    this.progress.seen++;
    this.progress.skipped++;
    this.skippedBy[why]++;
    this.report();
  }

  /** `source`: the folder as the source names it, for its subscription state. */
  private mapFolderOf(parts: readonly string[], explicit: boolean, source: readonly string[]): MappedFolder & { subscribe: boolean } {
    const key = JSON.stringify([parts, explicit, source]);
    let mapped = this.mapped.get(key);
    if (!mapped) {
      mapped = { ...mapFolder(parts, this.server, this.options.folderPrefix, explicit), subscribe: !this.unsubscribed.has(JSON.stringify(source)) };
      for (const r of mapped.repairs) this.repairs.add(r);
      this.mapped.set(key, mapped);
    }
    return this.renames.size ? { ...mapped, path: this.renames.apply(mapped.path) } : mapped;
  }

  private uniqueId(path: string, id: string): string {
    if (this.idsSeen.path !== path) this.idsSeen = { path, ids: new Map() };
    const n = (this.idsSeen.ids.get(id) ?? 0) + 1;
    this.idsSeen.ids.set(id, n);
    return n === 1 ? id : `${id}#${n}`;
  }

  /** The flags a source message should have on the server. */
  private async wantedFlags(m: SourceMessage, path: string, count: boolean): Promise<string[]> {
    const flags = m.deleted && this.options.includeDeleted ? [...m.flags, '\\Deleted'] : m.flags;
    return this.acceptedFlags(path, flags, count);
  }

  /** A journal-confirmed message: its flags follow the source when its UID is known. False: look it up instead. */
  private async followFlagsKnown(m: SourceMessage, plan: Planned, known: Extract<JournalLookup, { state: 'confirmed' }>): Promise<boolean> {
    if (this.syncFlags === 'off') return true;
    if (!plan.run.status) return false;
    const wanted = await this.wantedFlags(m, plan.mapped.path, false);
    const delta = flagDelta(this.syncFlags, wanted, known.flags, undefined);
    if (isEmptyDelta(delta)) return true;
    if (known.uid === undefined) return false; // no UIDPLUS: find it through the folder's index
    await this.queueFlags(plan.run, known.uid, plan.id, delta, wanted);
    return true;
  }

  /** Is this message already in its folder? Only folders that held messages before the run need asking. */
  private async lookUp(run: FolderRun, n: NormalizedMessage): Promise<IndexMatch | undefined> {
    if (!run.status || run.status.messages === 0) return undefined;
    const index = await this.folders.index(run);
    return index.match(n.messageId, n.data, (uid) => this.control.fetchBody(run.path, uid));
  }

  private async alreadyThere(m: SourceMessage, plan: Planned, found: IndexMatch): Promise<void> {
    const run = plan.run;
    this.progress.skipped++;
    this.skippedBy.checked++;
    run.counts.checked++;
    const wanted = await this.wantedFlags(m, run.path, false);
    // What this tool stored last applies only if the journal's UID is this very server message.
    const last = plan.known?.state === 'confirmed' && plan.known.uid === found.uid ? plan.known.flags : undefined;
    const delta = flagDelta(this.syncFlags, wanted, last, found.flags);
    if (!this.dry) {
      try {
        this.journal!.recordConfirmed([{ id: plan.id, mailbox: run.path, uid: found.uid, flags: last ?? wanted }]);
      } catch (e) {
        this.fatal ??= toMailmigrateError(e);
      }
    }
    if (!isEmptyDelta(delta)) await this.queueFlags(run, found.uid, plan.id, delta, applyDelta(last ?? wanted, delta));
    this.report();
  }

  private async queueFlags(run: FolderRun, uid: number, id: string, delta: ReturnType<typeof flagDelta>, after: string[]): Promise<void> {
    run.counts.flagsUpdated++;
    this.flagsUpdated++;
    if (this.dry) return;
    run.flagUpdates.add(uid, delta);
    run.flagTargets.set(uid, { id, flags: after });
    if (run.flagUpdates.size >= FLAG_FLUSH) await this.flushFolderFlags(run);
  }

  private async flushFlagUpdates(): Promise<void> {
    for (const run of this.folders.all()) if (run.flagUpdates.size) await this.flushFolderFlags(run);
  }

  /** One UID STORE per group of messages needing the same change; the journal then records the new flags. */
  private async flushFolderFlags(run: FolderRun): Promise<void> {
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
    const flags = await this.wantedFlags(message, plan.mapped.path, true);
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
          this.foldersCreated.push(mapped.path);
          this.options.onEvent?.({ type: 'folder-created', path: mapped.path, specialUse: mapped.specialUse });
        }
      })();
      // A failure (control connection lost mid-CREATE) must not poison the folder for the rest of the run.
      p.catch(() => this.created.delete(mapped.path));
      this.created.set(mapped.path, p);
    }
    return p;
  }

  /** Drops flags the folder's PERMANENTFLAGS do not accept (RFC 3501 §7.1), counting them, instead of failing. */
  private async acceptedFlags(path: string, flags: readonly string[], count: boolean): Promise<string[]> {
    if (flags.length === 0) return [];
    let p = this.permanent.get(path);
    if (!p) {
      p = this.control.permanentFlags(path).then(
        (r) => ({ flags: new Set(r.flags.map((f) => f.toLowerCase())), anyKeyword: r.anyKeyword }),
        () => undefined,
      );
      this.permanent.set(path, p);
    }
    const perm = await p;
    if (!perm) return [...flags];
    const out: string[] = [];
    for (const f of flags) {
      const ok = perm.flags.has(f.toLowerCase()) || (!f.startsWith('\\') && perm.anyKeyword);
      if (ok) out.push(f);
      else if (count) this.flagsDropped[f] = (this.flagsDropped[f] ?? 0) + 1;
    }
    return out;
  }

  /** Journals the window's intents with one fsync, then sends it as MULTIAPPEND batches per mailbox. */
  private async dispatch(window: Prepared[], inflight: Set<Promise<void>>): Promise<void> {
    const pool = this.pool!;
    try {
      await this.journal!.recordSent(
        window.map((p) => ({
          id: p.id,
          mailbox: p.append.mailbox,
          messageId: p.messageId,
          size: p.append.data.length,
          rawSize: p.message.size,
          fingerprint: p.fingerprint,
        })),
      );
    } catch (e) {
      // Without a durable intent we could not tell, after a crash, whether these reached the server: stop.
      this.fatal = e instanceof JournalError ? e : toMailmigrateError(e);
      return;
    }
    const byBox = new Map<string, Prepared[]>();
    for (const p of window) {
      const list = byBox.get(p.append.mailbox) ?? [];
      list.push(p);
      byBox.set(p.append.mailbox, list);
    }
    const batch = Math.max(1, this.options.batch);
    for (const [box, list] of byBox) {
      for (let i = 0; i < list.length; i += batch) {
        await pool.whenWritable();
        // Journalled as 'sent' but not sent: a re-run reconciles their folder and sends them then.
        if (this.halted) return;
        const group = list.slice(i, i + batch);
        const p = pool
          .append(box, group.map((g) => g.append))
          .then(
            (outcomes) => this.settle(group, outcomes),
            (e) => this.settle(group, group.map(() => ({ status: 'failed', error: toMailmigrateError(e) }) as const)),
          );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }
  }

  private settle(group: Prepared[], outcomes: MessageOutcome[]): void {
    const confirmed: Array<{ id: string; uid?: number; uidValidity?: number; mailbox: string; flags: readonly string[] }> = [];
    outcomes.forEach((o, i) => {
      const p = group[i]!;
      if (o.status === 'appended') {
        confirmed.push({ id: p.id, uid: o.uid, uidValidity: o.uidValidity, mailbox: p.append.mailbox, flags: p.append.flags });
        if (o.uid !== undefined) p.run.claimed.add(o.uid);
        p.run.counts.appended++;
        this.progress.appended++;
        this.progress.bytes += p.append.data.length;
      } else if (o.status === 'unknown') {
        this.unknown.push(p);
      } else {
        // Never sent (Ctrl-C came first): not a failure. Its 'sent' record makes the next run reconcile the folder.
        if (o.error.code === 'E_ABORTED') return;
        // The response policy maps code-less quota texts (Cyrus' "NO Over quota") to E_OVERQUOTA too.
        if (o.error.code === 'E_OVERQUOTA') this.halted ??= o.error;
        p.run.counts.failed++;
        this.fail(p.message.origin, o.error, p);
      }
    });
    try {
      if (confirmed.length) this.journal!.recordConfirmed(confirmed);
    } catch (e) {
      this.fatal ??= toMailmigrateError(e);
    }
    this.report();
  }

  /**
   * Messages whose APPEND had no answer (connection lost mid-command): look each up on a fresh view of its folder,
   * ignoring server messages already accounted for, and re-send only those not there.
   */
  private async resendUnknown(): Promise<void> {
    let found = 0;
    let missing = 0;
    for (let round = 0; round < 3 && this.unknown.length && !this.fatal; round++) {
      const list = this.unknown;
      this.unknown = [];
      const again: Prepared[] = [];
      let lookupFailed = false;
      for (const p of list) {
        let uid: number | undefined;
        try {
          uid = await findOnServer(this.control, p.append.mailbox, p.messageId, p.append.data, (u) => p.run.claimed.has(u));
        } catch {
          // The lookup itself failed (control connection lost, server restarting): the message may be there, so it
          // stays unknown for the next round — sending it now could double it.
          this.unknown.push(p);
          lookupFailed = true;
          continue;
        }
        if (uid !== undefined) {
          p.run.claimed.add(uid);
          this.journal!.recordConfirmed([{ id: p.id, uid, mailbox: p.append.mailbox, flags: p.append.flags }]);
          p.run.counts.appended++;
          this.progress.appended++;
          this.progress.bytes += p.append.data.length;
          this.unknownResolved++;
          found++;
        } else {
          again.push(p);
          missing++;
        }
      }
      const inflight = new Set<Promise<void>>();
      if (again.length) await this.dispatch(again, inflight);
      await Promise.all(inflight);
      if (lookupFailed) await new Promise((r) => setTimeout(r, 500 * (round + 1)));
    }
    if (found || missing) this.options.onEvent?.({ type: 'resume-checked', found, missing });
    for (const p of this.unknown) {
      p.run.counts.failed++;
      this.fail(p.message.origin, { code: 'E_UNKNOWN_OUTCOME', message: 'no answer from the server after 3 attempts; re-run to check and resend' });
    }
  }

  private countIn(m: SourceMessage, what: 'failed'): void {
    const p = this.planned.get(m);
    if (p) {
      p.run.counts[what]++;
      this.planned.delete(m);
    }
  }

  private fail(source: string, err: { code: string; message: string }, p?: Prepared): void {
    this.progress.failed++;
    this.failures.push({ source, code: err.code, reason: err.message });
    if (p && this.journal && !this.dry) {
      try {
        this.journal.recordFailed({ id: p.id, mailbox: p.append.mailbox, code: err.code, reason: err.message });
      } catch (e) {
        this.fatal ??= toMailmigrateError(e);
      }
    }
    this.report();
  }

  private report(): void {
    this.options.onProgress?.(this.progress);
  }
}

/** recv-wait values of a record list, for summaries. */
export function recvWaits(records: readonly TimingRecord[], verb = 'APPEND'): number[] {
  const out: number[] = [];
  for (const r of records) {
    if (r.verb !== verb) continue;
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined) out.push(w);
  }
  return out;
}

export { AbortedError };
