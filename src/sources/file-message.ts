import type { InternalDateSource, NormalizedMessage, SourceMessage } from '../core/types.js';
import { normalizeMessage } from './normalize.js';
import { readRegularFile } from './safe-read.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type MessageFileReader } from './source.js';

/** A message that is a whole file (Maildir entry, .eml): located while scanning, its bytes read on read(). */
export class FileMessage implements SourceMessage {
  constructor(
    readonly id: string,
    readonly folder: readonly string[],
    readonly flags: readonly string[],
    readonly internalDate: Date | undefined,
    readonly internalDateSource: InternalDateSource,
    readonly size: number,
    readonly origin: string,
    private readonly pool?: MessageFileReader | undefined,
    readonly deleted = false,
    /** The cap that holds while reading (safe-read.ts), not only at scan time. */
    private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES,
    /** What to open: the resolved target when `origin` is an allowed symlink. */
    private readonly openPath: string = origin,
  ) {}

  async read(): Promise<NormalizedMessage> {
    if (this.pool) return this.pool.read(this.openPath, this.origin, this.maxBytes);
    // Opened without following links or blocking, fstat'd, capped while reading: the file may have been swapped
    // for a FIFO, a device or a symlink since the scan (safe-read.ts). Errors are SourceErrors naming `openPath`.
    const raw = await readRegularFile(this.openPath, this.maxBytes, this.size);
    return normalizeMessage(raw, this.origin);
  }
}
