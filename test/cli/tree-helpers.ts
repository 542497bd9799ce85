// Reads a server and an import report back, for the CLI tests that import realistic trees (realistic-trees-dovecot,
// special-folders-dovecot, refused-names-*); the trees themselves are built by test/helpers/real-trees.ts. Not a
// test file itself.
import { withImapFlow } from '../helpers/imap-servers.js';

export interface Conn {
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface ServerView {
  /** Every folder (decoded path) with its message count. */
  readonly folders: Record<string, number>;
  /** "folder | subject | flags (sorted, lower case, \Recent left out; '-' for none) | INTERNALDATE (ISO)", sorted. */
  readonly messages: string[];
  /** Folder → special-use attribute, for folders that have one. */
  readonly specialUse: Record<string, string>;
}

/** Reads the whole account back: every folder, every message with its flags and INTERNALDATE. */
export function readServer(c: Conn): Promise<ServerView> {
  return withImapFlow('127.0.0.1', c.port, { name: c.user, password: c.password }, async (client) => {
    const folders: Record<string, number> = {};
    const messages: string[] = [];
    const specialUse: Record<string, string> = {};
    for (const box of await client.list()) {
      if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
      const use = [...box.flags].find((f) => /^\\(sent|drafts|trash|junk|archive)$/i.test(f));
      if (use) specialUse[box.path] = use;
      const lock = await client.getMailboxLock(box.path, { readOnly: true });
      try {
        const exists = client.mailbox ? client.mailbox.exists : 0;
        folders[box.path] = exists;
        if (!exists) continue;
        for await (const m of client.fetch('1:*', { flags: true, internalDate: true, envelope: true })) {
          const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').map((f) => f.toLowerCase()).sort();
          const date = m.internalDate instanceof Date ? m.internalDate.toISOString() : String(m.internalDate);
          messages.push(`${box.path} | ${m.envelope?.subject ?? '?'} | ${flags.join(' ') || '-'} | ${date}`);
        }
      } finally {
        lock.release();
      }
    }
    return { folders, messages: messages.sort(), specialUse };
  });
}

/** The report's skipped paths as "reason relative/path", sorted. */
export function skippedPaths(report: { skippedPaths: { paths: Array<{ path: string; reason: string }>; pathsLeftOut: number } }, root: string): string[] {
  return report.skippedPaths.paths.map((p) => `${p.reason} ${p.path.startsWith(root + '/') ? p.path.slice(root.length + 1) : p.path}`).sort();
}

/** The report's per-folder rows as "target: k=v ..." for the counts that are not zero, sorted. */
export function folderPlan(report: { folders: Array<Record<string, unknown>> }): string[] {
  const keys = ['messages', 'appended', 'deleted', 'checked', 'journal', 'failed'];
  return report.folders
    .map((f) => {
      const counts = keys.filter((k) => (f[k] as number) > 0).map((k) => `${k}=${f[k] as number}`);
      return `${String(f.target)}${f.created ? ' (new)' : ''}: ${counts.join(' ')}`.trimEnd();
    })
    .sort();
}
