// The contract every reader implements: an async iterable of items that carries rejections as well as messages,
// so nothing found on disk disappears without a trace (issue 3, "Nothing is silently dropped").
import type { NormalizedMessage, SourceMessage } from '../core/types.js';
import type { SourceError } from '../core/errors.js';

/** 'mixed': a tree holding several kinds of store side by side (discover.ts); never a format a user forces. */
export type SourceFormat = 'maildir' | 'maildir++' | 'mbox' | 'mbox-dir' | 'eml' | 'mixed';

/**
 * Why a path was deliberately not imported. Every path of a source tree ends in exactly one bucket: a message,
 * a 'rejected' item (a failure, with a SourceError) or a 'skipped' item with one of these reasons:
 *  - 'not-mail': zero-byte files, OS clutter (Thumbs.db, .DS_Store), index and state files of mail programs
 *    (dovecot.index*, dovecot-uidlist, courierimapuiddb, .msf, Info.plist), text without a header block;
 *  - 'symlink-outside': a symlink whose target lies outside the source root (SourceOptions.followSymlinks);
 *  - 'duplicate': a second path to a directory already read (a symlink loop, `~/Mail -> Maildir`);
 *  - 'deleted': reserved for consumers that skip messages flagged `deleted` (readers still yield those);
 *  - 'excluded': reserved for consumers applying the user's folder selection.
 */
export type SkipReason = 'not-mail' | 'symlink-outside' | 'duplicate' | 'deleted' | 'excluded';

export interface SkippedPath {
  readonly path: string;
  readonly reason: SkipReason;
  /** For humans: what the thing is ("Dovecot index file", "Windows thumbnail cache", "-> /etc/shadow"). */
  readonly detail: string;
}

export type SourceItem =
  | { readonly kind: 'message'; readonly message: SourceMessage }
  | { readonly kind: 'rejected'; readonly error: SourceError }
  | ({ readonly kind: 'skipped' } & SkippedPath);

/** A folder of the source, yielded whether or not it holds messages (so empty folders can be created). */
export interface SourceFolder {
  /** Target folder as a list of names; [] is INBOX. */
  readonly folder: readonly string[];
  /** Where it lives on disk. */
  readonly path: string;
  /** From the source's subscription list where it has one (Maildir++ `subscriptions`, Courier `courierimapsubscribed`). */
  readonly subscribed?: boolean | undefined;
  /** Set when the on-disk name had to be repaired (invalid modified UTF-7): what was done, for a warning. */
  readonly repaired?: string | undefined;
}

/** Live counters of the current (or last finished) `items()` run. */
export interface SourceStats {
  /** Messages yielded. */
  yielded: number;
  /** Items yielded as 'rejected' (a message, a file or a whole folder). */
  rejected: number;
  /** Items yielded as 'skipped' (plus Dovecot's X-IMAPbase pseudo-message, which is counted, not yielded). */
  skipped: number;
  /** Skipped items per reason. */
  skippedBy: Partial<Record<SkipReason, number>>;
}

export interface Source {
  readonly root: string;
  readonly format: SourceFormat;
  /** Each call walks the source again from the start and resets `stats`. */
  items(): AsyncIterable<SourceItem>;
  /**
   * One of several walks of this source at once (WalkShare); absent where a source cannot share its walk, and then
   * it is read by one walk. Together the walks yield what one items() walk yields, each item once.
   */
  sharedItems?(share: WalkShare): AsyncIterable<SourceItem>;
  /** Every folder of the source, empty ones included, without reading messages. */
  folders(): AsyncIterable<SourceFolder>;
  readonly stats: SourceStats;
  /** One-line notes for the user about the whole source (e.g. "dates taken from file names: ..."), after a walk. */
  readonly notes: readonly string[];
}

/**
 * One of several walks of a source at once (the importer's folder lanes, src/migrate/folder-lanes.ts: a server that
 * takes one connection a folder fills several folders at a time). Each folder's messages go to the walk that claims
 * the folder; whatever is nobody's message (a stray file, an unreadable directory, a loop, a name collision, a skipped
 * path) to the `strays` walk alone, so every item of the source is yielded by exactly one walk. Every walk still
 * lists the tree's directories to find its folders; only the claimed folders' messages are listed and read. The
 * first walk to start resets `stats` and `notes`; walks that start while another runs add to them.
 */
export interface WalkShare {
  /** Whether this walk reads `folder`'s messages; asked when the walk reaches the folder, before any is listed. The
   *  same walk may ask again about the same folder (an .eml tree asks per file) and must get the same answer. */
  claim(folder: readonly string[]): boolean;
  readonly strays: boolean;
}

/**
 * The message walks of one source running now (items(), sharedItems()): the first to start while none runs begins
 * the source's counts and notes (`reset`), walks that start while it runs add to them (WalkShare). A walk enters when
 * its generator starts and leaves when it ends or is closed.
 */
export class WalkRuns {
  #running = 0;

  constructor(private readonly reset: () => void) {}

