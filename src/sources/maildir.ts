// Maildir (cr.yp.to/proto/maildir.html), Maildir++ (Courier: ".Folder.Sub" beside cur/new/tmp, INBOX at the
// root) and nested Maildir trees ("Folder/Sub/{cur,new}", Dovecot LAYOUT=fs, mbsync SubFolders Verbatim).
// Messages live in cur/ and new/; tmp/ holds deliveries in progress and is skipped.
import { readFile } from 'node:fs/promises';
import { FileMessage } from './file-message.js';
import type { ReadPool } from './read-pool.js';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { InternalDateSource } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { canonicalFolder, decodeFsName, decodeMaildirPlusName, folderLabel, FolderRegistry } from './folder-name.js';
import { fsError, isDir, listDir, LoopGuard, statOrError, streamDir } from './fs-walk.js';
import { newStats, resolveMax, SourceCodes, type Source, type SourceItem, type SourceOptions } from './source.js';

/** Maildir info flags (the letters after ":2,") in IMAP spelling; Dovecot maps P to $Forwarded. */
const FLAG_LETTERS: Readonly<Record<string, string>> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
  T: '\\Deleted',
};

export interface MaildirName {
  /** The unique name without ",S=" / ",W=" fields: the identity that survives flag changes and renames. */
  readonly base: string;
  /** The info letters after ":2," (or "!2,"), possibly empty. */
  readonly info: string;
  /** Delivery time from the leading "seconds." of the name, if any. */
  readonly time: Date | undefined;
}

/** Splits a Maildir file name; ':' and '!' (for file systems that forbid ':') both delimit the info. */
export function parseMaildirName(name: string): MaildirName {
  const m = /[:!]2,([^:!]*)$/.exec(name);
  const unique = m ? name.slice(0, m.index) : name.replace(/[:!]1,.*$/, '');
  const base = unique
    .split(',')
    .filter((p, i) => i === 0 || !/^[SW]=\d*$/.test(p))
    .join(',');
  const t = /^(\d{6,12})(?:\.|$)/.exec(name);
  const secs = t ? Number(t[1]) : NaN;
  return { base, info: m ? m[1]! : '', time: Number.isFinite(secs) && secs > 0 ? new Date(secs * 1000) : undefined };
}

/** Flags and keywords for an info string; lower-case letters index Dovecot's dovecot-keywords list. */
export function maildirFlags(info: string, keywords: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const ch of info) {
    const f = FLAG_LETTERS[ch] ?? keywords.get(ch);
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

/** Parses dovecot-keywords ("0 $Label1" per line; index 0 is letter 'a'). */
export function parseDovecotKeywords(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (!m) continue;
    const idx = Number(m[1]);
    if (idx < 26) map.set(String.fromCharCode(0x61 + idx), m[2]!);
  }
  return map;
}

async function readKeywords(dir: string): Promise<Map<string, string>> {
  try {
    return parseDovecotKeywords(await readFile(join(dir, 'dovecot-keywords'), 'utf8'));
  } catch {
    return new Map(); // absent is normal: no keywords in use
  }
}

export async function isMaildir(dir: string): Promise<boolean> {
  return (await isDir(join(dir, 'cur'))) || (await isDir(join(dir, 'new')));
}

/** An mtime before 1970-01-02 means "unknown" (archives extracted without times); the file name is better. */
const MIN_PLAUSIBLE_MS = 86_400_000;


interface FolderJob {
  readonly dir: string;
  readonly folder: string[];
}

export class MaildirSource implements Source {
  stats = newStats();
  readonly #max: number;
  readonly #pool: ReadPool | undefined;

  constructor(
    readonly root: string,
    readonly format: 'maildir' | 'maildir++',
    options?: SourceOptions,
  ) {
    this.#max = resolveMax(options);
    this.#pool = options?.readPool;
  }

  async *items(): AsyncGenerator<SourceItem> {
    const stats = newStats();
    this.stats = stats;
    const registry = new FolderRegistry();
    const guard = new LoopGuard();
    for await (const item of this.#walk(registry, guard)) {
      if (item.kind === 'message') stats.yielded++;
      else stats.rejected++;
      yield item;
    }
  }

