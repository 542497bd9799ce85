// Sources given to one run must be apart: the same tree twice (`import ~/Maildir ~/Maildir/`, a script listing a path
// twice), or one inside another (`import ~/mail ~/mail/archive.mbox`), is every message in it read twice. A single
// run sends both copies, because a folder empty when the run began is never looked up (only the server can say what
// landed, and it held nothing): measured, `import fixtures/maildir fixtures/maildir` appended 14 messages for 7. So
// the run refuses before it connects, naming both paths. Paths are compared as realpath(3) names them, so a relative
// spelling, a trailing slash or a symlink to the same tree is the same source.
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SourceError } from '../core/errors.js';
import { SourceCodes } from './source.js';
import { pathUnder } from './tree-guard.js';

/** Throws SourceError E_SOURCE_OVERLAP when two of `paths` are the same file or directory, or one lies inside another. */
export async function refuseOverlappingSources(paths: readonly string[]): Promise<void> {
  // A path that does not resolve is left to openSource, which names the problem (E_SOURCE_NOT_FOUND, …).
  const real = await Promise.all(paths.map((p) => realpath(p).catch(() => resolve(p))));
  for (let i = 0; i < paths.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [real[j]!, real[i]!];
      let how: string | undefined;
      if (a === b) how = `is the same ${paths[i] === paths[j] ? 'path' : 'file or directory'} as source "${paths[j]}" (${a})`;
      else if (pathUnder(b, a)) how = `lies inside source "${paths[j]}" (${b} is under ${a})`;
      else if (pathUnder(a, b)) how = `contains source "${paths[j]}" (${a} is under ${b})`;
      if (how) {
        throw new SourceError(paths[i]!, `${how}: its messages would be imported twice; give each tree once`, SourceCodes.OVERLAP);
      }
    }
  }
}
