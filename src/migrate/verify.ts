import type { Source } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { FolderIndex, type IndexedMessage } from './folder-index.js';
import { mapFolder, type ServerFolders } from './folder-map.js';
import { FolderRules } from './folder-rules.js';
import { locateRepaired } from './folder-tree.js';
import type { ServerControl } from './server-lookup.js';

// `mailmigrate verify`: is every source message on the server, in the folder import puts it in? (issue 11)
// Each folder's server side is read with one bulk FETCH and every source message is matched with exactly the rule
// import's reconciliation uses (folder-index.ts): one definition of "present" for both, so verify cannot pass what
// import would send again, or fail what import would skip.
// ok is true only when every source message was compared and found. A message that could not be compared
// (unreadable file, a folder that could not be read or listed) makes the result not ok, with the reason: a partial
// comparison is never a pass. Messages marked deleted in the source are not expected (import skips them) unless
// includeDeleted. Server messages no source message matched are listed as extra (not a failure: the user's mail).

export interface SourceEntry {
  readonly origin: string;
  readonly messageId: string | undefined;
  readonly size: number;
}

export interface FolderComparison {
  readonly path: string;
  readonly sourceCount: number;
  readonly serverCount: number;
  readonly matched: number;
  /** Found, but stored differently by the server (8-bit headers replaced, a header added): still the message. */
  readonly changedByServer: number;
  /** In the source, not on the server. */
  readonly missing: SourceEntry[];
  /** On the server, matched by no source message. */
  readonly extra: IndexedMessage[];
  /** The folder does not exist on the server (all its source messages are missing). */
  readonly absent: boolean;
  /** Source messages skipped as deleted in the source (not expected on the server). */
  readonly deleted: number;
}

export interface NotCompared {
  readonly source: string;
  readonly code: string;
  readonly reason: string;
}

export interface VerifyResult {
  readonly folders: FolderComparison[];
  /** Source items that could not be compared, each with why; any makes ok false. */
  readonly notCompared: NotCompared[];
  readonly ok: boolean;
  readonly totals: { source: number; server: number; matched: number; changedByServer: number; missing: number; extra: number; notCompared: number };
  /** Source messages in folders left out by --include/--exclude (not expected on the server). */
  readonly excluded: number;
}

export interface VerifyOptions {
  readonly folderPrefix?: readonly string[];
  /** The same --include/--exclude/--map/--map-file/--to the import was given: verify looks where import put mail. */
  readonly folderRules?: FolderRules;
  readonly includeDeleted?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (seen: number) => void;
}

interface FolderState {
  readonly path: string;
  readonly absent: boolean;
  readonly index: FolderIndex;
  sourceCount: number;
  matched: number;
  changedByServer: number;
  deleted: number;
  readonly missing: SourceEntry[];
}

/** Reads every source message (bytes normalized as the importer does) and matches it in its folder's index. */
export async function verify(control: ServerControl, sources: readonly Source[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const delimiter = await control.delimiter();
  const listed = await control.listFolders();
  const specialUse = new Map<string, string>();
  for (const f of listed) if (f.specialUse) specialUse.set(f.specialUse, f.path);
  const server: ServerFolders = { delimiter, specialUse, namespacePrefix: await control.namespacePrefix() };
  const folders = new Map<string, Promise<FolderState>>();
  const notCompared: NotCompared[] = [];
  const rules = options.folderRules ?? new FolderRules();
  let excluded = 0;
  let seen = 0;

  const folderState = (path: string): Promise<FolderState> => {
    let p = folders.get(path);
    if (!p) {
      p = (async () => {
        let status = await control.folderStatus(path);
        // A name the server refused was imported under a repaired name (folder-tree.ts): look there.
        const moved = status ? undefined : await locateRepaired(path, { control, delimiter, namespacePrefix: server.namespacePrefix ?? '' });
        if (moved) status = await control.folderStatus(moved);
        const index = new FolderIndex();
        if (status && status.messages > 0) await control.indexFolder(moved ?? path, (e) => index.add(e));
        return {
          path: moved ?? path, absent: !status, index,
          sourceCount: 0, matched: 0, changedByServer: 0, deleted: 0, missing: [],
        };
      })();
      folders.set(path, p);
    }
    return p;
  };

  for (const source of sources) {
    for await (const item of readAhead(source.items(), { depth: 32 })) {
      if (options.signal?.aborted) break;
      if (item.kind === 'skipped') continue; // not mail: nothing to compare
      seen++;
      if (seen % 500 === 0) options.onProgress?.(seen);
      if (item.kind === 'rejected') {
        notCompared.push({ source: item.message?.origin ?? item.error.path, code: item.error.code, reason: item.error.message });
        continue;
      }
      if (item.kind !== 'message') continue;
      const ruled = rules.apply(item.message.folder);
      if (ruled.excluded) {
        excluded++;
        continue;
      }
      const path = mapFolder(ruled.parts, server, options.folderPrefix, ruled.explicit).path;
      const f = await folderState(path);
      if (item.message.deleted && !options.includeDeleted) {
        f.deleted++;
        continue;
      }
      f.sourceCount++;
      const data = item.normalized.data;
      const found = await f.index.match(item.normalized.messageId, data, (uid) => control.fetchBody(f.path, uid));
      if (found) {
        f.matched++;
        if (found.how === 'rewritten') f.changedByServer++;
      } else f.missing.push({ origin: item.message.origin, messageId: item.normalized.messageId, size: data.length });
    }
  }
  const out: FolderComparison[] = [];
  for (const f of await Promise.all(folders.values())) {
    out.push({
      path: f.path,
      sourceCount: f.sourceCount,
      serverCount: f.index.size,
      matched: f.matched,
      changedByServer: f.changedByServer,
      missing: f.missing,
      extra: f.index.unclaimed(),
      absent: f.absent,
      deleted: f.deleted,
    });
  }
  out.sort((a, b) => a.path.localeCompare(b.path));
  const totals = { source: 0, server: 0, matched: 0, changedByServer: 0, missing: 0, extra: 0, notCompared: notCompared.length };
  for (const f of out) {
    totals.source += f.sourceCount;
    totals.server += f.serverCount;
    totals.matched += f.matched;
    totals.changedByServer += f.changedByServer;
    totals.missing += f.missing.length;
    totals.extra += f.extra.length;
  }
  if (options.signal?.aborted) notCompared.push({ source: '(run)', code: 'E_INTERRUPTED', reason: 'interrupted before every message was compared' });
  const ok = totals.missing === 0 && notCompared.length === 0 && !options.signal?.aborted;
  return { folders: out, notCompared, ok, totals: { ...totals, notCompared: notCompared.length }, excluded };
}
