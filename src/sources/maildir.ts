// Maildir (cr.yp.to/proto/maildir.html), Maildir++ (Courier: ".Folder.Sub" beside cur/new/tmp, INBOX at the
// root) and nested Maildir trees ("Folder/Sub/{cur,new}", Dovecot LAYOUT=fs, mbsync SubFolders Verbatim).
// Messages live in cur/ and new/; tmp/ holds deliveries in progress and is skipped.
// Every entry of the tree ends in a bucket: messages; 'skipped' (state files, clutter, tmp/, hidden files, zero-byte
// files, symlinks out of the tree); 'rejected' (unreadable folders and files, FIFOs and devices, loops).
import { readdir } from 'node:fs/promises';
import { FileMessage } from './file-message.js';
import { join } from 'node:path';
import type { InternalDateSource } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { canonicalFolder, decodeFsName, folderKey, folderLabel, FolderRegistry, parseSubscriptions, repairMaildirPlusName } from './folder-name.js';
import { fsError, listDir, LoopGuard, streamDir, type DirEntry } from './fs-walk.js';
import { notMailName } from './not-mail.js';
import { readRegularFileSync, readRegularHead } from './safe-read.js';
import { looksLikeMessage } from './headers.js';
import { isResolved, TreeGuard, type ResolvedEntry } from './tree-guard.js';
import { countItem, newStats, resolveMax, skipped, SourceCodes, type Source, type SourceFolder, type SourceItem, type SourceOptions, type MessageFileReader } from './source.js';

/**
 * Maildir info flags (the letters after ":2,") in IMAP spelling; Dovecot maps P to $Forwarded. T ("trashed") is
 * not a flag here: it makes SourceMessage.deleted true, and the importer decides about \\Deleted (issue 11).
 */
const FLAG_LETTERS: Readonly<Record<string, string>> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
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

