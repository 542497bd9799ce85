// Maildir (cr.yp.to/proto/maildir.html), Maildir++ (Courier: ".Folder.Sub" beside cur/new/tmp, INBOX at the
// root) and nested Maildir trees ("Folder/Sub/{cur,new}", Dovecot LAYOUT=fs, mbsync SubFolders Verbatim).
// Messages live in cur/ and new/; tmp/ holds deliveries in progress and is skipped.
// Every entry of the tree ends in a bucket: messages; 'skipped' (state files, clutter, tmp/, hidden files, zero-byte
// files, symlinks out of the tree); 'rejected' (unreadable folders and files, FIFOs and devices, loops).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from '../core/errors.js';
import { canonicalFolder, decodeFsName, folderKey, folderLabel, FolderRegistry, parseSubscriptions, repairMaildirPlusName } from './folder-name.js';
import { fsError, listDir, LoopGuard, streamDir, type DirEntry } from './fs-walk.js';
import { asSourceError, MAX_KEYWORD_FILE_BYTES, parseDovecotKeywordsFile, readCourierKeywords, type FolderKeywords } from './maildir-keywords.js';
import { MaildirFolderMessages, type NameDated } from './maildir-message.js';
import { sizeInName } from './maildir-name.js';
import { notMailName } from './not-mail.js';
import { readRegularFileSync, readRegularHead } from './safe-read.js';
import { looksLikeMessage } from './headers.js';
import { isResolved, TreeGuard, type ResolvedEntry } from './tree-guard.js';
import { countItem, newStats, resolveMax, skipped, SourceCodes, type Source, type SourceFolder, type SourceItem, type SourceOptions, type MessageFileReader, type WalkShare, WalkRuns } from './source.js';

/** A Maildir folder has cur/ or new/. Throws when the directory cannot be listed (callers report that). */
export async function probeMaildir(dir: string | Buffer): Promise<boolean> {
  const ents = await readdir(dir, { withFileTypes: true });
  return ents.some((e) => (e.name === 'cur' || e.name === 'new') && e.isDirectory());
}

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

// 'batch': the items of one directory batch of cur/ or new/, handed up the walk as one event, so each message costs
// one async-generator step (items()) instead of one per level of the walk (issue 14: bytes allocated per message).
type WalkEvent = SourceItem | { readonly kind: 'folder'; readonly folder: SourceFolder } | { readonly kind: 'batch'; readonly items: readonly SourceItem[] };

