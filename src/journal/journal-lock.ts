import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { JournalError } from '../core/errors.js';

// Two runs appending to one journal would interleave their lines and each would trust records the other wrote,
// so a journal is held by one process at a time: `<journal>.lock`, created O_EXCL, holding the owner's pid.
// Node has no flock(), and an O_EXCL file is what git (index.lock) and mbsync (.lock files) use. A lock left by
// a run that died (kill -9) is recognised by its pid no longer existing and taken over. Known limit: a reused pid
// makes a stale lock look held; the error names the file so the user can delete it.

export function acquireLock(journalPath: string): string {
  const lockPath = `${journalPath}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return lockPath;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt > 0) {
        throw new JournalError(journalPath, `cannot create lock ${lockPath} (${code ?? 'error'})`, { cause: err });
      }
    }
    const owner = readOwner(lockPath);
    if (owner !== undefined && isAlive(owner)) {
      throw new JournalError(
        journalPath,
        `in use by another mailmigrate run (pid ${owner}); if no such run exists, delete ${lockPath}`,
      );
    }
    try {
      unlinkSync(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new JournalError(journalPath, `cannot remove stale lock ${lockPath}`, { cause: err });
      }
    }
  }
}

export function releaseLock(lockPath: string): void {
  try {
    unlinkSync(lockPath);
  } catch {
    // Already gone, or the directory became unwritable; the next run detects the stale pid.
  }
}

function readOwner(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true; // this process already holds it (a second Journal on the same file)
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
