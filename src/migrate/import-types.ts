import type { Clock } from '../core/clock.js';
import type { MailmigrateError } from '../core/errors.js';
import type { AppendMessage, SourceMessage } from '../core/types.js';
import type { JournalLookup } from '../journal/journal.js';
import type { Source, SourceFolder } from '../sources/index.js';
import type { PoolOptions } from '../transport/pool.js';
import type { TimingRecord } from '../transport/timing.js';
import type { SyncFlagsMode } from './flag-sync.js';
import type { MappedFolder } from './folder-map.js';
import type { FolderRules } from './folder-rules.js';
import type { FolderReport, FolderRun } from './folder-runs.js';

// The shapes the import pipeline (importer.ts and the parts it delegates to: send-pipeline.ts, flag-application.ts,
// unknown-outcomes.ts, import-tally.ts) exchanges, in one place so that none of those files imports another's
// class just for a type.

export interface ImportOptions {
  readonly pool: PoolOptions;
  /** Folder lists already being walked (folderList in importer.ts): import-run starts the first source's at once,
   *  while the connections log in, instead of once the server has answered. */
  readonly folderLists?: ReadonlyMap<Source, Promise<readonly SourceFolder[]>>;
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
  /** Folders filled at once (--folders-at-once); undefined: folder-lanes.ts laneCount decides. */
  readonly foldersAtOnce?: number;
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

/** Why messages were skipped without being sent. */
export interface SkippedBy {
  journal: number;
  checked: number;
  deleted: number;
  excluded: number;
  foldersOnly: number;
}

export interface ImportResult extends ImportProgress {
  readonly total: number;
  readonly elapsedMs: number;
  readonly failures: Failure[];
  /** Why messages were skipped: "already imported (journal)", "already on the server (checked)", deleted in the
   *  source, excluded by --include/--exclude, not sent because of --folders-only. */
  readonly skippedBy: SkippedBy;
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
  /** The most folders filled at once (folder-lanes.ts): 1 when each source was read in one walk. */
  readonly foldersAtOnce: number;
}

/** A message read, normalised and ready to APPEND. */
export interface Prepared {
  readonly message: SourceMessage;
  /** The journal id (the source id, made unique within the folder). */
  readonly id: string;
  readonly run: FolderRun;
  readonly append: AppendMessage;
  readonly messageId: string | undefined;
  readonly fingerprint: string;
}

/** What was decided about a message before any byte of it was read. */
export interface Planned {
  readonly id: string;
  readonly mapped: MappedFolder & { subscribe: boolean };
  readonly run: FolderRun;
  readonly known: JournalLookup | undefined;
}

/**
 * Why a run stops early, shared by the parts of the pipeline. `fatal`: the run cannot go on safely (the journal
 * could not record an intent, the server could not be asked what a folder holds) and the error is thrown at the end.
 * `halted`: NO [OVERQUOTA] (RFC 5530 §3), so every later APPEND would fail too; the run stops reading and reports it.
 */
export class RunStop {
  fatal: MailmigrateError | undefined;
  halted: MailmigrateError | undefined;

  get stopped(): boolean {
    return this.fatal !== undefined || this.halted !== undefined;
  }
}
