// One Maildir folder's messages as SourceMessages: identity, flags and keywords from the file name, INTERNALDATE
// from the file time or, when the copy did not keep times, from the delivery time in the name.
import { SourceError } from '../core/errors.js';
import type { InternalDateSource } from '../core/types.js';
import { FileMessage } from './file-message.js';
import { folderLabel } from './folder-name.js';
import type { DirEntry } from './fs-walk.js';
import type { FolderKeywords } from './maildir-keywords.js';
import { courierKey, maildirFlags, parseMaildirNameParts } from './maildir-name.js';
import { notMailName } from './not-mail.js';
import { skipped, SourceCodes, type MessageFileReader, type SourceItem } from './source.js';
import { isResolved, type ResolvedEntry } from './tree-guard.js';

/** An mtime before 1970-01-02 means "unknown" (archives extracted without times); the file name is better. */
const MIN_PLAUSIBLE_MS = 86_400_000;

/** A delivery time in the file name older than the mtime by more than this means the copy did not keep times. */
const MTIME_AFTER_NAME_MS = 86_400_000;

/** Messages dated from their file name although they had a plausible mtime: counted for the run's notes. */
export interface NameDated {
  count: number;
  readonly folders: Set<string>;
}

/** What every message of one folder shares; `message()` builds each one. */
export class MaildirFolderMessages {
  readonly #idPrefix: string;

  constructor(
    readonly folder: string[],
    private readonly keywords: FolderKeywords,
    private readonly dated: NameDated,
    private readonly pool: MessageFileReader | undefined,
    private readonly maxBytes: number,
  ) {
    this.#idPrefix = `maildir:${folderLabel(folder)}/`;
  }

  // The bucket of each entry of cur/ or new/. Plain functions, apart from the walk's async generator: they run once
  // per message, and a small function is optimized sooner and at less cost than one large generator body.

  /** A regular file whose name carries its size (",S="): not stat'd, its date is decided when it is read. */
  sizedEntry(e: DirEntry, path: string, size: number): SourceItem {
    const known = notMailName(e.name);
    if (known) return skipped(path, 'not-mail', known);
    if (size === 0) return skipped(path, 'not-mail', 'empty file (0 bytes)');
    if (size > this.maxBytes) return { kind: 'rejected', error: new SourceError(path, `message of ${size} bytes exceeds maxMessageBytes (${this.maxBytes})`, SourceCodes.TOO_LARGE) };
    return { kind: 'message', message: this.message(e.name, path, e.fsPath as string, size, undefined) };
  }

  /** Any other entry, after the walk resolved it (lstat, and the symlink rules of tree-guard.ts). */
  listedEntry(e: DirEntry, path: string, res: ResolvedEntry | SourceItem, sub: string): SourceItem {
    if (!isResolved(res)) return res;
    if (e.name.startsWith('.')) return skipped(path, 'not-mail', 'hidden file');
    if (res.kind === 'dir') return { kind: 'rejected', error: new SourceError(path, `a directory inside ${sub}/; not read`, SourceCodes.NOT_MESSAGE) };
    const known = notMailName(e.name);
    if (known) return skipped(path, 'not-mail', known);
    if (!e.utf8) return { kind: 'rejected', error: new SourceError(path, 'file name is not valid UTF-8', SourceCodes.UNREADABLE) };
    const size = res.stats.size;
    if (size === 0) return skipped(path, 'not-mail', 'empty file (0 bytes)');
    if (size > this.maxBytes) return { kind: 'rejected', error: new SourceError(path, `message of ${size} bytes exceeds maxMessageBytes (${this.maxBytes})`, SourceCodes.TOO_LARGE) };
    return { kind: 'message', message: this.message(e.name, path, res.real as string, size, res.stats.mtimeMs) };
  }

  /** `mtimeMs` undefined: not stat'd (size from the name); the date is then decided when the file is read. */
  message(name: string, path: string, real: string, size: number, mtimeMs: number | undefined): FileMessage {
    const n = parseMaildirNameParts(name);
    const flags = maildirFlags(n.info, this.keywords.letters);
    if (this.keywords.courier.size) for (const k of this.keywords.courier.get(courierKey(name)) ?? []) if (!flags.includes(k)) flags.push(k);
    const deleted = n.info.includes('T');
    const id = this.#idPrefix + n.base;
    if (mtimeMs === undefined) {
      const timeMs = n.timeMs;
      return new FileMessage(id, this.folder, flags, undefined, 'none', size, path, this.pool, deleted, this.maxBytes, real, (m) => this.#dateOf(m, timeMs));
    }
    const d = this.#dateOf(mtimeMs, n.timeMs);
    return new FileMessage(id, this.folder, flags, d.date, d.source, size, path, this.pool, deleted, this.maxBytes, real);
  }

  /** INTERNALDATE has 1 s resolution; `nameMs` is NaN when the name carries no delivery time. */
  #dateOf(mtime: number, nameMs: number): { date: Date | undefined; source: InternalDateSource } {
    const hasName = !Number.isNaN(nameMs);
    if (mtime >= MIN_PLAUSIBLE_MS && !(hasName && mtime - nameMs > MTIME_AFTER_NAME_MS)) {
      return { date: new Date(Math.floor(mtime / 1000) * 1000), source: 'mtime' };
    }
    if (!hasName) return { date: undefined, source: 'none' };
    if (mtime >= MIN_PLAUSIBLE_MS) {
      this.dated.count++;
      this.dated.folders.add(folderLabel(this.folder));
    }
    return { date: new Date(nameMs), source: 'filename' };
  }
}
