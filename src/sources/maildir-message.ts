// One Maildir folder's messages as SourceMessages: identity, flags and keywords from the file name, INTERNALDATE
// from the file time or, when the copy did not keep times, from the delivery time in the name.
import type { InternalDateSource } from '../core/types.js';
import { FileMessage } from './file-message.js';
import { folderLabel } from './folder-name.js';
import type { FolderKeywords } from './maildir-keywords.js';
import { courierKey, maildirFlags, parseMaildirNameParts } from './maildir-name.js';
import type { MessageFileReader } from './source.js';

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
