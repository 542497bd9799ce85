import { fdatasync, fdatasyncSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';

// The four file operations the journal performs after open, behind an interface so tests can count fsyncs
// (group commit) and inject real errors (writes redirected to /dev/full give a genuine ENOSPC).
// fdatasync, not fsync: for an append it persists the data and the file size needed to read it back and skips
// only timestamps (fdatasync(2)).

export interface JournalIo {
  /** Appends all of `data` (the fd is O_APPEND). */
  write(fd: number, data: Buffer): Promise<void>;
  sync(fd: number): Promise<void>;
  writeSync(fd: number, data: Buffer): void;
  syncSync(fd: number): void;
}

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

export const fileIo: JournalIo = {
  async write(fd, data) {
    let off = 0;
    // A regular-file write is short only when the disk fills or a signal lands; retry the rest, and let the
    // next write report ENOSPC.
    while (off < data.length) {
      const { bytesWritten } = await writeAsync(fd, data, off, data.length - off, null);
      off += bytesWritten;
    }
  },
  sync: (fd) => fdatasyncAsync(fd),
  writeSync(fd, data) {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, null);
  },
  syncSync: (fd) => fdatasyncSync(fd),
};
