// A directory tree holding mail in any mix of forms: mbox files (mutt, Thunderbird "Name" + "Name.sbd/",
// Apple Mail "Name.mbox/mbox" bundles, .gz), .eml files (or header-first files without the extension), and
// Maildirs (delegated to MaildirSource, each placed where discover.ts decided). Every path of the tree ends in one
// bucket: a message (or an mbox whose messages are yielded), 'rejected' (with a reason), or 'skipped' (with a
// reason class: clutter and state files, zero-byte files, text without a header block, symlinks out of the tree).
//
// Folder names of loose mail (mbox and .eml) are relative to the plan's `base` directory — the lowest directory
// holding all of it, so `~/mail/sent` is the folder "sent", not "mail/sent" — with ".sbd" and Apple's ".mbox"
// removed from directory names. An mbox file is a folder named after the file; an .eml file belongs to the folder
// of its directory; a top-level "Inbox" (any case) is INBOX (RFC 3501 §5.1).
import { createHash } from 'node:crypto';
import { join, relative, basename } from 'node:path';
import { SourceError } from '../core/errors.js';
import { zlibLib } from '../core/on-demand.js';
import { emlItem } from './eml-file.js';
import { canonicalFolder, decodeFsName, folderKey, folderLabel, FolderRegistry } from './folder-name.js';
import { fsError, listDir, LoopGuard, type DirEntry } from './fs-walk.js';
import { MaildirSource, probeMaildir } from './maildir.js';
import { mboxFolderName, readMboxFile, type PseudoMessage } from './mbox.js';
import { parseFromLine } from './mbox-scan.js';
import { notMailName, unsupportedMailName } from './not-mail.js';
import { readRegularHead } from './safe-read.js';
import { looksLikeMessage } from './headers.js';
import { isResolved, TreeGuard, type ResolvedEntry } from './tree-guard.js';
import {
  countItem,
  newStats,
  resolveMax,
  resolveMaxLine,
  skipped,
  SourceCodes,
  type MboxVariant,
  type Source,
  type SourceFolder,
  type SourceFormat,
  type SourceItem,
  type WalkShare,
  WalkRuns,
  type SourceOptions,
  type MessageFileReader,
} from './source.js';

export type LooseKind = 'mbox' | 'eml';

/** A Maildir found inside the tree and where its folders go. */
export interface MaildirStore {
  readonly root: string;
  readonly format: 'maildir' | 'maildir++';
  /** Folder names prepended to the store's folders; [] for the store that fills INBOX. */
  readonly prefix: readonly string[];
}

/** What discover.ts decided for a tree. */
export interface TreePlan {
  /** Path components from the root to the directory loose mail folder names are relative to. */
  readonly base: readonly string[];
  readonly maildirs: readonly MaildirStore[];
}

/** What the planning walk reports (discover.ts turns facts into a TreePlan). */
export type TreeFact =
  | { readonly fact: 'maildir'; readonly rel: readonly string[]; readonly path: string; readonly plusPlus: boolean }
  | { readonly fact: 'mbox'; readonly rel: readonly string[]; readonly name: string; readonly bundle: boolean }
  | { readonly fact: 'eml'; readonly rel: readonly string[]; readonly name: string }
  | { readonly fact: 'unsupported'; readonly path: string; readonly what: string }
  | { readonly fact: 'unreadable'; readonly path: string; readonly reason: string };

export interface TreeSourceOptions extends SourceOptions {
  /** From discover.ts; without it the root is the base and Maildirs are walked as plain directories. */
  plan?: TreePlan | undefined;
  /** A forced format ('mbox-dir' or 'eml'): files of the other kind are skipped as 'excluded'. */
  only?: LooseKind | undefined;
}

type Mode = 'items' | 'folders' | 'plan';
type Event = SourceItem | PseudoMessage | { readonly kind: 'folder'; readonly folder: SourceFolder } | { readonly kind: 'fact'; readonly fact: TreeFact };

interface WalkState {
  readonly mode: Mode;
  readonly guard: TreeGuard;
  readonly loops: LoopGuard;
  readonly registry: FolderRegistry;
  readonly folders: Set<string>;
  /** One of several walks at once (WalkShare): its folders' messages only, and the strays if it is that walk. */
  readonly share?: WalkShare | undefined;
  /** The tree's real root, hashed: part of every .eml id (emlId). */
  rootTag: string;
}

