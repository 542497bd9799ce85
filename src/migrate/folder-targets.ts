import { toMailmigrateError } from '../core/errors.js';
import type { Pool } from '../transport/pool.js';
import { type MappedFolder, mapFolder, type ServerFolders } from './folder-map.js';
import type { FolderRules } from './folder-rules.js';
import type { FolderRuns } from './folder-runs.js';
import { createTree, FolderRenames } from './folder-tree.js';
import type { ImportTally } from './import-tally.js';
import type { ImportOptions, Planned } from './import-types.js';
import type { ServerControl } from './server-lookup.js';

/** A target folder as the import uses it: where the source folder goes, and whether it is created subscribed. */
export type TargetFolder = MappedFolder & { subscribe: boolean };

/**
 * Where each source folder goes on the server, and making sure it is there: the folder rules and the folder map
 * applied once per source folder, the tree created before any message is planned (folder-tree.ts, with the names
 * the server refused and what they became), and one CREATE per folder however many messages ask for it.
 */
export class FolderTargets {
  /** Source folders (JSON of the name list) the source's subscription list leaves out: created unsubscribed. */
  private readonly unsubscribed = new Set<string>();
  private readonly created = new Map<string, Promise<void>>();
  private readonly mapped = new Map<string, TargetFolder>();
  private server!: ServerFolders;
  /** Folder names the server refused and what they were created as (folder-tree.ts). */
  private renames = new FolderRenames('');
  /** Folders whose ensureFolder settled well: nothing to wait for any more. */
  private readonly ensured = new Set<string>();
  private lastMapped: { parts: readonly string[]; explicit: boolean; source: readonly string[]; mapped: TargetFolder } | undefined;
  private pool: Pool | undefined;

  constructor(
    private readonly control: ServerControl,
    private readonly folders: FolderRuns,
    private readonly rules: FolderRules,
    private readonly tally: ImportTally,
    private readonly options: ImportOptions,
  ) {}

  private get dry(): boolean {
    return this.options.dryRun === true;
  }

  /** The server's side, known once the run has asked: its delimiter, special-use folders, namespace; and the pool
   *  (none in a dry run) that learns of each folder created, so its first batches need no probe APPEND. */
  begin(server: ServerFolders, pool: Pool | undefined): void {
    this.server = server;
    this.renames = new FolderRenames(server.delimiter);
    this.pool = pool;
  }

  /** The source's subscription list leaves this folder out: it is created unsubscribed. */
  noteUnsubscribed(folder: readonly string[]): void {
    this.unsubscribed.add(JSON.stringify(folder));
  }

  async createTree(folders: ReadonlyArray<readonly string[]>): Promise<void> {
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

  /**
   * The STATUS of every target folder of these source folders not yet opened by this run, in one burst, for the
   * folder check to read when each is opened, and their PERMANENTFLAGS (control-adapter.ts prefetch); nothing without
   * a bulk control.
   */
  async prefetch(folders: ReadonlyArray<readonly string[]>): Promise<void> {
    if (!this.control.prefetch) return;
    const paths: string[] = [];
    for (const parts of folders) {
      const ruled = this.rules.apply(parts);
      if (ruled.excluded) continue;
      const path = this.mapFolderOf(ruled.parts, ruled.explicit, parts).path;
      if (!this.folders.has(path)) paths.push(path);
    }
    this.folders.expect(paths);
    await this.control.prefetch(paths).catch(() => undefined);
  }

  /** Source folders that held no message (or only skipped ones) still get their folder on the server. */
  async createEmptyFolders(folders: ReadonlyArray<readonly string[]>): Promise<void> {
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
        this.tally.fail(parts.join('/'), toMailmigrateError(e));
        this.tally.report();
      }
    }
  }

  /** `source`: the folder as the source names it, for its subscription state. */
  /** What folder lanes claim for a source folder (folder-lanes.ts): the target folder its messages go to, or its
   *  exclusion (each excluded folder on its own: its messages are only counted). */
  laneKey(folder: readonly string[]): string {
    const ruled = this.rules.apply(folder);
    if (ruled.excluded) return `excluded:${JSON.stringify(folder)}`;
    return `to:${this.mapFolderOf(ruled.parts, ruled.explicit, folder).path}`;
  }

  mapFolderOf(parts: readonly string[], explicit: boolean, source: readonly string[]): TargetFolder {
    // Asked once per message with the same arrays for a whole folder: the last answer is kept by identity, so the
    // common case builds no JSON key per message (issue 14: bytes allocated per message).
    const last = this.lastMapped;
    let mapped: TargetFolder | undefined;
    if (last !== undefined && last.parts === parts && last.explicit === explicit && last.source === source) mapped = last.mapped;
    else {
      mapped = this.mapped.get(JSON.stringify([parts, explicit, source]));
      if (mapped) this.lastMapped = { parts, explicit, source, mapped };
    }
    if (!mapped) {
      const key = JSON.stringify([parts, explicit, source]);
      mapped = { ...mapFolder(parts, this.server, this.options.folderPrefix, explicit), subscribe: !this.unsubscribed.has(JSON.stringify(source)) };
      for (const r of mapped.repairs) this.tally.repairs.add(r);
      this.mapped.set(key, mapped);
      this.lastMapped = { parts, explicit, source, mapped };
    }
    return this.renames.size ? { ...mapped, path: this.renames.apply(mapped.path) } : mapped;
  }

  /**
   * Makes sure the folder exists; undefined when there is nothing to wait for (it existed at the start, or this run
   * made it): asked once per message, and the common case should cost no promise (issue 14, bytes per message).
   */
  ensureFolder(plan: Pick<Planned, 'mapped' | 'run'>): Promise<void> | undefined {
    const { mapped, run } = plan;
    if (run.status || this.ensured.has(mapped.path) || mapped.path.toUpperCase() === 'INBOX') return undefined;
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
      p.then(
        () => this.ensured.add(mapped.path),
        () => this.created.delete(mapped.path),
      );
      this.created.set(mapped.path, p);
    }
    return p;
  }
}
