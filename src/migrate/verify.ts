import { READ_AHEAD_FOLDERS, READ_AHEAD_MESSAGES } from '../core/settings.js';
import type { Source } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { type ContentMatch, type ContentPrint, comparePrints, contentPrint } from './content-match.js';
import { FolderIndex, type IndexedMessage, type IndexMatch } from './folder-index.js';
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
//
// Two comparisons (issue 16):
//  - 'content' (the default): every source message is fingerprinted as it streams (content-match.ts) and compared
//    with the fingerprint of its server candidates, so a message the server rewrote without changing its size
//    (Cyrus' 8-bit header bytes → 'X') is reported "changed by the server", and two different messages with the same
//    Message-ID and size are never taken for one. Server bodies are fetched in batches bounded in count and bytes
//    (BODY_BATCH_*), fingerprinted on arrival and dropped; what is held per pending source message is its print.
//  - 'id-and-size' (--fast): import's reconcile rule (folder-index.ts): a unique Message-ID with the same size is
//    found without fetching. Cheap, and said so in the result: a same-size rewrite passes unnoticed.

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

export type VerifyComparison = 'content' | 'id-and-size';

export interface VerifyResult {
  /** How messages were compared: 'content' (fingerprints) or 'id-and-size' (--fast). */
  readonly comparison: VerifyComparison;
  /** Server bodies fetched and fingerprinted. */
  readonly bodiesFetched: number;
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
  /** Default 'content'. */
  readonly comparison?: VerifyComparison;
  /**
   * Reads the stored bytes of several messages of one folder (one UID FETCH per call); without it, bodies are read
   * one by one with control.fetchBody. Called with at most BODY_BATCH_MESSAGES UIDs totalling at most
   * BODY_BATCH_BYTES by their RFC822.SIZE (a larger message goes alone).
   */
  readonly readBodies?: BodyReader;
}

/** `bytes`: the batch's total by RFC822.SIZE (a hint for deadlines). */
export type BodyReader = (path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void, bytes: number) => Promise<void>;

/** Source messages held (as prints) per folder before their candidates are fetched and compared. */
export const PENDING_MESSAGES = 256;
/** One body fetch: at most this many messages, and this many bytes by RFC822.SIZE (one larger message goes alone). */
export const BODY_BATCH_MESSAGES = 128;
export const BODY_BATCH_BYTES = 8 * 1024 * 1024;

interface Pending {
  readonly entry: SourceEntry;
  readonly print: ContentPrint;
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
  pending: Pending[];
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
  const comparison = options.comparison ?? 'content';
  const readBodies: BodyReader = options.readBodies ?? (async (path, uids, onBody) => {
    for (const uid of uids) onBody(uid, await control.fetchBody(path, uid));
  });
  let bodiesFetched = 0;
  const record = (f: FolderState, found: IndexMatch | undefined, entry: SourceEntry): void => {
    if (found) {
      f.matched++;
      if (found.how === 'rewritten') f.changedByServer++;
    } else f.missing.push(entry);
  };
  const flush = async (f: FolderState): Promise<void> => {
    const batch = f.pending;
    f.pending = [];
    bodiesFetched += await settle(f.index, f.path, batch, readBodies, (p, found) => record(f, found, p.entry));
  };
  let excluded = 0;
  let seen = 0;

  /** Each folder's STATUS (and where it is, when the server refused its name), asked once. */
  const located = new Map<string, Promise<{ status: Awaited<ReturnType<ServerControl['folderStatus']>>; moved: string | undefined }>>();
  const locate = (path: string) => {
    let p = located.get(path);
    if (!p) {
      p = (async () => {
        let status = await control.folderStatus(path);
        // A name the server refused was imported under a repaired name (folder-tree.ts): look there.
        const moved = status ? undefined : await locateRepaired(path, { control, delimiter, namespacePrefix: server.namespacePrefix ?? '' });
        if (moved) status = await control.folderStatus(moved);
        return { status, moved };
      })();
      located.set(path, p);
    }
    return p;
  };
  const folderState = (path: string): Promise<FolderState> => {
    let p = folders.get(path);
    if (!p) {
      p = (async () => {
        const { status, moved } = await locate(path);
        const index = new FolderIndex();
        if (status && status.messages > 0) await control.indexFolder(moved ?? path, (e) => index.add(e));
        return {
          path: moved ?? path, absent: !status, index,
          sourceCount: 0, matched: 0, changedByServer: 0, deleted: 0, missing: [], pending: [],
        };
      })();
      folders.set(path, p);
    }
    return p;
  };

