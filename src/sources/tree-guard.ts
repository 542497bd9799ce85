// Decides, for each entry met while walking a source tree, whether it may be entered or read: symlinks that
// leave the source root are not followed (the tool runs as root over other people's mail: a link in cur/ to
// /etc/shadow, or a folder linked to another account's Maildir, must not be uploaded), and anything that is not a
// directory or a regular file (FIFO, socket, device node) is a failure, never silently passed over.
import { lstat, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { sep } from 'node:path';
import { SourceError } from '../core/errors.js';
import { errnoReason, fsError } from './fs-walk.js';
import { fileKind } from './safe-read.js';
import { skipped, SourceCodes, type SourceItem } from './source.js';

export interface ResolvedEntry {
  readonly kind: 'dir' | 'file';
  /** The path as met in the walk (used for reports, ids and folder names). */
  readonly path: string;
  /** What to open: `path` itself, or the resolved target of an allowed symlink (then opened without following). */
  readonly real: string | Buffer;
  readonly stats: Stats;
}

export class TreeGuard {
  #rootReal: string | undefined;

  constructor(
    readonly root: string,
    readonly followSymlinks: boolean,
  ) {}

  /** The root as realpath(3) names it: the same however the path was spelled (relative, through a symlink). */
  async realRoot(): Promise<string> {
    if (this.#rootReal === undefined) {
      try {
        this.#rootReal = await realpath(this.root);
      } catch {
        this.#rootReal = this.root;
      }
    }
    return this.#rootReal;
  }

  /** Whether a resolved path lies inside the source root. */
  async inside(real: string): Promise<boolean> {
    const root = await this.realRoot();
    return real === root || pathUnder(real, root);
  }

  /**
   * lstat's the entry; follows a symlink only to a target inside the root (or anywhere with followSymlinks).
   * Returns the entry to use, or the item that accounts for it ('skipped' symlink-outside, 'rejected' otherwise).
   */
  async resolve(path: string, fsPath: string | Buffer = path): Promise<ResolvedEntry | SourceItem> {
    let st: Stats;
    try {
      st = await lstat(fsPath);
    } catch (err) {
      return { kind: 'rejected', error: fsError(path, err, 'cannot stat') };
    }
    let real: string | Buffer = fsPath;
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(fsPath as string);
      } catch (err) {
        return { kind: 'rejected', error: new SourceError(path, `symlink cannot be followed: ${errnoReason(err)}`, (err as NodeJS.ErrnoException)?.code === 'ELOOP' ? SourceCodes.LOOP : SourceCodes.UNREADABLE, { cause: err }) };
      }
      if (!this.followSymlinks && !(await this.inside(target))) {
        return skipped(path, 'symlink-outside', `symlink to ${target}, outside the source root; not followed (followSymlinks allows it)`);
      }
      try {
        st = await stat(target);
      } catch (err) {
        return { kind: 'rejected', error: fsError(path, err, 'cannot stat symlink target') };
      }
      real = target;
    }
    if (st.isDirectory()) return { kind: 'dir', path, real, stats: st };
    if (st.isFile()) return { kind: 'file', path, real, stats: st };
    return { kind: 'rejected', error: new SourceError(path, `is ${fileKind(st)}, not a regular file or a folder; not read`, SourceCodes.NOT_REGULAR) };
  }
}

/** `inner` names a path below the directory `outer` (both resolved: no "..", no symlinks to follow). */
export function pathUnder(inner: string, outer: string): boolean {
  return inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

export function isResolved(r: ResolvedEntry | SourceItem): r is ResolvedEntry {
  return r.kind === 'dir' || r.kind === 'file';
}
