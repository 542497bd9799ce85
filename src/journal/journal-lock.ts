import { randomBytes } from 'node:crypto';
import { closeSync, constants, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { JournalError } from '../core/errors.js';

// Two runs appending to one journal would interleave their lines and each would trust records the other wrote,
// so a journal is held by one process at a time: `<journal>.lock`. Node has no flock(); a lock file is what git
// (index.lock) and mbsync use. Taking and breaking it has no check-then-act window (issue 13):
//   - The lock's content (pid, process start time, a random nonce) is written to a private temp file first and
//     link(2)ed to the lock name: link is atomic and fails if the name exists, so the lock never exists empty or
//     half-written (with open(O_EXCL) then write, a second run could read an empty lock, call it stale and take
//     it too).
//   - A stale lock (its pid is gone, or the pid now belongs to a process started later: a reused pid) is broken
//     by rename(2) to a private name, then checked: if what was moved is not the stale lock we judged (another
//     run broke it and took the lock in between), it is linked back and we report the lock as held. Two runs
//     breaking the same stale lock cannot both win.
// The start time comes from /proc (Linux); elsewhere only the pid is checked and a reused pid makes a stale lock
// look held — the error names the file so the user can delete it.

interface Owner {
  readonly pid: number;
  /** Process start, in clock ticks since boot (/proc/<pid>/stat field 22); undefined when unknown. */
  readonly start: string | undefined;
  /** The lock's whole content, to recognise exactly this lock later. */
  readonly raw: string;
}

export interface LockOptions {
  /** Runs after a lock was judged stale and before it is broken: the window another run may act in. For tests,
   *  which use it to play that other run deterministically. */
  readonly onStaleJudged?: (lockPath: string) => void;
}

export function acquireLock(journalPath: string, options: LockOptions = {}): string {
  const lockPath = `${journalPath}.lock`;
  const nonce = randomBytes(8).toString('hex');
  const content = `${process.pid}\n${processStart(process.pid) ?? '-'}\n${nonce}\n`;
  const temp = `${lockPath}.${process.pid}.${nonce}`;
  writePrivate(journalPath, temp, content);
  try {
    // Two rounds: break one stale lock, then take it. A lock that is stale again after that is not ours to fight.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, lockPath);
        return lockPath;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new JournalError(journalPath, `cannot create lock ${lockPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
        }
      }
      let owner: Owner | undefined;
      try {
        owner = readOwner(lockPath);
      } catch (err) {
        throw new JournalError(journalPath, `cannot read lock ${lockPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
      }
      if (owner === undefined) continue; // gone between link and read: try again
      if (isAlive(owner)) throw held(journalPath, lockPath, owner.pid);
      options.onStaleJudged?.(lockPath);
      breakStale(journalPath, lockPath, owner, nonce);
    }
    throw new JournalError(journalPath, `cannot take lock ${lockPath}: other runs keep taking it`);
  } finally {
    try { unlinkSync(temp); } catch { /* the lock keeps its own link */ }
  }
}

/** Removes the lock if it is still the one `acquireLock` made (a lock broken and retaken by another run is left). */
export function releaseLock(lockPath: string): void {
  try {
    const owner = parseOwner(readFileSync(lockPath, 'utf8'));
    if (owner && owner.pid !== process.pid) return;
    unlinkSync(lockPath);
  } catch {
    // Already gone, or the directory became unwritable; the next run detects the stale pid.
  }
}

function held(journalPath: string, lockPath: string, pid: number): JournalError {
  return new JournalError(journalPath, `in use by another mailmigrate run (pid ${pid}); if no such run exists, delete ${lockPath}`);
}

function writePrivate(journalPath: string, path: string, content: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  } catch (err) {
    throw new JournalError(journalPath, `cannot create lock file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

function breakStale(journalPath: string, lockPath: string, stale: Owner, nonce: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${nonce}`;
  try {
    renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another run broke it first
    throw new JournalError(journalPath, `cannot remove stale lock ${lockPath}`, { cause: err });
  }
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    moved = undefined;
  }
  if (moved === stale.raw) {
    try { unlinkSync(aside); } catch { /* harmless leftover */ }
    return;
  }
  // We moved a live lock that another run created after our check: give it back and step aside.
  const owner = moved === undefined ? undefined : parseOwner(moved);
  try {
    linkSync(aside, lockPath);
  } catch {
    // A third run took the name meanwhile; the one whose lock we moved will find its lock changed on release.
  }
  try { unlinkSync(aside); } catch { /* gone */ }
  throw held(journalPath, lockPath, owner?.pid ?? stale.pid);
}

function parseOwner(raw: string): Owner | undefined {
  const [pidText, start] = raw.split('\n');
  const pid = Number.parseInt((pidText ?? '').trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, start: start && start !== '-' ? start.trim() : undefined, raw };
}

function readOwner(lockPath: string): Owner | undefined {
  let raw: string;
  try {
    raw = readFileSync(lockPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // A lock we cannot parse (an older format, or garbage) is treated as held by nobody: pid 0 is never alive.
  return parseOwner(raw) ?? { pid: 0, start: undefined, raw };
}

/** /proc/<pid>/stat field 22 (starttime); the command name (field 2) may hold spaces, so count after its ')'. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: Owner): boolean {
  if (owner.pid <= 0) return false;
  if (owner.pid === process.pid) return true; // this process already holds it (a second Journal on the same file)
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // The pid exists; if it started at another time than the lock's writer, it is a reused pid.
  const now = processStart(owner.pid);
  return owner.start === undefined || now === undefined || now === owner.start;
}
