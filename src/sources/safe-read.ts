// The one way the readers open files of a source tree. The tree is untrusted input (the tool often runs as root
// over other people's mail), and a scan's lstat/stat says nothing about what is there when the file is opened:
//  - O_NOFOLLOW: a message swapped for a symlink after the scan (to /etc/shadow) is refused, not followed;
//  - O_NONBLOCK: opening a FIFO named like a message or like dovecot-keywords returns at once instead of waiting
//    forever for a writer (a plain open(2) of a FIFO blocks until one appears);
//  - fstat on the *opened* descriptor: anything that is not a regular file (FIFO, socket, /dev/zero put in place
//    of a message) is refused before a byte is read;
//  - the size cap holds while reading, not only at fstat: a file that grows while it is read stops at the cap.
// Symlinks the scan decided to follow (inside the root, or with followSymlinks) are opened by their resolved path,
// so O_NOFOLLOW never refuses a link the user allowed.
import { close, closeSync, constants, createReadStream, fstatSync, open, openSync, read, readSync, type Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { SourceError } from '../core/errors.js';
import { errnoReason } from './fs-walk.js';
import { SourceCodes } from './source.js';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Below this size a whole file is read synchronously. Measured here on 5000 Maildir files (median 4 KB), 16 reads
 * in flight: fs/promises readFile costs 285–410 ms of main-thread CPU (a FileHandle per file, chunked reads), the
 * callback readFile 170–200 ms, readFileSync 70–110 ms. An import is CPU-bound on the client, so small files — the
 * bulk of real mail by count — are read synchronously: from the page cache that is ~15 µs each, less than the
 * event-loop hop an async read costs. Larger files go through the thread pool so a slow disk cannot stall the
 * socket work for long.
 */
const SYNC_READ_MAX_BYTES = 128 * 1024;

/** True when readRegularFile reads a file of this (expected) size synchronously, on the calling thread. */
export function readsSynchronously(sizeHint: number): boolean {
  return sizeHint <= SYNC_READ_MAX_BYTES;
}

/** Describes what a non-regular file is, for the error message. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/** SourceError for a failed open/read; a symlink met by O_NOFOLLOW is named as such. */
export function openError(path: string, err: unknown): SourceError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ELOOP') return new SourceError(path, 'is a symlink now (replaced after the scan?); not followed', SourceCodes.NOT_REGULAR, { cause: err });
  return new SourceError(path, `cannot read: ${errnoReason(err)}`, SourceCodes.UNREADABLE, { cause: err });
}

function notRegular(path: string, st: Stats): SourceError {
  return new SourceError(path, `is ${fileKind(st)}, not a regular file; not read`, SourceCodes.NOT_REGULAR);
}

function tooLarge(path: string, size: number | string, max: number): SourceError {
  return new SourceError(path, `message of ${size} bytes exceeds maxMessageBytes (${max})`, SourceCodes.TOO_LARGE);
}

/** Opens a regular file for reading (see the header); throws SourceError. The caller closes the fd. */
export function openRegularSync(path: string): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    throw openError(path, err);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw notRegular(path, stats);
    return { fd, stats };
  } catch (err) {
    closeSync(fd);
    throw err instanceof SourceError ? err : openError(path, err);
  }
}

/**
 * Reads a file whose fstat size is `size` (<= max): exactly that many bytes when the size is known (as readFileSync
 * does; growth after the fstat is not read), or, when fstat says 0 (a /proc file, a size that lies), until EOF but
 * never more than `max` bytes: past that it throws TOO_LARGE. Either way no more than max + 1 bytes are held.
 */
function readAllSync(path: string, fd: number, size: number, max: number): Buffer {
  if (size > 0) {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, null);
      if (n === 0) break; // shrank since the fstat
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, max + 1 - total));
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    parts.push(n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    if (total > max) throw tooLarge(path, `more than ${max}`, max);
  }
  return Buffer.concat(parts, total);
}

/** Reads a whole regular file of at most `max` bytes, synchronously. Throws SourceError. */
export function readRegularFileSync(path: string, max: number): Buffer {
  return readRegularFileTimedSync(path, max).data;
}