/**
 * The id of an .eml file: its path below the root, the tree's real root and the file's mtime. The journal is kept per
 * account, not per source, and vouches for an id without the message being read (a confirmed id in a folder unchanged
 * since is skipped: message-planner.ts), so an id must not name two different messages across the sources an account
 * is ever fed. Maildir unique names (maildir(5)) and mbox ids (a digest of the message) are such names; a relative path
 * is not: two exports with the same layout (Inbox/1.eml from two machines) had one id, and the second export's message
 * of the same size was skipped as already imported — lost (test/integration/eml-exports.test.ts). The real root tells
 * the exports apart however the path is spelled; the mtime tells a file re-exported in place from the one before. A
 * re-run of the same tree keeps every id; a moved or touched tree costs a look-up on the server, never a duplicate.
 */
function emlId(label: string, rootTag: string, mtimeMs: number): string {
  return `eml:${label}@${rootTag}.${Math.trunc(mtimeMs)}`;
}

/** Whether this walk yields what is nobody's message: a skipped path, a failure outside a claimed folder. */
function reports(st: WalkState): boolean {
  return st.mode === 'items' && (st.share === undefined || st.share.strays);
}

/** Whether this walk reads the messages of `folder`. */
function claims(st: WalkState, folder: readonly string[]): boolean {
  return st.share === undefined || st.share.claim(folder);
}

/**
 * A gzip file is an mbox when its first decompressed bytes are "From " (a .tar.gz beside the mail is not). The
 * head is at most 4 KiB and deflate expands at most 1032:1 (zlib's technical details), so the output stays under
 * 4.2 MiB; the cap only guards that arithmetic.
 */
function gzipHoldsMbox(head: Buffer): boolean {
  try {
    const z = zlibLib();
    const out = z.gunzipSync(head, { finishFlush: z.constants.Z_SYNC_FLUSH, maxOutputLength: 8 * 1024 * 1024 });
    return out.toString('latin1', 0, 5) === 'From ';
  } catch {
    return false; // not a gzip stream after all
  }
}

