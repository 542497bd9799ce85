import type { InternalDateSource, NormalizedMessage, SourceMessage } from '../core/types.js';
import { normalizeMessage } from './normalize.js';
import { readRegularFile, readRegularFileTimedSync, readsSynchronously } from './safe-read.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type MessageFileReader } from './source.js';

/** INTERNALDATE from the mtime of the file read, for a message the walk did not stat (maildir.ts, ",S=" names). */
export type DateFromMtime = (mtimeMs: number) => { readonly date: Date | undefined; readonly source: InternalDateSource };

/** A message that is a whole file (Maildir entry, .eml): located while scanning, its bytes read on read(). */
export class FileMessage implements SourceMessage {
  #internalDate: Date | undefined;
  #internalDateSource: InternalDateSource;
  #dateAtRead: DateFromMtime | undefined;

  constructor(
    readonly id: string,
    readonly folder: readonly string[],
    readonly flags: readonly string[],
    internalDate: Date | undefined,
    internalDateSource: InternalDateSource,
    readonly size: number,
    readonly origin: string,
    private readonly pool?: MessageFileReader | undefined,
    readonly deleted = false,
    /** The cap that holds while reading (safe-read.ts), not only at scan time. */
    private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
    /** What to open: the resolved target when `origin` is an allowed symlink. */
    private readonly openPath: string = origin,
    /**
     * Set when the walk took the size from the file name and did not stat the file: the date then comes from the
     * fstat of the descriptor read (one open/fstat/read/close per message, no lstat), and is known after read().
     */
    dateAtRead?: DateFromMtime,
  ) {
    this.#internalDate = internalDate;
    this.#internalDateSource = internalDateSource;
    this.#dateAtRead = dateAtRead;
  }

  /** With `dateAtRead`, undefined until read() (the importer asks only after reading). */
  get internalDate(): Date | undefined {
    return this.#internalDate;
  }

  get internalDateSource(): InternalDateSource {
    return this.#internalDateSource;
  }

  /**
   * The message, read now, when read() would read it on this thread anyway (no read pool, a file small enough to be
   * read synchronously: safe-read.ts); else undefined. Throws what read() would reject with. The read-ahead uses
   * it to make no promise per message (issue 14: bytes allocated per message).
   */
  readNow(): NormalizedMessage | undefined {
    if (!readsSynchronously(this.size) || this.#viaPool()) return undefined;
    const raw = readRegularFileTimedSync(this.openPath, this.maxBytes);
    this.#dated(raw.mtimeMs);
    return normalizeMessage(raw.data, this.origin);
  }

  async read(): Promise<NormalizedMessage> {
    const now = this.readNow();
    if (now) return now;
    if (this.#viaPool()) {
      const n = await this.pool!.read(this.openPath, this.origin, this.maxBytes);
      this.#dated(n.mtimeMs);
      return n;
    }
    // Opened without following links or blocking, fstat'd, capped while reading: the file may have been swapped
    // for a FIFO, a device or a symlink since the scan (safe-read.ts). Errors are SourceErrors naming `openPath`.
    const raw = await readRegularFile(this.openPath, this.maxBytes, this.size);
    this.#dated(raw.mtimeMs);
    return normalizeMessage(raw.data, this.origin);
  }

  /** Whether the read pool takes this message; asked once (the pool counts its warm-up by the asking). */
  #viaPool(): boolean {
    return (this.#pooled ??= this.pool?.wants() ?? false);
  }
  #pooled: boolean | undefined;

  #dated(mtimeMs: number): void {
    if (!this.#dateAtRead) return;
    const d = this.#dateAtRead(mtimeMs);
    this.#internalDate = d.date;
    this.#internalDateSource = d.source;
    this.#dateAtRead = undefined;
  }
}
