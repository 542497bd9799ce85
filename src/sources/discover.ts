// Discovery that accounts for everything: walks the whole source and places every store it holds — a Maildir++
// root, nested Maildirs, mbox files (mutt, Thunderbird, Apple Mail bundles), .eml trees — side by side, instead of
// taking the first kind of evidence and ignoring the rest (a home directory with Maildir/ and mail/ used to
// import only the Maildir's INBOX, as a folder named "Maildir").
//
// Where things go:
//  - a Maildir++ root (".Folder" sub-folders) or a directory named Maildir fills INBOX: its .Sent is "Sent";
//  - any other Maildir is a folder named by its path from the root (mbsync's "INBOX/", "Sent/" layout);
//  - loose mail (mbox and .eml files) is named relative to the lowest directory holding all of it (discover's
//    `base`): ~/mail/sent-mail is "sent-mail", an export's "Inbox/" is INBOX;
//  - a single mbox file, a single .eml or a single Maildir folder given directly is INBOX.
// When two stores would both fill INBOX (two Maildirs, or a Maildir beside an mbox "inbox"), the mapping is
// genuinely ambiguous: AmbiguousSourceError is thrown before anything is read, naming the stores found and the
// command to run for each.
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SourceError } from '../core/errors.js';
import { canonicalFolder, decodeFsName } from './folder-name.js';
import { listDir } from './fs-walk.js';
import { MaildirSource, probeMaildir } from './maildir.js';
import { mboxFolderName, sniffMbox } from './mbox.js';
import { unsupportedMailName } from './not-mail.js';
import { MboxSource } from './mbox-tree.js';
import { EmlTreeSource } from './eml-tree.js';
import { TreeSource, type MaildirStore, type TreeFact } from './tree-source.js';
import { SourceCodes, type Source, type SourceFormat, type SourceOptions } from './source.js';

/** A store found by discovery (for the ambiguity error and for callers that list what a source holds). */
export interface FoundStore {
  readonly path: string;
  readonly format: 'maildir' | 'maildir++' | 'mbox-dir' | 'eml' | 'loose';
  /** Whether its mail would go to INBOX. */
  readonly fillsInbox: boolean;
}

/** A folder name to suggest for `--to`: the store's own name, or its parent's when the name is a generic container. */
function suggestedFolder(path: string): string {
  const parts = path.split('/').filter(Boolean);
  for (let i = parts.length - 1; i >= 0; i--) if (!/^(\.?maildir|mail|local folders|inbox)$/i.test(parts[i]!)) return parts[i]!;
  return basename(path);
}

export class AmbiguousSourceError extends SourceError {
  constructor(
    root: string,
    readonly stores: readonly FoundStore[],
  ) {
    const claim = stores.filter((s) => s.fillsInbox);
    const lines = claim.map((s, i) => `  ${s.format} at ${s.path}: mailmigrate import ${JSON.stringify(s.path)}${i === 0 ? '' : ` --to ${JSON.stringify(suggestedFolder(s.path))}`} ...`);
    super(
      root,
      `${claim.length} stores found that would each fill INBOX, so where their mail belongs is for you to say; ` +
        `nothing was sent. Import each on its own, for example:\n${lines.join('\n')}`,
      SourceCodes.AMBIGUOUS,
    );
  }
}

/** Path components shared by all lists. */
function commonPrefix(lists: readonly (readonly string[])[]): string[] {
  if (lists.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const c = lists[0]![i];
    if (c === undefined || !lists.every((l) => l[i] === c)) return out;
    out.push(c);
  }
}

function folderBelow(base: readonly string[], rel: readonly string[]): string[] {
  const below = base.every((b, i) => rel[i] === b) ? rel.slice(base.length) : [...rel];
  return below.map((n) => decodeFsName(n.replace(/\.(sbd|mbox)$/i, '')));
}