  // The walk's folders in order (where the control offers a STATUS burst), so that the next ones' indexes are read
  // while the walk is still in the one before (openAhead below).
  let order: string[] = [];
  /** The body reads of the folder the walk left: at most one in flight, so prints held stay one batch. */
  let settling: Promise<void> = Promise.resolve();
  const settleLater = async (f: FolderState): Promise<void> => {
    await settling;
    settling = flush(f);
    settling.catch(() => undefined); // awaited by the next settleLater or at the end; never unhandled
  };
  /**
   * Opens the next folders of `order` after `path` — their STATUS and their index, on the bulk reader's pipelined
   * connection — at most READ_AHEAD_FOLDERS and READ_AHEAD_MESSAGES (by STATUS) ahead, as reconcile does (folder-runs.ts):
   * their reads go on the wire behind one another and behind the body reads of the folder the walk left, one round
   * trip for all of them, while the walk reads the source's messages (issue 16, docs/adaptation.md "The first
   * commands over a path, and reading folders over a path").
   */
  const openAhead = async (path: string): Promise<void> => {
    const at = order.indexOf(path);
    if (at < 0) return;
    let messages = 0;
    for (const next of order.slice(at + 1, at + 1 + READ_AHEAD_FOLDERS)) {
      if (messages >= READ_AHEAD_MESSAGES) break;
      // The STATUS answers of the burst above: no round trip. Only the index reads go to the server, together.
      const where = await locate(next).catch(() => undefined);
      messages += where?.status?.messages ?? 0;
      if (folders.has(next)) continue;
      const opened = folderState(next);
      // A read ahead that failed (its connection closed under it by another read's failure, say) is not kept: the
      // walk opens the folder again when it gets there, and meets the error itself if it is still there.
      opened.catch(() => {
        if (folders.get(next) === opened) folders.delete(next);
      });
    }
  };

  /** The folder the walk is in, by its mapped path (the state's own path may be a repaired name). */
  let current: { key: string; state: FolderState } | undefined;
  for (const source of sources) {
    // Every folder's STATUS in one burst where the control offers it (issue 16: one round trip a folder over a path);
    // read-only: no SELECT, verify changes nothing on the server.
    if (control.prefetch) {
      const paths: string[] = [];
      for await (const f of source.folders()) {
        const ruled = rules.apply(f.folder);
        if (!ruled.excluded) paths.push(mapFolder(ruled.parts, server, options.folderPrefix, ruled.explicit).path);
      }
      order = paths;
      await control.prefetch(paths, { permanentFlags: false }).catch(() => undefined);
    }
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
      // Leaving a folder settles what it holds pending, before the next folder's index is read: its bodies are read
      // on the connection that has just read its index (one EXAMINE), and the run holds one folder's pending
      // messages, not every folder's until the end (50 folders through a 40 ms round trip: each examined a second
      // time, 2 s).
      let entering = false;
      if (current?.key !== path) {
        if (current && current.state.pending.length > 0) await settleLater(current.state);
        entering = true;
      }
      const f = await folderState(path);
      current = { key: path, state: f };
      if (entering) openAhead(path).catch(() => undefined);
      if (item.message.deleted && !options.includeDeleted) {
        f.deleted++;
        continue;
      }
      f.sourceCount++;
      const data = item.normalized.data;
      const entry: SourceEntry = { origin: item.message.origin, messageId: item.normalized.messageId, size: data.length };
      if (comparison === 'id-and-size') {
        record(f, await f.index.match(entry.messageId, data, (uid) => control.fetchBody(f.path, uid)), entry);
        continue;
      }
      f.pending.push({ entry, print: contentPrint(data) });
      if (f.pending.length >= PENDING_MESSAGES) await settleLater(f);
    }
  }
  await settling;
  for (const p of folders.values()) {
    const f = await p;
    if (f.pending.length > 0) await flush(f);
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
  return { comparison, bodiesFetched, folders: out, notCompared, ok, totals: { ...totals, notCompared: notCompared.length }, excluded };
}

/**
 * Compares pending source prints with their server candidates: fetches the candidates' bodies (bounded batches),
 * fingerprints them, then claims, source message by source message in source order, the first identical candidate,
 * else the first rewritten one. Returns the number of bodies fetched.
 */
async function settle(
  index: FolderIndex,
  path: string,
  batch: readonly Pending[],
  readBodies: BodyReader,
  onResult: (p: Pending, found: IndexMatch | undefined) => void,
): Promise<number> {
  const wanted = new Map<number, IndexedMessage>();
  for (const p of batch) for (const m of index.candidates(p.entry.messageId, p.entry.size)) wanted.set(m.uid, m);
  const prints = new Map<number, ContentPrint>();
  const uids = [...wanted.keys()].sort((a, b) => a - b);
  let group: number[] = [];
  let bytes = 0;
  const read = async (): Promise<void> => {
    if (group.length === 0) return;
    const asked = new Set(group);
    await readBodies(path, group, (uid, data) => {
      if (asked.has(uid)) prints.set(uid, contentPrint(data));
    }, bytes);
    group = [];
    bytes = 0;
  };
  for (const uid of uids) {
    const size = wanted.get(uid)!.size;
    if (group.length > 0 && (group.length >= BODY_BATCH_MESSAGES || bytes + size > BODY_BATCH_BYTES)) await read();
    group.push(uid);
    bytes += size;
  }
  await read();
  index.countFetched(prints.size);
  for (const p of batch) {
    let best: { m: IndexedMessage; how: ContentMatch } | undefined;
    for (const m of index.candidates(p.entry.messageId, p.entry.size)) {
      const server = prints.get(m.uid);
      // A candidate first seen now (unclaimed by an earlier message of this batch, but not in `wanted`) cannot be:
      // candidates() only shrinks as messages are claimed. A body the server did not return is no match.
      if (!server) continue;
      const how = comparePrints(p.print, server);
      if (how === 'identical') {
        best = { m, how };
        break;
      }
      if (how === 'rewritten') best ??= { m, how };
    }
    onResult(p, best ? index.claim(best.m, best.how === 'identical' ? 'identical' : 'rewritten') : undefined);
  }
  return prints.size;
}