export class TreeSource implements Source {
  stats = newStats();
  #notes: string[] = [];
  /** Nested Maildirs read by items(), by path: their notes are complete only once their messages were read
   *  (maildir.ts). One reader per store for all the walks running at once, so its notes count all their messages. */
  #nested = new Map<string, MaildirSource>();
  readonly #runs = new WalkRuns(() => {
    this.stats = newStats();
    this.#notes = [];
    this.#nested = new Map();
  });
  readonly #max: number;
  readonly #maxLine: number;
  readonly #variant: MboxVariant;
  readonly #pool: MessageFileReader | undefined;
  readonly #follow: boolean;
  readonly #plan: TreePlan;
  readonly #only: LooseKind | undefined;
  readonly #maildirs: Map<string, MaildirStore>;
  readonly #options: SourceOptions;

  constructor(
    readonly root: string,
    readonly format: SourceFormat,
    options: TreeSourceOptions = {},
  ) {
    this.#max = resolveMax(options);
    this.#maxLine = resolveMaxLine(options);
    this.#variant = options.mboxVariant ?? 'auto';
    this.#pool = options.readPool;
    this.#follow = options.followSymlinks ?? false;
    this.#plan = options.plan ?? { base: [], maildirs: [] };
    this.#only = options.only;
    this.#maildirs = new Map(this.#plan.maildirs.map((m) => [m.root, m]));
    this.#options = options;
  }

  get notes(): readonly string[] {
    return this.#nested.size ? [...this.#notes, ...[...this.#nested.values()].flatMap((m) => m.notes)] : this.#notes;
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
      for await (const ev of this.#walk('items', share)) {
        if (ev.kind === 'pseudo') stats.skipped++;
        else if (ev.kind === 'message' || ev.kind === 'rejected' || ev.kind === 'skipped') {
          countItem(stats, ev);
          yield ev;
        }
      }
    } finally {
      this.#runs.leave();
    }
  }

  async *folders(): AsyncGenerator<SourceFolder> {
    for await (const ev of this.#walk('folders')) if (ev.kind === 'folder') yield ev.folder;
  }

  /** The planning walk: where the Maildirs, mbox files and .eml files are (no message is read). */
  async *facts(): AsyncGenerator<TreeFact> {
    for await (const ev of this.#walk('plan')) if (ev.kind === 'fact') yield ev.fact;
  }

  async *#walk(mode: Mode, share?: WalkShare): AsyncGenerator<Event> {
    const st: WalkState = { mode, guard: new TreeGuard(this.root, this.#follow), loops: new LoopGuard(), registry: new FolderRegistry(), folders: new Set(), share, rootTag: '' };
    const r = await st.guard.resolve(this.root);
    if (!isResolved(r)) return mode !== 'items' || reports(st) ? yield r : undefined;
    st.rootTag = createHash('sha256').update(await st.guard.realRoot()).digest('hex').slice(0, 12);
    if (r.kind === 'file') return yield* this.#file(this.root, r, [], false, true, st, true);
    st.loops.enter(this.root, r.stats);
    yield* this.#dir(this.root, r.real as string, [], false, st);
  }

  /** Folder of a directory: its path below the base, ".sbd"/".mbox" removed, names decoded. */
  #folderOf(rel: readonly string[]): string[] {
    const base = this.#plan.base;
    const below = base.every((b, i) => rel[i] === b) ? rel.slice(base.length) : rel;
    return below.map((n) => decodeFsName(n.replace(/\.(sbd|mbox)$/i, '')));
  }

  #underBase(rel: readonly string[]): boolean {
    const base = this.#plan.base;
    return rel.length > base.length && base.every((b, i) => rel[i] === b);
  }

  *#folderEvent(folder: readonly string[], path: string, st: WalkState, more?: SourceFolder): Generator<Event> {
    if (st.mode !== 'folders') return;
    const key = folderKey(folder);
    if (st.folders.has(key)) return;
    st.folders.add(key);
    yield { kind: 'folder', folder: more ?? { folder, path } };
  }

  async *#dir(path: string, real: string, rel: string[], bundle: boolean, st: WalkState): AsyncGenerator<Event> {
    let entries: DirEntry[];
    try {
      entries = await listDir(real);
    } catch (err) {
      // A folder at mode 000 is a failure, never a folder that silently is not there.
      const error = fsError(path, err, 'cannot list directory');
      if (st.mode === 'plan') return yield { kind: 'fact', fact: { fact: 'unreadable', path, reason: error.message } };
      if (st.mode === 'folders' || reports(st)) yield { kind: 'rejected', error };
      return;
    }
    if (this.#underBase(rel) && !rel[rel.length - 1]!.startsWith('.')) yield* this.#folderEvent(canonicalFolder(this.#folderOf(rel)), path, st);
    // Zero-byte files beside Thunderbird summaries or .sbd directories are empty mbox folders, not clutter.
    const mboxContext = bundle || entries.some((e) => /\.(msf|sbd)$/i.test(e.name));
    for (const e of entries) {
      const epath = join(path, e.name);
      const res = await st.guard.resolve(epath, e.fsPath);
      if (!isResolved(res)) {
        if (reports(st)) yield res;
        continue;
      }
      if (!e.utf8) {
        if (reports(st)) yield { kind: 'rejected', error: new SourceError(epath, 'name is not valid UTF-8; not read', SourceCodes.FOLDER_NAME) };
        continue;
      }
      if (res.kind === 'dir') yield* this.#subdir(epath, res, [...rel, e.name], st);
      else yield* this.#file(epath, res, rel, bundle, mboxContext, st, false);
    }
  }

  async *#subdir(path: string, res: ResolvedEntry, rel: string[], st: WalkState): AsyncGenerator<Event> {
    const loop = st.loops.enter(path, res.stats);
    if (loop) {
      if (reports(st)) yield loop;
      return;
    }
    const store = this.#maildirs.get(path);
    if (store) {
      // A Maildir inside the tree: its own reader, placed as discover.ts decided.
      if (st.mode === 'folders') {
        const md = new MaildirSource(res.real as string, store.format, { ...this.#options, prefix: store.prefix });
        for await (const f of md.folders()) yield* this.#folderEvent(f.folder, f.path, st, f);
        return;
      }
      if (st.mode === 'plan') return;
      let md = this.#nested.get(path);
      if (!md) {
        md = new MaildirSource(res.real as string, store.format, { ...this.#options, prefix: store.prefix });
        this.#nested.set(path, md);
      }
      for await (const item of st.share ? md.sharedItems(st.share) : md.items()) yield item;
      return;
    }
    if (st.mode === 'plan' && !this.#only) {
      let isMd = false;
      try {
        isMd = await probeMaildir(res.real);
      } catch (err) {
        return yield { kind: 'fact', fact: { fact: 'unreadable', path, reason: fsError(path, err, 'cannot list directory').message } };
      }
      if (isMd) {
        let plusPlus = false;
        try {
          for (const c of await listDir(res.real as string)) {
            if (c.name.startsWith('.') && c.name.length > 1 && c.name !== '..' && (await probeMaildir(c.fsPath).catch(() => false))) plusPlus = true;
          }
        } catch {
          // as above
        }
        return yield { kind: 'fact', fact: { fact: 'maildir', rel, path, plusPlus } };
      }
    }
    // Apple Mail exports a folder as a "Name.mbox" directory holding the messages in a file named "mbox".
    const bundle = /\.mbox$/i.test(rel[rel.length - 1]!);
    yield* this.#dir(path, res.real as string, rel, bundle, st);
  }

  async *#file(path: string, res: ResolvedEntry, rel: string[], bundle: boolean, mboxContext: boolean, st: WalkState, single: boolean): AsyncGenerator<Event> {
    const name = basename(path);
    const report = reports(st);
    const bundleMbox = bundle && name === 'mbox';
    const known = bundleMbox ? undefined : notMailName(name);
    if (known) {
      if (report) yield skipped(path, 'not-mail', known);
      return;
    }
    const unsupported = unsupportedMailName(name);
    if (unsupported && res.stats.size > 0) {
      if (st.mode === 'plan') yield { kind: 'fact', fact: { fact: 'unsupported', path, what: unsupported } };
      if (report) yield { kind: 'rejected', error: new SourceError(path, `is ${unsupported}`, SourceCodes.UNSUPPORTED) };
      return;
    }
    const folder = canonicalFolder(single ? [] : bundleMbox ? this.#folderOf(rel) : [...this.#folderOf(rel), mboxFolderName(name)]);
    if (res.stats.size === 0) {
      const emptyFolder = (mboxContext || bundleMbox) && !name.startsWith('.') && !/\.eml$/i.test(name);
      if (emptyFolder && this.#underBase([...rel, name])) yield* this.#folderEvent(folder, path, st);
      if (report) yield skipped(path, 'not-mail', emptyFolder ? 'empty file (0 bytes): an empty mbox folder' : 'empty file (0 bytes)');
      return;
    }
    let kind: LooseKind | undefined;
    let gzip = false;
    if (/\.eml$/i.test(name)) kind = 'eml';
    else {
      let head: Buffer;
      try {
        head = readRegularHead(res.real as string, 4096);
      } catch (err) {
        if (report) yield { kind: 'rejected', error: err instanceof SourceError ? new SourceError(path, err.message.slice(err.path.length + 2), err.code, { cause: err }) : fsError(path, err) };
        return;
      }
      if (head[0] === 0x1f && head[1] === 0x8b) {
        if (gzipHoldsMbox(head)) {
          kind = 'mbox';
          gzip = true;
        } else {
          if (report) yield skipped(path, 'not-mail', 'gzip file that is not a compressed mbox');
          return;
        }
      } else if (head.toString('latin1', 0, 5) === 'From ') {
        // A text that merely starts with "From " ("From the man page: ...") is not an mbox: the first line must be a
        // From_ line, unless the name or a Thunderbird summary beside it says mbox (then a malformed first From_
        // line is a failure of that message, reported by the reader).
        const nl = head.indexOf(0x0a);
        const first = head.toString('latin1', 0, nl < 0 ? head.length : nl).replace(/\r$/, '');
        if (parseFromLine(first) || /\.(mbox|mbx)$/i.test(name) || mboxContext || bundleMbox) kind = 'mbox';
        else {
          if (report) yield skipped(path, 'not-mail', 'text starting with "From " without a From_ line (not an mbox)');
          return;
        }
      } else if (looksLikeMessage(head)) kind = 'eml';
      else {
        if (report) yield skipped(path, 'not-mail', 'no mail header block (not a message, not an mbox)');
        return;
      }
    }
    if (this.#only && kind !== this.#only) {
      if (report) yield skipped(path, 'excluded', `${kind === 'eml' ? 'a message file' : 'an mbox file'}; the forced format reads ${this.#only} files only`);
      return;
    }
    if (st.mode === 'plan') {
      return yield { kind: 'fact', fact: kind === 'mbox' ? { fact: 'mbox', rel, name, bundle: bundleMbox } : { fact: 'eml', rel, name } };
    }
    const label = relative(this.root, path) || basename(path);
    if (kind === 'eml') {
      const efolder = canonicalFolder(single ? [] : this.#folderOf(rel));
      if (st.mode === 'folders') return yield* this.#folderEvent(efolder, path, st);
      if (!claims(st, efolder)) return;
      return yield emlItem({ path, real: res.real as string, stats: res.stats, folder: efolder, id: emlId(label, st.rootTag, res.stats.mtimeMs), maxMessageBytes: this.#max, pool: this.#pool });
    }
    if (st.mode === 'folders') return yield* this.#folderEvent(folder, path, st);
    const owner = st.registry.claim(folder, path);
    if (owner !== undefined) {
      if (!report) return;
      return yield {
        kind: 'rejected',
        error: new SourceError(path, `folder "${folderLabel(folder)}" is also the name of ${owner}; this file was not read`, SourceCodes.FOLDER_COLLISION),
      };
    }
    if (!claims(st, folder)) return;
    yield* readMboxFile({ path, openPath: res.real as string, folder, label, gzip, maxMessageBytes: this.#max, maxLineBytes: this.#maxLine, variant: this.#variant });
  }
}