  async *#walk(registry: FolderRegistry, guard: LoopGuard): AsyncGenerator<SourceItem> {
    const rootStat = await statOrError(this.root);
    if (rootStat instanceof SourceError) {
      yield { kind: 'rejected', error: rootStat };
      return;
    }
    guard.enter(this.root, rootStat);
    // Folders are found breadth-first from small, sorted listings; messages are streamed folder by folder.
    const queue: FolderJob[] = [{ dir: this.root, folder: [] }];
    let isRoot = true;
    while (queue.length) {
      const job = queue.shift()!;
      const children = yield* this.#children(job, isRoot, guard);
      isRoot = false;
      queue.push(...children);
      if (await isMaildir(job.dir)) {
        const folder = canonicalFolder(job.folder);
        const owner = registry.claim(folder, job.dir);
        if (owner !== undefined) {
          yield {
            kind: 'rejected',
            error: new SourceError(job.dir, `folder "${folderLabel(folder)}" is also the decoded name of ${owner}; this folder was not read`, SourceCodes.FOLDER_COLLISION),
          };
          continue;
        }
        yield* this.#messages(job.dir, folder);
      }
    }
  }

  /** Sub-folders of one directory: Maildir++ ".A.B" entries at the root, plain sub-directories anywhere. */
  async *#children(job: FolderJob, isRoot: boolean, guard: LoopGuard): AsyncGenerator<SourceItem, FolderJob[]> {
    const out: FolderJob[] = [];
    let entries;
    try {
      entries = await listDir(job.dir);
    } catch (err) {
      yield { kind: 'rejected', error: fsError(job.dir, err, 'cannot list directory') };
      return out;
    }
    for (const e of entries) {
      if (e.name === 'cur' || e.name === 'new' || e.name === 'tmp') continue;
      const dotted = e.name.startsWith('.');
      if (dotted && !isRoot) continue; // Maildir++ folders exist only at the root
      if (dotted && (e.name === '.' || e.name === '..')) continue;
      const st = await statOrError(e.path, e.fsPath);
      if (st instanceof SourceError) {
        // A dangling link or loop among folders is worth a report; a vanished plain file is not a folder anyway.
        if (st.code === SourceCodes.LOOP) yield { kind: 'rejected', error: st };
        continue;
      }
      if (!st.isDirectory()) continue; // dovecot-uidlist, subscriptions, ...
      if (dotted && !(await isMaildir(e.path))) continue; // e.g. .git, .Trash without cur/new
      const loop = guard.enter(e.path, st as Stats);
      if (loop) {
        yield { kind: 'rejected', error: loop };
        continue;
      }
      if (!e.utf8) {
        yield { kind: 'rejected', error: new SourceError(e.path, 'folder name is not valid UTF-8; folder not read', SourceCodes.FOLDER_NAME) };
        continue;
      }
      let names: string[];
      try {
        names = dotted ? decodeMaildirPlusName(e.name) : [...job.folder, decodeFsName(e.name)];
      } catch (err) {
        yield {
          kind: 'rejected',
          error: new SourceError(e.path, `undecodable Maildir++ folder name (${(err as Error).message}); folder not read`, SourceCodes.FOLDER_NAME),
        };
        continue;
      }
      out.push({ dir: e.path, folder: names });
    }
    return out;
  }

  async *#messages(dir: string, folder: string[]): AsyncGenerator<SourceItem> {
    const keywords = await readKeywords(dir);
    const idPrefix = `maildir:${folderLabel(folder)}/`;
    for (const sub of ['cur', 'new']) {
      const subdir = join(dir, sub);
      if (!(await isDir(subdir))) continue;
      try {
        for await (const batch of streamDir(subdir)) {
          const files = batch.filter((e) => !e.name.startsWith('.'));
          // Stat a batch concurrently: one stat at a time is latency-bound on a cold cache.
          const stats = await Promise.all(files.map((e) => statOrError(e.path, e.fsPath)));
          for (let i = 0; i < files.length; i++) {
            const e = files[i]!;
            const st = stats[i]!;
            if (st instanceof SourceError) yield { kind: 'rejected', error: st };
            else if (!e.utf8) yield { kind: 'rejected', error: new SourceError(e.path, 'file name is not valid UTF-8', SourceCodes.UNREADABLE) };
            else if (!st.isFile()) yield { kind: 'rejected', error: new SourceError(e.path, 'not a regular file', SourceCodes.UNREADABLE) };
            else if (st.size === 0) yield { kind: 'rejected', error: new SourceError(e.path, 'empty file (0 bytes)', SourceCodes.EMPTY) };
            else if (st.size > this.#max) {
              yield { kind: 'rejected', error: new SourceError(e.path, `message of ${st.size} bytes exceeds maxMessageBytes (${this.#max})`, SourceCodes.TOO_LARGE) };
            } else {
              const n = parseMaildirName(e.name);
              let date: Date | undefined;
              let from: InternalDateSource = 'none';
              if (st.mtimeMs >= MIN_PLAUSIBLE_MS) {
                date = new Date(Math.floor(st.mtimeMs / 1000) * 1000); // INTERNALDATE has 1 s resolution
                from = 'mtime';
              } else if (n.time) {
                date = n.time;
                from = 'filename';
              }
              const msg = new FileMessage(idPrefix + n.base, folder, maildirFlags(n.info, keywords), date, from, st.size, e.path, this.#pool);
              yield { kind: 'message', message: msg };
            }
          }
        }
      } catch (err) {
        yield { kind: 'rejected', error: fsError(subdir, err, 'cannot list directory') };
      }
    }
  }
}
