// What a server's Maildir holds, read straight from its files: the Message-ID of every stored message (one entry per
// file, so a message stored twice shows twice). For tests against a private server whose mail directory is ours.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Message-IDs of the messages in `maildir`'s cur/ and new/, sorted; a file without one as "(none: NAME)". */
export function storedMessageIds(maildir: string): string[] {
  const ids: string[] = [];
  for (const sub of ['cur', 'new']) {
    for (const n of readdirSync(join(maildir, sub))) {
      const head = readFileSync(join(maildir, sub, n), 'latin1').split('\r\n\r\n')[0] ?? '';
      ids.push(/^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? `(none: ${n})`);
    }
  }
  return ids.sort();
}
