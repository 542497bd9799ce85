import { closeSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { JournalError } from '../core/errors.js';
import { openAppendNoFollow } from '../core/safe-file.js';
import type { JournalIo } from './journal-io.js';
import { acquireLock, releaseLock } from './journal-lock.js';
import { encodeHeader, JOURNAL_FORMAT_VERSION, type JournalHeader, type StoredHeader } from './journal-record.js';
import { replayJournal } from './journal-replay.js';
import { emptyState, scan, settleScan, type State } from './journal-state.js';

// Opening the journal's file: the directory, the lock, the file (never through a link), the replay of what earlier
// runs wrote, the repair of a torn last line and the header of a new file — everything Journal.open() must have done,
// durably, before the first record of this run may be appended. The Journal facade (journal.ts) owns the file from
// then on.

/** What open() cut from the end of the file: a line whose write never completed. */
export interface JournalRepair {
  droppedBytes: number;
  /** 1-based number of the line that was dropped. */
  line: number;
}

/** An open, locked, replayed journal file. */
export interface OpenedJournalFile {
  fd: number;
  lockPath: string;
  header: StoredHeader;
  repaired: JournalRepair | undefined;
  state: State;
}

/**
 * Creates the directory if needed, takes the lock, opens and replays the file at `path`, cuts a torn last line and
 * writes the header of a new file (synced, with its directory entry). Rejects with JournalError when the file
 * belongs to another account, has a corrupt line before the last, is held by another live run, or cannot be read or
 * written; the lock is released and the file closed then.
 */
export function openJournalFile(path: string, header: JournalHeader, io: JournalIo): OpenedJournalFile {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new JournalError(path, `cannot create directory ${dir}: ${errText(err)}`, { cause: err });
  }
  const lockPath = acquireLock(path);
  let fd: number | undefined;
  try {
    try {
      fd = openAppendNoFollow(path, { option: 'journal' }); // not through a link planted in a shared directory
      // The journal names mailboxes and Message-IDs: private metadata. Tighten a file someone loosened.
      if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    } catch (err) {
      throw new JournalError(path, `cannot open: ${errText(err)}`, { cause: err });
    }
    const state: State = emptyState();
    const result = replayJournal(
      fd,
      path,
      (h) => {
        if (h.account !== header.account) {
          throw new JournalError(path, `belongs to another account (${JSON.stringify(h.account)}; this run: ${JSON.stringify(header.account)})`);
        }
      },
      (r) => scan(state, r),
    );
    settleScan(state);
    let repaired: JournalRepair | undefined;
    let stored = result.header;
    try {
      if (result.tornBytes > 0) {
        ftruncateSync(fd, result.validEnd);
        repaired = { droppedBytes: result.tornBytes, line: result.lines + 1 };
      }
      if (stored === undefined) {
        const created = new Date();
        io.writeSync(fd, Buffer.from(encodeHeader(header, created), 'utf8'));
        stored = { version: JOURNAL_FORMAT_VERSION, account: header.account, created: created.toISOString() };
        io.syncSync(fd);
        syncDirectory(dir); // so the new file's name survives a power cut, not just its data
      } else if (repaired) {
        io.syncSync(fd);
      }
    } catch (err) {
      throw new JournalError(path, `cannot write: ${errText(err)}`, { cause: err });
    }
    return { fd, lockPath, header: stored, repaired, state };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    releaseLock(lockPath);
    throw err;
  }
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the file's own data is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function errText(err: unknown): string {
  // Node's errno messages read "ENOSPC: no space left on device, write": the code first, then what failed.
  const e = err as Error | undefined;
  return e && typeof e.message === 'string' ? e.message : String(err);
}