/** A file's bytes and the modification time of the very file read (fstat of the open descriptor). */
export interface FileBytes {
  readonly data: Buffer;
  readonly mtimeMs: number;
}

/**
 * readRegularFileSync, also returning the mtime from the fstat it does anyway: a Maildir walk that takes sizes from
 * the file names (",S=") then needs no lstat per message — one open, fstat, read, close per message.
 */
export function readRegularFileTimedSync(path: string, max: number): FileBytes {
  const { fd, stats } = openRegularSync(path);
  try {
    if (stats.size > max) throw tooLarge(path, stats.size, max);
    return { data: readAllSync(path, fd, stats.size, max), mtimeMs: stats.mtimeMs };
  } catch (err) {
    throw err instanceof SourceError ? err : openError(path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens on the thread pool (open(2) may wait on a slow disk) and fstat's synchronously: fstat on an open fd only
 * reads the inode already in memory, and one thread-pool hop fewer per message matters when an mbox is re-read
 * message by message.
 */
function openAsync(path: string): Promise<{ fd: number; stats: Stats }> {
  return new Promise((resolve, reject) => {
    open(path, OPEN_FLAGS, (err, fd) => {
      if (err) return reject(openError(path, err));
      let stats: Stats;
      try {
        stats = fstatSync(fd);
      } catch (serr) {
        close(fd, () => reject(openError(path, serr)));
        return;
      }
      if (!stats.isFile()) {
        close(fd, () => reject(notRegular(path, stats)));
        return;
      }
      resolve({ fd, stats });
    });
  });
}

function readAsync(fd: number, buf: Buffer, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function closeAsync(fd: number): Promise<void> {
  return new Promise((resolve) => close(fd, () => resolve()));
}

/**
 * Reads a whole regular file of at most `max` bytes, with its mtime. Small files are read synchronously (SYNC_READ_MAX_BYTES),
 * larger ones through the thread pool. Throws SourceError.
 */
export async function readRegularFile(path: string, max: number, sizeHint: number): Promise<FileBytes> {
  if (readsSynchronously(sizeHint)) return readRegularFileTimedSync(path, max);
  const { fd, stats } = await openAsync(path);
  try {
    if (stats.size > max) throw tooLarge(path, stats.size, max);
    // A size that lies: bounded, see readAllSync.
    if (stats.size === 0) return { data: readAllSync(path, fd, 0, max), mtimeMs: stats.mtimeMs };
    const buf = Buffer.allocUnsafe(stats.size);
    let got = 0;
    while (got < stats.size) {
      const n = await readAsync(fd, buf.subarray(got), null);
      if (n === 0) break; // shrank since the fstat
      got += n;
    }
    return { data: got === stats.size ? buf : buf.subarray(0, got), mtimeMs: stats.mtimeMs };
  } catch (err) {
    throw err instanceof SourceError ? err : openError(path, err);
  } finally {
    await closeAsync(fd);
  }
}

/** The first `n` bytes of a regular file (fewer if it is shorter). Throws SourceError. */
export function readRegularHead(path: string, n: number): Buffer {
  const { fd } = openRegularSync(path);
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } catch (err) {
    throw openError(path, err);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes at `position` of a regular file (fewer if it shrank). Throws SourceError. */
export async function readRegularRange(path: string, position: number, length: number): Promise<Buffer> {
  const { fd } = await openAsync(path);
  try {
    const buf = Buffer.allocUnsafe(length);
    const n = await readAsync(fd, buf, position);
    return buf.subarray(0, n);
  } catch (err) {
    throw err instanceof SourceError ? err : openError(path, err);
  } finally {
    await closeAsync(fd);
  }
}

/** A read stream over a regular file, opened as above (the stream owns and closes the fd). Throws SourceError. */
export function openRegularStream(path: string, highWaterMark: number): { stream: Readable; stats: Stats } {
  const { fd, stats } = openRegularSync(path);
  return { stream: createReadStream('', { fd, highWaterMark, autoClose: true }), stats };
}
