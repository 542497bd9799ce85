import type { Source } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { mapFolder, type ServerFolders } from './folder-map.js';
import type { ServerControl } from './server-lookup.js';

// `mailmigrate verify`: compares what the sources hold with what the server holds, folder by folder.
// Identity of a message: its Message-ID (RFC 5322 §3.6.4) and its size after CRLF normalization, which is what the
// importer appended and what RFC822.SIZE reports (RFC 3501 §2.3.4). Messages without a Message-ID are matched by
// size alone — the same property the importer's resume check uses before it hashes candidates — so two different
// messages without Message-ID and of equal size in one folder cannot be told apart here (documented guarantee).
// Only folders the sources map to are compared; other server folders are not looked at.

export interface SourceEntry {
  readonly origin: string;
  readonly messageId: string | undefined;
  readonly size: number;
}

export interface ServerEntry {
  readonly uid: number;
  readonly messageId?: string | undefined;
  readonly size: number;
}

export interface FolderComparison {
  readonly path: string;
  readonly sourceCount: number;
  readonly serverCount: number;
  readonly matched: number;
  /** In the source, not on the server. */
  readonly missing: SourceEntry[];
  /** On the server, not in the source. */
  readonly extra: ServerEntry[];
  /** Same Message-ID on both sides, different sizes. */
  readonly sizeMismatch: Array<{ source: SourceEntry; server: ServerEntry }>;
  /** The folder does not exist on the server (all its source messages are missing). */
  readonly absent: boolean;
}

export interface VerifyResult {
  readonly folders: FolderComparison[];
  /** Source items that could not be read: they cannot be compared (import reports them as failures). */
  readonly unreadable: Array<{ source: string; code: string; reason: string }>;
  readonly ok: boolean;
  readonly totals: { source: number; server: number; matched: number; missing: number; extra: number; sizeMismatch: number };
}

/** Message-IDs compare without angle brackets and surrounding white space. */
export function normalizeMessageId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  const m = /<([^<>\s]+)>/.exec(id);
  const v = (m ? m[1]! : id).trim();
  return v === '' ? undefined : v;
}

const idKey = (id: string | undefined, size: number): string => {
  const n = normalizeMessageId(id);
  return n === undefined ? `size:${size}` : `id:${n}\u0000${size}`;
};

/** Pure multiset comparison of one folder. */
export function compareFolder(path: string, source: readonly SourceEntry[], server: readonly ServerEntry[], absent = false): FolderComparison {
  const pool = new Map<string, ServerEntry[]>();
  for (const s of server) {
    const k = idKey(s.messageId, s.size);
    const list = pool.get(k);
    if (list) list.push(s);
    else pool.set(k, [s]);
  }
  let matched = 0;
  const unmatched: SourceEntry[] = [];
  for (const m of source) {
    const list = pool.get(idKey(m.messageId, m.size));
    if (list && list.length) {
      list.shift();
      matched++;
    } else unmatched.push(m);
  }
  const leftover = [...pool.values()].flat();
  // Pair what is left by Message-ID alone: those exist on both sides but differ in size.
  const byId = new Map<string, ServerEntry[]>();
  for (const s of leftover) {
    const n = normalizeMessageId(s.messageId);
    if (n === undefined) continue;
    const list = byId.get(n);
    if (list) list.push(s);
    else byId.set(n, [s]);
  }
  const sizeMismatch: Array<{ source: SourceEntry; server: ServerEntry }> = [];
  const missing: SourceEntry[] = [];
  const paired = new Set<ServerEntry>();
  for (const m of unmatched) {
    const n = normalizeMessageId(m.messageId);
    const list = n === undefined ? undefined : byId.get(n);
    if (list && list.length) {
      const s = list.shift()!;
      paired.add(s);
      sizeMismatch.push({ source: m, server: s });
    } else missing.push(m);
  }
  const extra = leftover.filter((s) => !paired.has(s)).sort((a, b) => a.uid - b.uid);
  return { path, sourceCount: source.length, serverCount: server.length, matched, missing, extra, sizeMismatch, absent };
}

export interface VerifyOptions {
  readonly folderPrefix?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (seen: number) => void;
}

/** Reads every source message (bytes normalized as the importer does), then lists each mapped server folder. */
export async function verify(control: ServerControl, sources: readonly Source[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const delimiter = await control.delimiter();
  const folders = await control.listFolders();
  const specialUse = new Map<string, string>();
  for (const f of folders) if (f.specialUse) specialUse.set(f.specialUse, f.path);
  const server: ServerFolders = { delimiter, specialUse, namespacePrefix: await control.namespacePrefix() };
  const existing = new Set(folders.map((f) => (/^inbox$/i.test(f.path) ? 'INBOX' : f.path)));
  const expected = new Map<string, SourceEntry[]>();
  const unreadable: VerifyResult['unreadable'] = [];
  let seen = 0;
  for (const source of sources) {
    for await (const item of readAhead(source.items(), { depth: 32 })) {
      if (options.signal?.aborted) break;
      if (item.kind === 'skipped') continue; // not mail: nothing to compare
      seen++;
      if (seen % 500 === 0) options.onProgress?.(seen);
      if (item.kind === 'rejected') {
        unreadable.push({ source: item.message?.origin ?? item.error.path, code: item.error.code, reason: item.error.message });
        continue;
      }
      const path = mapFolder(item.message.folder, server, options.folderPrefix).path;
      const list = expected.get(path) ?? [];
      list.push({ origin: item.message.origin, messageId: item.normalized.messageId, size: item.normalized.data.length });
      expected.set(path, list);
    }
  }
  const out: FolderComparison[] = [];
  for (const [path, list] of [...expected].sort(([a], [b]) => a.localeCompare(b))) {
    const absent = !existing.has(/^inbox$/i.test(path) ? 'INBOX' : path);
    const onServer = absent ? [] : await control.listMessages(path);
    out.push(compareFolder(path, list, onServer, absent));
  }
  const totals = { source: 0, server: 0, matched: 0, missing: 0, extra: 0, sizeMismatch: 0 };
  for (const f of out) {
    totals.source += f.sourceCount;
    totals.server += f.serverCount;
    totals.matched += f.matched;
    totals.missing += f.missing.length;
    totals.extra += f.extra.length;
    totals.sizeMismatch += f.sizeMismatch.length;
  }
  const ok = totals.missing === 0 && totals.extra === 0 && totals.sizeMismatch === 0 && !options.signal?.aborted;
  return { folders: out, unreadable, ok, totals };
}
