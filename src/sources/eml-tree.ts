// A tree of .eml files (one RFC 5322 message per file, as saved by mail clients or exported by tools):
// files at the root go to INBOX, sub-directories become folders. INTERNALDATE comes from the Date: header, then
// the newest Received: header (the top one, RFC 5321 §4.4), then the file's mtime — there is no delivery record.
import { open } from 'node:fs/promises';
import { FileMessage } from './file-message.js';
import type { ReadPool } from './read-pool.js';
import { basename, relative } from 'node:path';
import type { InternalDateSource } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { headerBlockEnd, headerValue, parseHeaderFields, parseReceivedDate, parseRfc5322Date, startsWithHeaderField } from './headers.js';
import { canonicalFolder, decodeFsName, folderLabel, FolderRegistry } from './folder-name.js';
import { fsError, listDir, LoopGuard, statOrError } from './fs-walk.js';
import { newStats, resolveMax, SourceCodes, type Source, type SourceItem, type SourceOptions } from './source.js';

/** How much of a file is read while scanning to find its dates; a header block longer than this is rare. */
const HEAD_BYTES = 64 * 1024;


async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export class EmlTreeSource implements Source {
  stats = newStats();
  readonly format = 'eml' as const;
  readonly #max: number;
  readonly #pool: ReadPool | undefined;

  constructor(
    readonly root: string,
    options?: SourceOptions,
  ) {
    this.#max = resolveMax(options);
    this.#pool = options?.readPool;
  }

  async *items(): AsyncGenerator<SourceItem> {
    const stats = newStats();
    this.stats = stats;
    const st = await statOrError(this.root);
    const gen = st instanceof SourceError ? (async function* () { yield { kind: 'rejected', error: st } as SourceItem; })() : st.isFile() ? this.#file(this.root, []) : this.#dir(this.root, [], new LoopGuard(), new FolderRegistry());
    for await (const item of gen) {
      if (item.kind === 'message') stats.yielded++;
      else stats.rejected++;
      yield item;
    }
  }

  async *#dir(dir: string, folder: string[], guard: LoopGuard, registry: FolderRegistry): AsyncGenerator<SourceItem> {
    const st = await statOrError(dir);
    if (st instanceof SourceError) return yield { kind: 'rejected', error: st };
    const loop = guard.enter(dir, st);
    if (loop) return yield { kind: 'rejected', error: loop };
    const owner = registry.claim(canonicalFolder(folder), dir);
    if (owner !== undefined) {
      const reason = `folder "${folderLabel(canonicalFolder(folder))}" is also the decoded name of ${owner}; this folder was not read`;
      return yield { kind: 'rejected', error: new SourceError(dir, reason, SourceCodes.FOLDER_COLLISION) };
    }
    let entries;
    try {
      entries = await listDir(dir);
    } catch (err) {
      return yield { kind: 'rejected', error: fsError(dir, err, 'cannot list directory') };
    }
    const subdirs: typeof entries = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const isEml = /\.eml$/i.test(e.name);
      const est = await statOrError(e.path, e.fsPath);
      if (est instanceof SourceError) {
        if (isEml || est.code === SourceCodes.LOOP) yield { kind: 'rejected', error: est };
        continue;
      }
      if (est.isDirectory()) subdirs.push(e);
      else if (isEml) yield* this.#file(e.path, folder);
    }
    for (const e of subdirs) {
      if (!e.utf8) {
        yield { kind: 'rejected', error: new SourceError(e.path, 'folder name is not valid UTF-8; folder not read', SourceCodes.FOLDER_NAME) };
        continue;
      }
      yield* this.#dir(e.path, [...folder, decodeFsName(e.name)], guard, registry);
    }
  }

  async *#file(path: string, folder: string[]): AsyncGenerator<SourceItem> {
    const reject = (reason: string, code: string): SourceItem => ({ kind: 'rejected', error: new SourceError(path, reason, code) });
    const st = await statOrError(path);
    if (st instanceof SourceError) return yield { kind: 'rejected', error: st };
    if (!st.isFile()) return yield reject('not a regular file', SourceCodes.UNREADABLE);
    if (st.size === 0) return yield reject('empty file (0 bytes)', SourceCodes.EMPTY);
    if (st.size > this.#max) return yield reject(`message of ${st.size} bytes exceeds maxMessageBytes (${this.#max})`, SourceCodes.TOO_LARGE);
    let head: Buffer;
    try {
      head = await readHead(path);
    } catch (err) {
      return yield { kind: 'rejected', error: fsError(path, err) };
    }
    if (!startsWithHeaderField(head)) {
      return yield reject('not a message: it does not start with a header field ("Name: value")', SourceCodes.NOT_MESSAGE);
    }
    const end = headerBlockEnd(head);
    const fields = parseHeaderFields(end < 0 ? head : head.subarray(0, end));
    let date = parseRfc5322Date(headerValue(fields, 'date'));
    let from: InternalDateSource = 'date-header';
    if (!date) {
      date = parseReceivedDate(headerValue(fields, 'received'));
      from = 'received-header';
    }
    if (!date) {
      date = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
      from = 'mtime';
    }
    const rel = relative(this.root, path) || basename(path);
    const target = canonicalFolder(folder);
    yield { kind: 'message', message: new FileMessage(`eml:${rel}`, target, [], date, from, st.size, path, this.#pool) };
  }
}