export class MaildirSource implements Source {
  stats = newStats();
  #notes: string[] = [];
  /** Messages dated from their file name: counted when each is read for ",S=" names (the date is decided then). */
  #dated: NameDated = { count: 0, folders: new Set<string>() };
  readonly #runs = new WalkRuns(() => {
    this.stats = newStats();
    this.#notes = [];
    this.#dated = { count: 0, folders: new Set<string>() };
  });
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

  items(): AsyncGenerator<SourceItem> {
    return this.#items(undefined);
  }

  sharedItems(share: WalkShare): AsyncGenerator<SourceItem> {
    return this.#items(share);
  }

  async *#items(share: WalkShare | undefined): AsyncGenerator<SourceItem> {
    this.#runs.enter();
    try {
      const stats = this.stats;
      for await (const ev of this.#walk(true, share)) {
        if (ev.kind === 'folder') continue;
        if (ev.kind === 'batch') {
          for (const item of ev.items) {
            countItem(stats, item);
            yield item;
          }
          continue;
        }
        countItem(stats, ev);
        yield ev;
      }
    } finally {
      this.#runs.leave();
    }
  }

  async *folders(): AsyncGenerator<SourceFolder> {
    for await (const ev of this.#walk(false)) if (ev.kind === 'folder') yield ev.folder;
  }

  /** `share`: messages of the folders it claims only, and the rest only if it is the strays walk (WalkShare). */
  async *#walk(withMessages: boolean, share?: WalkShare): AsyncGenerator<WalkEvent> {
    // Nobody's messages (stray files, a collision, an unreadable root) belong to the strays walk alone.
    const strays = share === undefined || share.strays;
    const report = withMessages && strays;
    const guard = new TreeGuard(this.root, this.#follow);
    const registry = new FolderRegistry();
    const loops = new LoopGuard();
    const root = await guard.resolve(this.root);
    if (!isResolved(root)) return strays ? yield root : undefined;
    if (root.kind !== 'dir') return strays ? yield { kind: 'rejected', error: new SourceError(this.root, 'is a file, not a Maildir directory', SourceCodes.UNKNOWN_FORMAT) } : undefined;
    loops.enter(this.root, root.stats);
    const subscribed = await this.#subscriptions(root.real as string);
    const dated = this.#dated;
    // Folders are found breadth-first from small, sorted listings; messages are streamed folder by folder.
    const queue: FolderJob[] = [{ dir: this.root, real: root.real as string, folder: [] }];
    let isRoot = true;
    while (queue.length) {
      const job = queue.shift()!;
      const scan = yield* this.#scanDir(job, isRoot, guard, loops, report);
      isRoot = false;
      if (!scan) continue;
      queue.push(...scan.children);
      if (!scan.maildir) continue;
      const folder = canonicalFolder([...this.#prefix, ...job.folder]);
      const owner = registry.claim(folder, job.dir);
      if (owner !== undefined) {
        if (strays) {
          yield {
            kind: 'rejected',
            error: new SourceError(job.dir, `folder "${folderLabel(folder)}" is also the decoded name of ${owner}; this folder was not read`, SourceCodes.FOLDER_COLLISION),
          };
        }
        continue;
      }
      if (job.repaired && report) this.#notes.push(`folder name repaired: ${job.repaired}`);
      const sub = subscribed ? subscribed.has(folderKey(canonicalFolder(job.folder))) || job.folder.length === 0 : undefined;
      yield { kind: 'folder', folder: { folder, path: job.dir, subscribed: sub, repaired: job.repaired } };
      if (withMessages && (share === undefined || share.claim(folder))) yield* this.#messages(job, folder, scan.keywords, guard, dated);
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
      // A folder at mode 000 must be a failure, not a folder that silently is not there (reported by one walk).
      if (report) yield { kind: 'rejected', error: fsError(job.dir, err, 'cannot list directory') };
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
          const kw = parseDovecotKeywordsFile(readRegularFileSync(r.real as string, MAX_KEYWORD_FILE_BYTES));
          for (const [k, v] of kw) keywords.letters.set(k, v);
        } catch (err) {
          if (report) yield { kind: 'rejected', error: asSourceError(e.path, err) };
          continue;
        }
      }
      if (report) yield classifyStrayFile(e.path, r, maildir);
    }
    if (maildir) {
      const ck = yield* readCourierKeywords(job.dir, job.real, guard, report);
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

  async *#messages(job: FolderJob, folder: string[], keywords: FolderKeywords, guard: TreeGuard, dated: NameDated): AsyncGenerator<WalkEvent> {
    const messages = new MaildirFolderMessages(folder, keywords, dated, this.#pool, this.#max);
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
      const prefix = join(subdir, '_').slice(0, -1);
      try {
        for await (const batch of streamDir(r.real as string)) {
          // The walk's path (cur/ itself may be an allowed link). A listed name is one plain component, so
          // join(subdir, name) is the normalized directory, '/', and the name: computed once per directory.
          const paths = batch.map((e) => prefix + e.name);
          // A regular file (by the listing's type) whose name carries its size (Maildir++ ",S=") needs no lstat: the
          // size is in the name and the date comes from the fstat done when it is read — one open/fstat/read/close
          // per message. Measured: the lstat per message (a thread-pool round trip and a Stats object) was ~3 % of
          // the client's CPU (docs/measurements.md, "Client CPU per message"). Everything else is lstat'd as before.
          const sized = batch.map((e) => (e.regular && e.utf8 && !e.name.startsWith('.') ? sizeInName(e.name) : undefined));
          // Resolve the rest of a batch concurrently: one lstat at a time is latency-bound on a cold cache.
          // (A batch of ",S=" names has nothing to resolve: no promise per entry then.)
          const resolved = sized.includes(undefined) ? await Promise.all(batch.map((e, i) => (sized[i] === undefined ? guard.resolve(paths[i]!, e.fsPath) : undefined))) : [];
          const items: SourceItem[] = [];
          for (let i = 0; i < batch.length; i++) {
            const size = sized[i];
            items.push(size !== undefined ? messages.sizedEntry(batch[i]!, paths[i]!, size) : messages.listedEntry(batch[i]!, paths[i]!, resolved[i]!, sub));
          }
          yield { kind: 'batch', items };
        }
      } catch (err) {
        yield { kind: 'rejected', error: fsError(subdir, err, 'cannot list directory') };
      }
    }
  }
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