/** Opens a directory tree that is not itself a Maildir: plans it, checks for ambiguity, returns a TreeSource. */
async function discoverTree(root: string, options: SourceOptions): Promise<Source> {
  const facts: TreeFact[] = [];
  for await (const f of new TreeSource(root, 'mixed', options).facts()) facts.push(f);
  const maildirs: MaildirStore[] = [];
  const found: FoundStore[] = [];
  for (const f of facts) {
    if (f.fact !== 'maildir') continue;
    const named = /^\.?maildir$/i.test(f.rel[f.rel.length - 1] ?? '');
    const prefix = f.plusPlus || named ? [] : canonicalFolder(f.rel.map((n) => decodeFsName(n)));
    maildirs.push({ root: f.path, format: f.plusPlus ? 'maildir++' : 'maildir', prefix });
    found.push({ path: f.path, format: f.plusPlus ? 'maildir++' : 'maildir', fillsInbox: prefix.length === 0 });
  }
  const loose = facts.filter((f): f is Extract<TreeFact, { fact: 'mbox' | 'eml' }> => f.fact === 'mbox' || f.fact === 'eml');
  // The directory a loose store's folders hang from: an mbox file's directory (a bundle's parent: the bundle is
  // the folder), an .eml file's directory's parent (the directory is the folder), never above the root.
  const homes = loose.map((f) => (f.fact === 'mbox' ? (f.bundle ? f.rel.slice(0, -1) : f.rel) : f.rel.slice(0, -1)));
  const base = commonPrefix(homes);
  // Directories that each hold an inbox (an mbox "Inbox", an "Inbox.mbox" bundle, an "Inbox/" of .eml files): a
  // Thunderbird profile with several accounts (Local Folders, a POP account, an ImapMail cache) has one each, and
  // which of them is the user's INBOX is not ours to guess.
  const inboxHomes = new Map<string, { rel: readonly string[]; kind: 'mbox-dir' | 'eml' }>();
  for (const f of loose) {
    const last = f.rel[f.rel.length - 1] ?? '';
    const home = f.fact === 'mbox' ? (f.bundle ? (/^inbox\.mbox$/i.test(last) ? f.rel.slice(0, -1) : undefined) : /^inbox$/i.test(mboxFolderName(f.name)) ? f.rel : undefined) : /^inbox$/i.test(last) ? f.rel.slice(0, -1) : undefined;
    if (home) inboxHomes.set(home.join('/'), { rel: home, kind: f.fact === 'mbox' ? 'mbox-dir' : 'eml' });
  }
  if (inboxHomes.size > 1) {
    for (const h of inboxHomes.values()) found.push({ path: join(root, ...h.rel), format: h.kind, fillsInbox: true });
  } else if (loose.length) {
    const inbox = loose.some((f) => {
      const folder = f.fact === 'mbox' ? (f.bundle ? folderBelow(base, f.rel) : [...folderBelow(base, f.rel), mboxFolderName(f.name)]) : folderBelow(base, f.rel);
      return canonicalFolder(folder).length === 0;
    });
    const kinds = new Set(loose.map((f) => f.fact));
    found.push({ path: join(root, ...base), format: kinds.size > 1 ? 'loose' : kinds.has('mbox') ? 'mbox-dir' : 'eml', fillsInbox: inbox });
  }
  if (found.filter((s) => s.fillsInbox).length > 1) throw new AmbiguousSourceError(root, found);
  if (found.length === 0) {
    const unsupported = facts.filter((f): f is Extract<TreeFact, { fact: 'unsupported' }> => f.fact === 'unsupported');
    if (unsupported.length) {
      const list = unsupported.slice(0, 3).map((u) => `${u.path} is ${u.what}`).join('; ');
      throw new SourceError(root, `no mail in a format that is read; ${unsupported.length} file(s) in other formats: ${list}`, SourceCodes.UNSUPPORTED);
    }
    const unreadable = facts.filter((f): f is Extract<TreeFact, { fact: 'unreadable' }> => f.fact === 'unreadable');
    if (unreadable.length) {
      // Mail may be behind them: that is a failure to read, not an empty source.
      const list = unreadable.slice(0, 3).map((u) => u.reason).join('; ');
      throw new SourceError(root, `no mail found in what could be read; ${unreadable.length} ${unreadable.length === 1 ? 'directory' : 'directories'} could not be read: ${list}`, SourceCodes.UNREADABLE);
    }
    throw new SourceError(root, 'no mail found: no Maildir (cur/, new/), no mbox file (starting with "From "), no message file (.eml, or a header block)', SourceCodes.UNKNOWN_FORMAT);
  }
  const kinds = new Set<SourceFormat>(found.map((s) => (s.format === 'maildir++' ? 'maildir' : s.format === 'loose' ? 'mixed' : s.format)));
  const format: SourceFormat = kinds.size === 1 ? [...kinds][0]! : 'mixed';
  return new TreeSource(root, format, { ...options, plan: { base, maildirs } });
}

async function hasPlusPlusChildren(dir: string): Promise<boolean> {
  for (const e of await listDir(dir)) {
    if (e.name.startsWith('.') && e.name.length > 1 && e.name !== '..' && (await probeMaildir(e.fsPath).catch(() => false))) return true;
  }
  return false;
}

/**
 * Looks at what is on disk and returns a source for all of it (see the header). Throws SourceError:
 * E_SOURCE_NOT_FOUND, E_SOURCE_UNREADABLE, E_SOURCE_UNKNOWN_FORMAT (no mail at all), E_SOURCE_AMBIGUOUS.
 */
export async function discover(path: string, options: SourceOptions = {}): Promise<Source> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ENOENT') throw new SourceError(path, 'no such file or directory', SourceCodes.NOT_FOUND, { cause: err });
    throw new SourceError(path, `cannot inspect: ${e?.message ?? String(err)}`, SourceCodes.UNREADABLE, { cause: err });
  }
  if (st.isFile()) {
    if (/\.eml$/i.test(path)) return new EmlTreeSource(path, options);
    let kind;
    try {
      kind = sniffMbox(path);
    } catch (err) {
      throw err instanceof SourceError ? err : new SourceError(path, String(err), SourceCodes.UNREADABLE);
    }
    if (kind) return new MboxSource(path, 'mbox', options);
    const unsupported = unsupportedMailName(basename(path));
    if (unsupported) throw new SourceError(path, `is ${unsupported}`, SourceCodes.UNSUPPORTED);
    throw new SourceError(path, 'not a recognised mail file (not an mbox starting with "From ", not .eml)', SourceCodes.UNKNOWN_FORMAT);
  }
  if (!st.isDirectory()) throw new SourceError(path, 'neither a file nor a directory', SourceCodes.NOT_REGULAR);
  let isMd: boolean;
  try {
    isMd = await probeMaildir(path);
  } catch (err) {
    throw new SourceError(path, `cannot list directory: ${(err as Error).message}`, SourceCodes.UNREADABLE, { cause: err });
  }
  if (isMd) return new MaildirSource(path, (await hasPlusPlusChildren(path)) ? 'maildir++' : 'maildir', options);
  return discoverTree(path, options);
}
