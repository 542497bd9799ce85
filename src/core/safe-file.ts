// Creating the files we write (--report, --trace, --journal, their lock) without following links. Those paths
// are often in a shared directory such as /tmp, where another user can plant a symbolic link named like our
// file: opening it with a plain open(O_CREAT|O_TRUNC) then chmod truncated the link's *target* and made it 0600
// (issue 13). Here:
//   - whole files are written to a new temp name in the same directory, created O_CREAT|O_EXCL|O_NOFOLLOW (it
//     cannot be anyone's existing file or link), then renamed over the path: rename(2) replaces a link, it never
//     writes through one, so the target of a planted link is untouched even if the link appears after our check;
//   - files opened to append (the journal) use O_NOFOLLOW and must be a regular file with one link (a hard link
//     planted in a shared directory is refused too).
// A link at the path is refused with an error naming the option, rather than silently replaced, so the admin
// learns that something odd sits where they asked us to write.
import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';

export interface SafeFileOptions {
  /** The option (or thing) the path came from, for errors: '--report', '--trace', 'journal'. */
  readonly option: string;
  /** File mode of a created file; default 0600 (our outputs name accounts, folders and Message-IDs). */
  readonly mode?: number;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Refuses a path that exists and is not a plain regular file (a symlink, a directory, a FIFO, a device). Call it
 *  early for a file written at the end of a long run, so the admin learns before the run, not after. */
export function refuseOddPath(path: string, option: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw new ConfigError(option, `cannot check ${path} (${code(err) ?? 'error'})`);
  }
  if (st.isSymbolicLink()) {
    throw new ConfigError(option, `${path} is a symbolic link; refusing to write through it (remove it or choose another path)`);
  }
  if (!st.isFile()) throw new ConfigError(option, `${path} exists and is not a regular file`);
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function openExclusive(path: string, mode: number, option: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, mode);
  } catch (err) {
    throw new ConfigError(option, `cannot create a file in ${dirname(path)} (${code(err) ?? 'error'})`);
  }
}

/** Creates (or replaces) `path` with `data`, durably: temp file, fsync, rename. Never follows a link. */
export function writeFileNoFollow(path: string, data: string | Uint8Array, options: SafeFileOptions): void {
  refuseOddPath(path, options.option);
  const temp = tempPath(path);
  const fd = openExclusive(temp, options.mode ?? 0o600, options.option);
  try {
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    try { unlinkSync(temp); } catch { /* already renamed or gone */ }
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(options.option, `cannot write ${path} (${code(err) ?? 'error'})`);
  }
}

/**
 * A new, empty file at `path` open for writing (a trace written as the run goes): created under a temp name and
 * renamed into place at once, so the inode written to is always our own. Returns the file descriptor.
 */
export function createFileNoFollow(path: string, options: SafeFileOptions): number {
  refuseOddPath(path, options.option);
  const temp = tempPath(path);
  const fd = openExclusive(temp, options.mode ?? 0o600, options.option);
  try {
    renameSync(temp, path);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(temp); } catch { /* gone */ }
    throw new ConfigError(options.option, `cannot create ${path} (${code(err) ?? 'error'})`);
  }
  return fd;
}

/**
 * Opens `path` to read and append (created if missing), never through a symbolic link, and only if it is a
 * regular file with a single link. Flags as open(2)'s "a+". Returns the file descriptor.
 */
export function openAppendNoFollow(path: string, options: SafeFileOptions): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | NOFOLLOW, options.mode ?? 0o600);
  } catch (err) {
    // ELOOP is what O_NOFOLLOW gives for a link as the last component.
    if (code(err) === 'ELOOP') {
      throw new ConfigError(options.option, `${path} is a symbolic link; refusing to write through it (remove it or choose another path)`);
    }
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile() || st.nlink > 1) {
    closeSync(fd);
    throw new ConfigError(options.option, `${path} is ${st.isFile() ? 'a file with several hard links' : 'not a regular file'}; refusing to write to it`);
  }
  return fd;
}
