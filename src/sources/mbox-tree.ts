// An mbox source: one mbox file (one folder, named after the file) or a directory of them (a folder tree:
// sub-directories are folder levels; Thunderbird's "Name.sbd/" holds the children of the mbox file "Name").
import { open, stat } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { SourceError } from '../core/errors.js';
import { canonicalFolder, decodeFsName, folderLabel, FolderRegistry } from './folder-name.js';
import { fsError, listDir, LoopGuard, statOrError } from './fs-walk.js';
import { readMboxFile } from './mbox.js';
import { newStats, resolveMax, SourceCodes, type MboxVariant, type Source, type SourceItem, type SourceOptions } from './source.js';

/** Files found beside mboxes that are indexes or state, not mail (Thunderbird .msf, Dovecot, lock files). */
export function isMboxSidecar(name: string): boolean {
  return name.startsWith('.') || /\.(msf|lock|dat|idx|sqlite|json|html?)$/i.test(name) || /^(dovecot|subscriptions$|msgFilterRules)/i.test(name);
}

/** "Archive.mbox.gz" → "Archive": the folder named after the file. */
export function mboxFolderName(fileName: string): string {
  return decodeFsName(fileName.replace(/\.gz$/i, '').replace(/\.(mbox|mbx)$/i, ''));
}

export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export class MboxSource implements Source {
  stats = newStats();
  readonly #max: number;
  readonly #variant: MboxVariant;

  constructor(
    readonly root: string,
    readonly format: 'mbox' | 'mbox-dir',
    options?: SourceOptions,
  ) {
    this.#max = resolveMax(options);
    this.#variant = options?.mboxVariant ?? 'auto';
  }

  async *items(): AsyncGenerator<SourceItem> {
    const stats = newStats();
    this.stats = stats;
    const gen = this.format === 'mbox' ? this.#file(this.root, canonicalFolder([mboxFolderName(basename(this.root))]), basename(this.root)) : this.#dir(this.root, [], new LoopGuard(), new FolderRegistry());
    for await (const item of gen) {
      if (item.kind === 'skipped') {
        stats.skipped++;
        continue;
      }
      if (item.kind === 'message') stats.yielded++;
      else stats.rejected++;
      yield item;
    }
  }

  async *#file(path: string, folder: string[], label: string): AsyncGenerator<SourceItem | { kind: 'skipped' }> {
    let gzip: boolean;
    try {
      const st = await stat(path);
      if (!st.isFile()) {
        yield { kind: 'rejected', error: new SourceError(path, 'not a regular file', SourceCodes.UNREADABLE) };
        return;
      }
      if (st.size === 0) return; // an empty mbox is an empty folder (Thunderbird creates them), not an error
      gzip = await isGzipFile(path);
    } catch (err) {
      yield { kind: 'rejected', error: fsError(path, err) };
      return;
    }
    yield* readMboxFile({ path, folder, label, gzip, maxMessageBytes: this.#max, variant: this.#variant });
  }

  async *#dir(dir: string, parent: string[], guard: LoopGuard, registry: FolderRegistry): AsyncGenerator<SourceItem | { kind: 'skipped' }> {
    const st = await statOrError(dir);
    if (st instanceof SourceError) {
      yield { kind: 'rejected', error: st };
      return;
    }
    const loop = guard.enter(dir, st);
    if (loop) {
      yield { kind: 'rejected', error: loop };
      return;
    }
    let entries;
    try {
      entries = await listDir(dir);
    } catch (err) {
      yield { kind: 'rejected', error: fsError(dir, err, 'cannot list directory') };
      return;
    }
    for (const e of entries) {
      if (isMboxSidecar(e.name)) continue;
      const est = await statOrError(e.path, e.fsPath);
      if (est instanceof SourceError) {
        yield { kind: 'rejected', error: est };
        continue;
      }
      if (!e.utf8) {
        yield { kind: 'rejected', error: new SourceError(e.path, 'name is not valid UTF-8; not read', SourceCodes.FOLDER_NAME) };
        continue;
      }
      if (est.isDirectory()) {
        const name = decodeFsName(e.name.replace(/\.sbd$/i, ''));
        yield* this.#dir(e.path, [...parent, name], guard, registry);
        continue;
      }
      const folder = canonicalFolder([...parent, mboxFolderName(e.name)]);
      const owner = registry.claim(folder, e.path);
      if (owner !== undefined) {
        yield {
          kind: 'rejected',
          error: new SourceError(e.path, `folder "${folderLabel(folder)}" is also the name of ${owner}; this file was not read`, SourceCodes.FOLDER_COLLISION),
        };
        continue;
      }
      yield* this.#file(e.path, folder, relative(this.root, e.path));
    }
  }
}
