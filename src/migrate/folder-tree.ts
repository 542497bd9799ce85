import { createHash } from 'node:crypto';
import { ServerResponseError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';
import type { MappedFolder } from './folder-map.js';
import type { FolderRuns } from './folder-runs.js';
import type { ServerControl } from './server-lookup.js';

// The target folder tree, created before any message is planned (as mbsync does), so that a folder name the server
// refuses is repaired *before* the journal, the folder check and the APPENDs use it: repairing later, at the first
// APPEND, would check one folder for what is already there and send into another, and a re-run would send again.
//
// What servers refuse (measured with CREATE on the private servers, see docs/sources.md "Folder names the server
// refuses"): Cyrus 3.6 refuses \ % " ! { } ; < > | ` and control characters in a name, and ^ when "/" is its
// separator; Dovecot 2.3 refuses control characters, a name starting with "~", and a level longer than 255 bytes of
// modified UTF-7 ("Mailbox name too long"). Other servers have their own lists, so the repair is generic: when
// CREATE gets NO, the levels that do not exist yet are rewritten once with a deterministic rule and CREATE is tried
// again. Deterministic matters: a re-run must repair to the same name, or it would not find what it sent.

/** Longest level sent after a repair, in bytes of modified UTF-7: under Dovecot's 255, with room for a suffix. */
const MAX_LEVEL_BYTES = 200;

/** Characters kept by the repair: letters, marks, digits and symbols of any script, space, and punctuation every
 *  server measured accepts. Everything else (the refused characters above, wildcards, controls) becomes "_". */
const KEEP = /[\p{L}\p{M}\p{N}\p{So} \-_.,+#&'@=()[\]$:]/u;

/** A short, stable tag of a name, to keep repaired names apart. */
function tag(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 6);
}

/**
 * The repaired form of one level of a folder name: characters outside KEEP (and the delimiter) replaced by "_",
 * a leading "~" too, and a level too long for the server cut, with a tag of the original so two long names that
 * share a beginning stay apart. Returns the name unchanged when nothing in it needs repair.
 */
export function repairLevel(name: string, delimiter: string): string {
  let out = '';
  for (const ch of name) out += ch !== delimiter && KEEP.test(ch) ? ch : '_';
  if (out.startsWith('~')) out = '_' + out.slice(1);
  if (encodeMutf7(out).length > MAX_LEVEL_BYTES) {
    const suffix = '_' + tag(name);
    const chars = [...out];
    while (chars.length && encodeMutf7(chars.join('')).length + suffix.length > MAX_LEVEL_BYTES) chars.pop();
    out = chars.join('').trimEnd() + suffix;
  }
  return out.trim() === '' ? '_' : out;
}

/** Source paths the server refused, and the path each was created under instead; a folder below one moves too. */
export class FolderRenames {
  readonly #map = new Map<string, string>();

  constructor(private readonly delimiter: string) {}

  get size(): number {
    return this.#map.size;
  }

  record(from: string, to: string): void {
    this.#map.set(from, to);
  }

  /** The path to use for `path`: its own rename, else its nearest renamed ancestor's with the rest appended. */
  apply(path: string): string {
    if (this.#map.size === 0) return path;
    const own = this.#map.get(path);
    if (own !== undefined) return own;
    if (!this.delimiter) return path;
    for (let i = path.lastIndexOf(this.delimiter); i > 0; i = path.lastIndexOf(this.delimiter, i - 1)) {
      const to = this.#map.get(path.slice(0, i));
      if (to !== undefined) return to + path.slice(i);
    }
    return path;
  }
}

export interface TreeTarget {
  /** The source folder, for messages ("Archive/2019"). */
  readonly source: string;
  readonly mapped: MappedFolder & { readonly subscribe: boolean };
}

export interface TreeDeps {
  readonly control: ServerControl;
  readonly runs: FolderRuns;
  readonly renames: FolderRenames;
  /** The server's delimiter and personal namespace prefix (RFC 2342). */
  readonly delimiter: string;
  readonly namespacePrefix: string;
  onCreated(path: string, specialUse: string | undefined): void;
  onRepair(text: string): void;
}

/**
 * Creates every target folder that is missing, parents first, repairing a name the server refuses (once). A folder
 * that still cannot be created is left alone: its messages then fail one by one with the server's reason, counted
 * and reported, never dropped. A refusal is a tagged NO or BAD (some servers answer BAD to a name they cannot parse).
 */
export async function createTree(targets: readonly TreeTarget[], deps: TreeDeps): Promise<void> {
  const { control, renames, delimiter } = deps;
  const sep = delimiter || '.';
  const depth = (p: string): number => p.split(sep).length;
  const ordered = [...targets].sort((a, b) => depth(a.mapped.path) - depth(b.mapped.path) || a.mapped.path.localeCompare(b.mapped.path));
  // Paths this source's own folders go to: a repaired name must not land on one of them (e.g. "a%b" and "a_b").
  const taken = new Set(targets.map((t) => renames.apply(t.mapped.path)));
  // The whole tree in one pipelined burst where the control offers it; what it did not settle (a refusal, a lost
  // connection) goes the one-at-a-time way below, with the repair.
  const items = ordered
    .map((t) => ({ path: renames.apply(t.mapped.path), specialUse: t.mapped.specialUse, subscribe: t.mapped.subscribe }))
    .filter((it) => !/^inbox$/i.test(it.path));
  const settled = control.ensureFolders && items.length > 0 ? await control.ensureFolders(items).catch(() => undefined) : undefined;
  for (const t of ordered) {
    const path = renames.apply(t.mapped.path);
    if (/^inbox$/i.test(path)) continue;
    const done = settled?.get(path);
    if (done === 'created') created(path, t, deps);
    if (done !== undefined) continue;
    try {
      if (await control.ensureFolder(path, t.mapped.specialUse, t.mapped.subscribe)) created(path, t, deps);
      continue;
    } catch (e) {
      // Anything but a refusal (connection lost after the adapter's own retry, a name the control plane will not
      // send) is left to the per-message path, which reports it for each message as before.
      if (!(e instanceof ServerResponseError) || !refusesName(e)) continue;
      const repaired = await repairPath(path, deps, taken);
      if (repaired === path) continue; // nothing we know how to repair: the messages fail with the server's reason
      // A second refusal propagates no further: the messages fail with the server's reason, as without a repair.
      const ok = await control.ensureFolder(repaired, t.mapped.specialUse, t.mapped.subscribe).then(
        (c) => {
          if (c) created(repaired, t, deps);
          return true;
        },
        () => false,
      );
      if (!ok) continue;
      renames.record(t.mapped.path, repaired);
      taken.add(repaired);
      deps.runs.noteRename(repaired, path);
      deps.onRepair(`"${path}" refused by the server (${e.text}); created as "${repaired}"`);
    }
  }
}

/**
 * A refusal of the name itself: no response code (Cyrus "Invalid mailbox name", Dovecot "Mailbox name too long"),
 * or [CANNOT] (RFC 5530 §3: the operation violates an invariant of the server, e.g. a name it does not permit).
 * A code that says something else ([UNAVAILABLE], [SERVERBUG], [OVERQUOTA], [LIMIT], [NOPERM] ...) is not about the
 * name: creating the folder under another name then would split the mail over two folders once the cause is gone.
 */
function refusesName(e: ServerResponseError): boolean {
  return e.responseCode === undefined || e.responseCode.toUpperCase() === 'CANNOT';
}

function created(path: string, t: TreeTarget, deps: TreeDeps): void {
  deps.runs.markCreated(path);
  deps.onCreated(path, t.mapped.specialUse);
}

interface Located {
  readonly control: Pick<ServerControl, 'folderStatus'>;
  readonly delimiter: string;
  readonly namespacePrefix: string;
}

/**
 * The repaired form of `path`: the levels that do not exist on the server yet are rewritten (an existing parent
 * keeps its name, so its children stay below it). `tagged` is the same with a tag of the original last level, used
 * when the plain repair would land on another folder of the same source.
 */
async function repairCandidates(path: string, deps: Located): Promise<{ plain: string; tagged: string }> {
  const { delimiter, namespacePrefix: ns } = deps;
  const inNs = ns && path.toUpperCase().startsWith(ns.toUpperCase());
  const head = inNs ? path.slice(0, ns.length) : '';
  const levels = delimiter ? path.slice(head.length).split(delimiter) : [path.slice(head.length)];
  let firstNew = 0;
  while (firstNew < levels.length - 1 && (await deps.control.folderStatus(head + levels.slice(0, firstNew + 1).join(delimiter)).catch(() => undefined)) !== undefined) firstNew++;
  const out = levels.map((l, i) => (i < firstNew ? l : repairLevel(l, delimiter)));
  const plain = head + out.join(delimiter);
  out[out.length - 1] = `${out[out.length - 1]}_${tag(levels[levels.length - 1]!)}`;
  return { plain, tagged: head + out.join(delimiter) };
}

async function repairPath(path: string, deps: Located, taken: ReadonlySet<string>): Promise<string> {
  const c = await repairCandidates(path, deps);
  return c.plain !== path && taken.has(c.plain) ? c.tagged : c.plain;
}

/**
 * For a reader of the server (verify): where an import put `path` if the server refused that name — the repaired
 * path when `path` is absent and a repaired form exists (the tagged form first: it exists only for such a folder).
 */
export async function locateRepaired(path: string, deps: Located): Promise<string | undefined> {
  const c = await repairCandidates(path, deps);
  if (c.plain === path) return undefined;
  for (const p of [c.tagged, c.plain]) if ((await deps.control.folderStatus(p).catch(() => undefined)) !== undefined) return p;
  return undefined;
}