  enter(): void {
    if (this.#running++ === 0) this.reset();
  }

  leave(): void {
    this.#running--;
  }
}

/** mbox flavours (see mbox.ts): 'auto' unquotes like mboxrd and trusts Content-Length only when it checks out. */
export type MboxVariant = 'auto' | 'mboxo' | 'mboxrd' | 'mboxcl' | 'mboxcl2';

/**
 * Reads, normalizes and fingerprints one message file off the main thread (ReadPool, read-pool.ts, is the one
 * implementation). Declared here, by what the readers need, so that this contract does not import the pool (which
 * imports this file's limits): no import cycle inside sources.
 */
export interface MessageFileReader {
  /** Asked once per message: false leaves it to the calling thread (the pool's warm-up, read-pool.ts). */
  wants(): boolean;
  /** The message, and the mtime of the file read (fstat of its descriptor). */
  read(path: string, origin: string, maxBytes?: number): Promise<NormalizedMessage & { readonly mtimeMs: number }>;
}

export interface SourceOptions {
  /** Force a format instead of detecting it. */
  format?: SourceFormat | undefined;
  /**
   * Largest message accepted, in raw bytes. read() holds a message whole in memory and normalizing needs about
   * twice its size for a moment, so the cap bounds memory per message in flight. Default 64 MiB: above the
   * 25–50 MB limits of the big providers, so a message it refuses would be refused by the server anyway.
   */
  maxMessageBytes?: number | undefined;
  mboxVariant?: MboxVariant | undefined;
  /** Read whole-file messages (Maildir, .eml) on these worker threads instead of the main thread. */
  readPool?: MessageFileReader | undefined;
  /**
   * Follow symlinks whose target lies outside the source root. Default false: the tool often runs as root over
   * someone else's mail, and a link in cur/ to /etc/shadow or a folder linked to another account's Maildir must
   * not be uploaded; such links become 'skipped' items with reason 'symlink-outside'.
   */
  followSymlinks?: boolean | undefined;
  /**
   * Longest mbox line accepted, in bytes (default 1 MiB; RFC 5322 §2.1.1 allows 998). A line with no end (a corrupt
   * or sparse file, a gzip bomb) fails that file with bounded memory instead of being buffered whole.
   */
  maxLineBytes?: number | undefined;
}

export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Stable error codes used by the readers (SourceError.code). */
export const SourceCodes = {
  NOT_FOUND: 'E_SOURCE_NOT_FOUND',
  /** Two sources of one run are the same tree, or one lies inside another (source-overlap.ts). */
  OVERLAP: 'E_SOURCE_OVERLAP',
  UNKNOWN_FORMAT: 'E_SOURCE_UNKNOWN_FORMAT',
  EMPTY: 'E_SOURCE_EMPTY',
  NOT_MESSAGE: 'E_SOURCE_NOT_MESSAGE',
  UNREADABLE: 'E_SOURCE_UNREADABLE',
  TOO_LARGE: 'E_SOURCE_TOO_LARGE',
  MBOX_TRUNCATED: 'E_SOURCE_MBOX_TRUNCATED',
  MBOX_FROM_LINE: 'E_SOURCE_MBOX_FROM_LINE',
  FOLDER_NAME: 'E_SOURCE_FOLDER_NAME',
  FOLDER_COLLISION: 'E_SOURCE_FOLDER_COLLISION',
  LOOP: 'E_SOURCE_LOOP',
  /** A FIFO, socket or device where a message, a keywords file or a folder was expected. */
  NOT_REGULAR: 'E_SOURCE_NOT_REGULAR',
  /** An mbox line longer than maxLineBytes. */
  LINE_TOO_LONG: 'E_SOURCE_LINE_TOO_LONG',
  /** Mail in a format that is not read (Apple .emlx, Outlook .pst/.msg/.dbx): the message says how to convert it. */
  UNSUPPORTED: 'E_SOURCE_UNSUPPORTED',
  /** Several stores found whose places in the target cannot be decided without the user (discover.ts). */
  AMBIGUOUS: 'E_SOURCE_AMBIGUOUS',
} as const;

export function newStats(): SourceStats {
  return { yielded: 0, rejected: 0, skipped: 0, skippedBy: {} };
}

/** Counts one item into `stats` (every reader's items() goes through this). */
export function countItem(stats: SourceStats, item: SourceItem): void {
  if (item.kind === 'message') stats.yielded++;
  else if (item.kind === 'rejected') stats.rejected++;
  else {
    stats.skipped++;
    stats.skippedBy[item.reason] = (stats.skippedBy[item.reason] ?? 0) + 1;
  }
}

export function skipped(path: string, reason: SkipReason, detail: string): SourceItem {
  return { kind: 'skipped', path, reason, detail };
}

export function resolveMaxLine(options: SourceOptions | undefined): number {
  const m = options?.maxLineBytes;
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : DEFAULT_MAX_LINE_BYTES;
}

export function resolveMax(options: SourceOptions | undefined): number {
  const m = options?.maxMessageBytes;
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : DEFAULT_MAX_MESSAGE_BYTES;
}