/** Keywords are IMAP atoms (RFC 3501 §9 flag-keyword): anything else in a keyword file is dropped. */
function isKeyword(k: string): boolean {
  return /^[\x21-\x7e]+$/.test(k) && !/[(){%*"\\\]]/.test(k);
}

/**
 * Parses Courier's courierimapkeywords/:list: keyword names one per line, an empty line, then
 * "<message file name without :2,...>:<index> <index> ..." lines (Courier's README.imapkeywords). Returns the
 * keywords per message file name.
 */
export function parseCourierKeywordList(text: string): Map<string, string[]> {
  const lines = text.split(/\r?\n/);
  const names: string[] = [];
  let i = 0;
  for (; i < lines.length && lines[i] !== ''; i++) names.push(lines[i]!);
  const out = new Map<string, string[]>();
  for (i++; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.lastIndexOf(':');
    if (colon <= 0) continue;
    const kws = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((n) => names[Number(n)])
      .filter((k): k is string => k !== undefined && isKeyword(k));
    out.set(line.slice(0, colon), kws);
  }
  return out;
}

/** The part of a Maildir file name Courier keys its keyword files by: everything before ":2," / "!2,". */
function courierKey(name: string): string {
  return name.replace(/[:!]2,[^:!]*$/, '');
}

/** Per-folder keyword sources: Dovecot's letter map and Courier's per-message lists. */
interface FolderKeywords {
  readonly letters: Map<string, string>;
  readonly courier: Map<string, string[]>;
}

/** Largest keyword file read (Dovecot allows 26 keywords; Courier's :list grows with the folder). */
const MAX_KEYWORD_FILE_BYTES = 16 * 1024 * 1024;

/** A delivery time in the file name older than the mtime by more than this means the copy did not keep times. */
const MTIME_AFTER_NAME_MS = 86_400_000;

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

/** A Maildir folder has cur/ or new/. Throws when the directory cannot be listed (callers report that). */
export async function probeMaildir(dir: string | Buffer): Promise<boolean> {
  const ents = await readdir(dir, { withFileTypes: true });
  return ents.some((e) => (e.name === 'cur' || e.name === 'new') && e.isDirectory());
}

/** An mtime before 1970-01-02 means "unknown" (archives extracted without times); the file name is better. */
const MIN_PLAUSIBLE_MS = 86_400_000;

interface FolderJob {
  readonly dir: string;
  /** What to open (the resolved target when the folder is an allowed symlink). */
  readonly real: string;
  readonly folder: string[];
  readonly repaired?: string | undefined;
}

export interface MaildirSourceOptions extends SourceOptions {
  /** Folder names prepended to every folder of this store (discover.ts places a store inside a larger tree). */
  prefix?: readonly string[] | undefined;
}

type WalkEvent = SourceItem | { readonly kind: 'folder'; readonly folder: SourceFolder };

export class MaildirSource implements Source {
  stats = newStats();
  #notes: string[] = [];
  /** Messages dated from their file name: counted when each is read for ",S=" names (the date is decided then). */
  #dated = { count: 0, folders: new Set<string>() };
  readonly #max: number;
  readonly #pool: MessageFileReader | undefined;
  readonly #prefix: readonly string[];
  readonly #follow: boolean;

  constructor(
    readonly root: string,
    readonly format: 'maildir' | 'maildir++',
    options?: MaildirSourceOptions,
  ) {
    this.#max = resolveMax(options);
    this.#pool = options?.readPool;
    this.#prefix = options?.prefix ?? [];
    this.#follow = options?.followSymlinks ?? false;
  }

  /** Read after the messages were read: a ",S=" message's date (and whether it came from its name) is decided then. */
  get notes(): readonly string[] {
    const d = this.#dated;
    if (d.count === 0) return this.#notes;
    return [
      ...this.#notes,
      `${d.count} message(s) in ${d.folders.size} folder(s) have a file time more than a day newer than the delivery time in their name ` +
        '(a copy that did not keep times?): the time from the name was used as INTERNALDATE',
    ];
  }

  async *items(): AsyncGenerator<SourceItem> {
    const stats = newStats();
    this.stats = stats;
    this.#notes = [];
    this.#dated = { count: 0, folders: new Set<string>() };
    for await (const ev of this.#walk(true)) {
      if (ev.kind === 'folder') continue;
      countItem(stats, ev);
      yield ev;
    }
  }

  async *folders(): AsyncGenerator<SourceFolder> {
    for await (const ev of this.#walk(false)) if (ev.kind === 'folder') yield ev.folder;
  }

  async *#walk(withMessages: boolean): AsyncGenerator<WalkEvent> {
    const guard = new TreeGuard(this.root, this.#follow);
    const registry = new FolderRegistry();
    const loops = new LoopGuard();
    const root = await guard.resolve(this.root);
    if (!isResolved(root)) return yield root;
    if (root.kind !== 'dir') return yield { kind: 'rejected', error: new SourceError(this.root, 'is a file, not a Maildir directory', SourceCodes.UNKNOWN_FORMAT) };
    loops.enter(this.root, root.stats);
    const subscribed = await this.#subscriptions(root.real as string);
    const dated = this.#dated;
    // Folders are found breadth-first from small, sorted listings; messages are streamed folder by folder.
    const queue: FolderJob[] = [{ dir: this.root, real: root.real as string, folder: [] }];
    let isRoot = true;
    while (queue.length) {
      const job = queue.shift()!;
      const scan = yield* this.#scanDir(job, isRoot, guard, loops, withMessages);
      isRoot = false;
      if (!scan) continue;
      queue.push(...scan.children);
      if (!scan.maildir) continue;
      const folder = canonicalFolder([...this.#prefix, ...job.folder]);
      const owner = registry.claim(folder, job.dir);
      if (owner !== undefined) {
        yield {
          kind: 'rejected',
          error: new SourceError(job.dir, `folder "${folderLabel(folder)}" is also the decoded name of ${owner}; this folder was not read`, SourceCodes.FOLDER_COLLISION),
        };
        continue;
      }
      if (job.repaired && withMessages) this.#notes.push(`folder name repaired: ${job.repaired}`);
      const sub = subscribed ? subscribed.has(folderKey(canonicalFolder(job.folder))) || job.folder.length === 0 : undefined;
      yield { kind: 'folder', folder: { folder, path: job.dir, subscribed: sub, repaired: job.repaired } };
      if (withMessages) yield* this.#messages(job, folder, scan.keywords, guard, dated);
    }
  }

  /** Subscriptions of a Maildir++ root: Dovecot's `subscriptions` or Courier's `courierimapsubscribed`. */
  async #subscriptions(dir: string): Promise<Set<string> | undefined> {
    for (const name of ['subscriptions', 'courierimapsubscribed']) {
      try {
        return parseSubscriptions(readRegularFileSync(join(dir, name), MAX_KEYWORD_FILE_BYTES).toString('utf8'));
      } catch {
        // absent (the usual case) or unreadable: the entry walk reports an unreadable file as a failure
      }
    }
    return undefined;
  }

  /**
   * One directory: its sub-folders (Maildir++ ".A.B" entries at the root, plain sub-directories anywhere), its
   * keyword files, and a bucket for every other entry. Returns undefined when the directory cannot be listed.
   */
  async *#scanDir(
    job: FolderJob,
    isRoot: boolean,
    guard: TreeGuard,
    loops: LoopGuard,
    report: boolean,
  ): AsyncGenerator<WalkEvent, { children: FolderJob[]; maildir: boolean; keywords: FolderKeywords } | undefined> {
    const children: FolderJob[] = [];
    const keywords: FolderKeywords = { letters: new Map(), courier: new Map() };
    let entries: DirEntry[];
    try {
      entries = await listDir(job.real);
    } catch (err) {
      // A folder at mode 000 must be a failure, not a folder that silently is not there.
      yield { kind: 'rejected', error: fsError(job.dir, err, 'cannot list directory') };
      return undefined;
    }
    const maildir = entries.some((e) => e.name === 'cur' || e.name === 'new');
    for (const raw of entries) {
      const e = { ...raw, path: join(job.dir, raw.name), fsPath: raw.utf8 ? join(job.real, raw.name) : raw.fsPath };
      if (e.name === 'cur' || e.name === 'new') continue; // read by #messages (a non-directory there is reported by it)
      const r = await guard.resolve(e.path, e.fsPath);
      if (!isResolved(r)) {
        if (report) yield r;
        continue;
      }
      if (r.kind === 'dir') {
        const child = yield* this.#childFolder(job, e, r, isRoot, loops, report);
        if (child) children.push(child);
        continue;
      }
      // A regular file beside cur/ and new/.
      if (e.name === 'dovecot-keywords') {
        try {
          const kw = parseDovecotKeywordsText(readRegularFileSync(r.real as string, MAX_KEYWORD_FILE_BYTES));
          for (const [k, v] of kw) keywords.letters.set(k, v);
        } catch (err) {
          if (report) yield { kind: 'rejected', error: asSourceError(e.path, err) };
          continue;
        }
      }
      if (report) yield classifyStrayFile(e.path, r, maildir);
    }
    if (maildir) {
      const ck = yield* this.#courierKeywords(job, guard, report);
      for (const [k, v] of ck) keywords.courier.set(k, v);
    }
    return { children, maildir, keywords };
  }

  async *#childFolder(job: FolderJob, e: DirEntry, r: ResolvedEntry, isRoot: boolean, loops: LoopGuard, report: boolean): AsyncGenerator<WalkEvent, FolderJob | undefined> {
    const dotted = e.name.startsWith('.');
    if (e.name === 'tmp') {
      // tmp/ holds deliveries in progress (maildir(5)): never mail to import, but every file is accounted for.
      if (report) yield* this.#tmpFiles(e.path, r.real as string);
      return undefined;
    }
    if (e.name === 'courierimapkeywords') {
      if (report) yield skipped(e.path, 'not-mail', 'Courier keyword directory (read for keywords)');
      return undefined;
    }
    if (dotted && !isRoot) {
      if (report) yield skipped(e.path, 'not-mail', 'hidden directory inside a Maildir folder');
      return undefined;
    }
    let isMd: boolean;
    try {
      isMd = await probeMaildir(r.real);
    } catch (err) {
      if (report) yield { kind: 'rejected', error: fsError(e.path, err, 'cannot list directory') };
      return undefined;
    }
    if (dotted && !isMd) {
      if (report) yield skipped(e.path, 'not-mail', 'hidden directory without cur/ or new/ (not a Maildir++ folder)');
      return undefined;
    }
    const loop = loops.enter(e.path, r.stats);
    if (loop) {
      if (report) yield loop;
      return undefined;
    }
    if (!e.utf8) {
      if (report) yield { kind: 'rejected', error: new SourceError(e.path, 'folder name is not valid UTF-8; folder not read', SourceCodes.FOLDER_NAME) };
      return undefined;
    }
    if (dotted) {
      const { names, repaired } = repairMaildirPlusName(e.name);
      return { dir: e.path, real: r.real as string, folder: names, repaired };
    }
    return { dir: e.path, real: r.real as string, folder: [...job.folder, decodeFsName(e.name)] };
  }

  async *#tmpFiles(path: string, real: string): AsyncGenerator<WalkEvent> {
    let entries: DirEntry[];
    try {
      entries = await listDir(real);
    } catch (err) {
      return yield { kind: 'rejected', error: fsError(path, err, 'cannot list directory') };
    }
    for (const e of entries) yield skipped(join(path, e.name), 'not-mail', 'Maildir tmp/: a delivery in progress, not a message yet');
  }

  /** Courier keywords: courierimapkeywords/:list, overridden by per-message update files (newest wins). */
  async *#courierKeywords(job: FolderJob, guard: TreeGuard, report: boolean): AsyncGenerator<WalkEvent, Map<string, string[]>> {
    const dir = join(job.dir, 'courierimapkeywords');
    const out = new Map<string, string[]>();
    let entries: DirEntry[];
    try {
      entries = await listDir(join(job.real, 'courierimapkeywords'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && report) yield { kind: 'rejected', error: fsError(dir, err, 'cannot list directory') };
      return out;
    }
    const updates = new Map<string, { n: number; path: string }>();
    for (const e of entries) {
      const r = await guard.resolve(e.path, e.fsPath);
      if (!isResolved(r) || r.kind !== 'file') {
        if (report) yield isResolved(r) ? skipped(e.path, 'not-mail', 'directory inside courierimapkeywords/') : r;
        continue;
      }
      if (e.name === ':list') {
        try {
          for (const [k, v] of parseCourierKeywordList(readRegularFileSync(r.real as string, MAX_KEYWORD_FILE_BYTES).toString('utf8'))) out.set(k, v);
        } catch (err) {
          if (report) yield { kind: 'rejected', error: asSourceError(e.path, err) };
        }
        continue;
      }
      // "file" (pending update, newest) or ".N.file" (N: the update's time / 300).
      const m = /^\.(\d+)\.(.+)$/.exec(e.name);
      const n = m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
      const key = m ? m[2]! : e.name;
      const prev = updates.get(key);
      if (!prev || prev.n < n) updates.set(key, { n, path: r.real as string });
    }
    for (const [key, u] of updates) {
      try {
        const kws = readRegularFileSync(u.path, MAX_KEYWORD_FILE_BYTES).toString('utf8').split(/\r?\n/).map((k) => k.trim()).filter((k) => k && isKeyword(k));
        out.set(key, kws);
      } catch (err) {
        if (report) yield { kind: 'rejected', error: asSourceError(join(dir, key), err) };
      }
    }
    return out;
  }

  async *#messages(job: FolderJob, folder: string[], keywords: FolderKeywords, guard: TreeGuard, dated: { count: number; folders: Set<string> }): AsyncGenerator<WalkEvent> {
    const idPrefix = `maildir:${folderLabel(folder)}/`;
    for (const sub of ['cur', 'new']) {
      const subdir = join(job.dir, sub);
      const r = await guard.resolve(subdir, join(job.real, sub));
      if (!isResolved(r)) {
        if ((r.kind !== 'rejected' || (r.error.cause as NodeJS.ErrnoException)?.code !== 'ENOENT')) yield r;
        continue;
      }
      if (r.kind !== 'dir') {
        yield { kind: 'rejected', error: new SourceError(subdir, `is a file, not the Maildir ${sub}/ directory; not read`, SourceCodes.NOT_REGULAR) };
        continue;
      }
      try {
        for await (const batch of streamDir(r.real as string)) {
          const paths = batch.map((e) => join(subdir, e.name)); // the walk's path (cur/ itself may be an allowed link)
          // A regular file (by the listing's type) whose name carries its size (Maildir++ ",S=") needs no lstat: the
          // size is in the name and the date comes from the fstat done when it is read — one open/fstat/read/close
          // per message. Measured: the lstat per message (a thread-pool round trip and a Stats object) was ~3 % of
          // the client's CPU (docs/measurements.md, "Client CPU per message"). Everything else is lstat'd as before.
          const sized = batch.map((e) => (e.regular && e.utf8 && !e.name.startsWith('.') ? sizeInName(e.name) : undefined));
          // Resolve the rest of a batch concurrently: one lstat at a time is latency-bound on a cold cache.
          const resolved = await Promise.all(batch.map((e, i) => (sized[i] === undefined ? guard.resolve(paths[i]!, e.fsPath) : undefined)));
          for (let i = 0; i < batch.length; i++) {
            const e = batch[i]!;
            const path = paths[i]!;
            const known = notMailName(e.name);
            const size = sized[i];
            if (size !== undefined) {
              if (known) yield skipped(path, 'not-mail', known);
              else if (size === 0) yield skipped(path, 'not-mail', 'empty file (0 bytes)');
              else if (size > this.#max) yield { kind: 'rejected', error: new SourceError(path, `message of ${size} bytes exceeds maxMessageBytes (${this.#max})`, SourceCodes.TOO_LARGE) };
              else yield { kind: 'message', message: this.#message(e.name, path, e.fsPath as string, size, undefined, folder, idPrefix, keywords, dated) };
              continue;
            }
            const res = resolved[i]!;
            if (!isResolved(res)) yield res;
            else if (e.name.startsWith('.')) yield skipped(path, 'not-mail', 'hidden file');
            else if (res.kind === 'dir') yield { kind: 'rejected', error: new SourceError(path, `a directory inside ${sub}/; not read`, SourceCodes.NOT_MESSAGE) };
            else if (known) yield skipped(path, 'not-mail', known);
            else if (!e.utf8) yield { kind: 'rejected', error: new SourceError(path, 'file name is not valid UTF-8', SourceCodes.UNREADABLE) };
            else if (res.stats.size === 0) yield skipped(path, 'not-mail', 'empty file (0 bytes)');
            else if (res.stats.size > this.#max) {
              yield { kind: 'rejected', error: new SourceError(path, `message of ${res.stats.size} bytes exceeds maxMessageBytes (${this.#max})`, SourceCodes.TOO_LARGE) };
            } else yield { kind: 'message', message: this.#message(e.name, path, res.real as string, res.stats.size, res.stats.mtimeMs, folder, idPrefix, keywords, dated) };
          }
        }
      } catch (err) {
        yield { kind: 'rejected', error: fsError(subdir, err, 'cannot list directory') };
      }
    }
  }

  /** `mtimeMs` undefined: not stat'd (size from the name); the date is then decided when the file is read. */
  #message(name: string, path: string, real: string, size: number, mtimeMs: number | undefined, folder: string[], idPrefix: string, keywords: FolderKeywords, dated: { count: number; folders: Set<string> }): FileMessage {
    const n = parseMaildirName(name);
    const flags = maildirFlags(n.info, keywords.letters);
    if (keywords.courier.size) for (const k of keywords.courier.get(courierKey(name)) ?? []) if (!flags.includes(k)) flags.push(k);
    const dateOf = (mtime: number): { date: Date | undefined; source: InternalDateSource } => {
      if (mtime >= MIN_PLAUSIBLE_MS && !(n.time && mtime - n.time.getTime() > MTIME_AFTER_NAME_MS)) {
        return { date: new Date(Math.floor(mtime / 1000) * 1000), source: 'mtime' }; // INTERNALDATE has 1 s resolution
      }
      if (!n.time) return { date: undefined, source: 'none' };
      if (mtime >= MIN_PLAUSIBLE_MS) {
        dated.count++;
        dated.folders.add(folderLabel(folder));
      }
      return { date: n.time, source: 'filename' };
    };
    const deleted = n.info.includes('T');
    if (mtimeMs === undefined) {
      return new FileMessage(idPrefix + n.base, folder, flags, undefined, 'none', size, path, this.#pool, deleted, this.#max, real, dateOf);
    }
    const d = dateOf(mtimeMs);
    return new FileMessage(idPrefix + n.base, folder, flags, d.date, d.source, size, path, this.#pool, deleted, this.#max, real);
  }
}

/**
 * The size a Maildir++ name carries (",S=<bytes>" in the unique part, before ":2,"), or undefined. Dovecot and
 * Courier write it as the file's size; a name whose size lies still reads the whole file (the fstat decides what is
 * read), only the read-ahead bound and the journal's skip check use this number.
 */
export function sizeInName(name: string): number | undefined {
  const info = name.search(/[:!][12],/);
  const unique = info < 0 ? name : name.slice(0, info);
  const m = /,S=(\d{1,15})(?:,|$)/.exec(unique);
  return m ? Number(m[1]) : undefined;
}

function parseDovecotKeywordsText(buf: Buffer): Map<string, string> {
  const map = parseDovecotKeywords(buf.toString('utf8'));
  for (const [k, v] of map) if (!isKeyword(v)) map.delete(k);
  return map;
}

function asSourceError(path: string, err: unknown): SourceError {
  return err instanceof SourceError ? new SourceError(path, err.message.slice(err.path.length + 2), err.code, { cause: err }) : fsError(path, err);
}

/**
 * A regular file beside cur/ and new/ (or in a directory of a nested tree that is not a Maildir folder): state
 * files and clutter are skipped; a file that starts like a message is a failure (mail outside cur/ and new/ is
 * not imported, and the admin must hear of it); anything else is not mail.
 */
function classifyStrayFile(path: string, r: ResolvedEntry, inMaildir: boolean): SourceItem {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const known = notMailName(name);
  if (known) return skipped(path, 'not-mail', known);
  if (r.stats.size === 0) return skipped(path, 'not-mail', 'empty file (0 bytes)');
  let head: Buffer;
  try {
    head = readRegularHead(r.real as string, 4096);
  } catch (err) {
    return { kind: 'rejected', error: asSourceError(path, err) };
  }
  if (looksLikeMessage(head) || head.toString('latin1', 0, 5) === 'From ') {
    const where = inMaildir ? "beside a Maildir's cur/ and new/" : 'in a Maildir tree but outside any cur/ or new/';
    return { kind: 'rejected', error: new SourceError(path, `looks like mail but lies ${where}; not imported (move it into cur/, or import it on its own)`, SourceCodes.NOT_MESSAGE) };
  }
  return skipped(path, 'not-mail', 'no mail header block');
}
