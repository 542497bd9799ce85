// The contract every reader implements: an async iterable of items that carries rejections as well as messages,
// so nothing found on disk disappears without a trace (issue 3, "Nothing is silently dropped").
import type { SourceMessage } from '../core/types.js';
import type { SourceError } from '../core/errors.js';
import type { ReadPool } from './read-pool.js';

export type SourceFormat = 'maildir' | 'maildir++' | 'mbox' | 'mbox-dir' | 'eml';

export type SourceItem =
  | { readonly kind: 'message'; readonly message: SourceMessage }
  | { readonly kind: 'rejected'; readonly error: SourceError };

/** Live counters of the current (or last finished) `items()` run. */
export interface SourceStats {
  /** Messages yielded. */
  yielded: number;
  /** Items yielded as 'rejected' (a message, a file or a whole folder). */
  rejected: number;
  /** Things recognised and deliberately not imported (Dovecot's X-IMAPbase pseudo-message). */
  skipped: number;
}

export interface Source {
  readonly root: string;
  readonly format: SourceFormat;
  /** Each call walks the source again from the start and resets `stats`. */
  items(): AsyncIterable<SourceItem>;
  readonly stats: SourceStats;
}

/** mbox flavours (see mbox.ts): 'auto' unquotes like mboxrd and trusts Content-Length only when it checks out. */
export type MboxVariant = 'auto' | 'mboxo' | 'mboxrd' | 'mboxcl' | 'mboxcl2';

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
  readPool?: ReadPool | undefined;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Stable error codes used by the readers (SourceError.code). */
export const SourceCodes = {
  NOT_FOUND: 'E_SOURCE_NOT_FOUND',
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
} as const;

export function newStats(): SourceStats {
  return { yielded: 0, rejected: 0, skipped: 0 };
}

export function resolveMax(options: SourceOptions | undefined): number {
  const m = options?.maxMessageBytes;
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : DEFAULT_MAX_MESSAGE_BYTES;
}
