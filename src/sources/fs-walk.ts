// File-system helpers shared by the readers: directory listings that notice undecodable names, loop detection
// for symlinked directories, and errno → human reason.
import { opendir, readdir } from 'node:fs/promises';
import type { Dir, Dirent, Stats } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from '../core/errors.js';
import { skipped, SourceCodes, type SourceItem } from './source.js';

export interface DirEntry {
  readonly name: string;
  readonly path: string;
  /** False when the on-disk name is not valid UTF-8 (it cannot be a folder name or a reliable path string). */
  readonly utf8: boolean;
  /** The exact on-disk path, usable even when the name is not UTF-8 (`path` then holds U+FFFD). */
  readonly fsPath: string | Buffer;
  /** The listing's own type says a regular file (d_type DT_REG). False also when the file system does not say
   *  (DT_UNKNOWN): only a hint to skip an lstat; what is opened is checked on its descriptor (safe-read.ts). */
  readonly regular: boolean;
}

/**
 * Makes the entries of one directory. A listed name is one plain component (no '/', never '.' or '..'), so
 * join(dir, name) is the normalized directory, '/', and the name: the prefix is computed once per directory, not
 * once per file (a Maildir cur/ lists every message). An ASCII name is valid UTF-8 without a round trip.
 */
function entryMaker(dir: string): (raw: Buffer, regular?: boolean) => DirEntry {
  const prefix = join(dir, '_').slice(0, -1);
  return (raw, regular = false) => {
    const name = raw.toString('utf8');
    const utf8 = isAscii(raw) || Buffer.from(name, 'utf8').equals(raw);
    const path = prefix + name;
    return { name, path, utf8, fsPath: utf8 ? path : Buffer.concat([Buffer.from(prefix), raw]), regular };
  };
}

function isAscii(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if (raw[i]! > 0x7f) return false;
  return true;
}

/** A whole, sorted listing: for directories of folders (small), never for cur/ or new/. */
export async function listDir(dir: string): Promise<DirEntry[]> {
  const names = await readdir(dir, { encoding: 'buffer' });
  const toEntry = entryMaker(dir);
  return names.map((n) => toEntry(n)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Streams a directory in batches (opendir), so a folder of a million files is never one array. */
export async function* streamDir(dir: string, batch = 256): AsyncGenerator<DirEntry[]> {
  const d = await opendir(dir, { encoding: 'buffer' as BufferEncoding, bufferSize: 128 });
  const toEntry = entryMaker(dir);
  try {
    for (;;) {
      const ents = await readBatch(d, batch);
      if (ents.length === 0) return;
      const out: DirEntry[] = new Array(ents.length);
      for (let i = 0; i < ents.length; i++) out[i] = toEntry(ents[i]!.name as unknown as Buffer, ents[i]!.isFile());
      yield out;
    }
  } finally {
    await d.close().catch(() => undefined);
  }
}

/**
 * Up to `max` entries of an open directory (none at its end), with one promise per batch: Dir's async iterator
 * makes a promise and an async-generator step per entry, about 1 KB of garbage per message of an import (issue 14,
 * measured with a sampling heap profile). Dir.read(callback) hands a buffered entry on the next tick, so a batch
 * does not grow the stack; the reads stay asynchronous (a hung file system stalls this walk, not the event loop).
 */
function readBatch(d: Dir, max: number): Promise<Dirent[]> {
  return new Promise((resolve, reject) => {
    const out: Dirent[] = [];
    const next = (err: Error | null, ent: Dirent | null): void => {
      if (err) return reject(err);
      if (ent === null) return resolve(out);
      out.push(ent);
      if (out.length >= max) return resolve(out);
      d.read(next);
    };
    d.read(next);
  });
}

export function errnoReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'does not exist (vanished, or a dangling symlink)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symlink loop';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'is not a directory';
    case 'EIO':
      return 'I/O error';
    default:
      return e?.message ?? String(err);
  }
}

/** SourceError for a failed fs call; ELOOP gets its own code. */
export function fsError(path: string, err: unknown, what = 'cannot read'): SourceError {
  const code = (err as NodeJS.ErrnoException)?.code === 'ELOOP' ? SourceCodes.LOOP : SourceCodes.UNREADABLE;
  return new SourceError(path, `${what}: ${errnoReason(err)}`, code, { cause: err });
}

/**
 * Remembers visited directories by device and inode, so a symlink back up the tree, or a second name for a folder
 * (`~/Mail -> Maildir`), is seen and not walked twice. Nothing is lost — the directory is read once, under its
 * first path — so the second path is 'skipped' (reason 'duplicate'), not a failure that would fail every run.
 */
export class LoopGuard {
  readonly #seen = new Map<string, string>();

  /** Returns the skipped item when the directory was already visited under another path. */
  enter(path: string, st: Stats): SourceItem | undefined {
    const key = `${st.dev}:${st.ino}`;
    const first = this.#seen.get(key);
    if (first !== undefined) return skipped(path, 'duplicate', `the same directory as ${first} (a symlink loop or a second link), read once there`);
    this.#seen.set(key, path);
    return undefined;
  }
}
