import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';

// Where a run's journal lives when the user names none. One journal per (source roots, target account, folder
// prefix): a re-run of the same import finds its journal, a different import never reads another's.
// Layout follows the XDG Base Directory spec: $XDG_STATE_HOME (only if absolute, as the spec requires) or
// ~/.local/state — "state data that should persist between application restarts" is exactly a resume journal.

export interface JournalTarget {
  host: string;
  port: number;
  user: string;
  folderPrefix?: string;
}

/** The directory holding default journals. Created (mode 0700) by Journal.open, not here. */
export function journalDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state');
  return join(base, 'mailmigrate', 'journals');
}

/**
 * `<state dir>/mailmigrate/journals/<readable-slug>-<12 hex of sha256>.jsonl`.
 * The slug is for humans listing the directory; the hash is what keys the file, so two imports whose slugs
 * collide (same folder name, different parents) still get different journals. The user name is an identifier,
 * not a secret; no password ever reaches this function.
 */
export function defaultJournalPath(source: string[], target: JournalTarget, env: NodeJS.ProcessEnv = process.env): string {
  // resolve() drops trailing slashes and "..", and sorting makes `a b` and `b a` the same import.
  const roots = source.map((s) => resolve(s)).sort();
  const key = JSON.stringify({
    source: roots,
    host: target.host.toLowerCase(),
    port: target.port,
    user: target.user,
    folderPrefix: target.folderPrefix ?? '',
  });
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  const first = roots.length > 0 ? basename(roots[0]!) || 'root' : 'none';
  const more = roots.length > 1 ? `+${roots.length - 1}` : '';
  const slug = slugify(`${first}${more}-to-${target.user}@${target.host}`);
  return join(journalDirectory(env), `${slug}-${hash}.jsonl`);
}

function slugify(s: string): string {
  const cleaned = s
    .toLowerCase()
    .replace(/[^a-z0-9@._+-]+/g, '_')
    .replace(/^[._-]+/, '');
  // Keep file names well under NAME_MAX (255) whatever the inputs.
  return cleaned.slice(0, 80) || 'journal';
}
