import type { InternalDateSource, NormalizedMessage, SourceMessage } from '../core/types.js';
import { fsError } from './fs-walk.js';
import { normalizeMessage } from './normalize.js';
import { readFileFast } from './read-file.js';
import type { ReadPool } from './read-pool.js';

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
    private readonly pool?: ReadPool | undefined,
  ) {}

  async read(): Promise<NormalizedMessage> {
    if (this.pool) return this.pool.read(this.origin, this.origin);
    let raw: Buffer;
    try {
      raw = await readFileFast(this.origin, this.size);
    } catch (err) {
      throw fsError(this.origin, err);
    }
    return normalizeMessage(raw, this.origin);
  }
}
