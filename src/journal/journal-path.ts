import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

// Where a run's journal lives when the user names none: one journal per *account* (issue 11). Keyed by the
// canonical account string (src/migrate/account.ts: resolved address, port, user as the server folds it), never by
// the host as typed or the source path — `localhost` and `127.0.0.1`, `BENCH` and `bench`, a source reached through a
// symlink or rsync'd elsewhere all find the same journal, and a message is known by (target mailbox, source id).
// Layout follows the XDG Base Directory spec: $XDG_STATE_HOME (only if absolute, as the spec requires) or
// ~/.local/state — "state data that should persist between application restarts" is exactly a resume journal.

/** The directory holding default journals. Created (mode 0700) by Journal.open, not here. */
export function journalDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state');
  return join(base, 'mailmigrate', 'journals');
}

/**
 * `<state dir>/mailmigrate/journals/<readable-slug>-<12 hex of sha256>.jsonl` for a canonical account string.
 * The slug is for humans listing the directory; the hash is what keys the file. The account string holds a user
 * name and an address, never a secret.
 */
export function accountJournalPath(account: string, env: NodeJS.ProcessEnv = process.env): string {
  const hash = createHash('sha256').update(account).digest('hex').slice(0, 12);
  return join(journalDirectory(env), `${slugify(account.replace(/^[a-z]+:\/\//, ''))}-${hash}.jsonl`);
}

function slugify(s: string): string {
  const cleaned = s
    .toLowerCase()
    .replace(/[^a-z0-9@._+-]+/g, '_')
    .replace(/^[._-]+/, '');
  // Keep file names well under NAME_MAX (255) whatever the inputs.
  return cleaned.slice(0, 80) || 'journal';
}
