// Folder names on disk → Unicode folder paths, and the check that two paths do not become the same folder.
import { decodeMutf7 } from '../core/mutf7.js';

/**
 * Decodes a Maildir++ folder directory name (".Work.Sub" → ["Work", "Sub"]). Dovecot and Courier store each
 * component in modified UTF-7 (RFC 3501 §5.1.3) with '.' as the separator, so the decoding is strict: an
 * invalid name throws an Error saying why.
 */
export function decodeMaildirPlusName(dirName: string): string[] {
  if (!dirName.startsWith('.') || dirName.length < 2) throw new Error(`"${dirName}" is not a Maildir++ folder name`);
  const parts = dirName.slice(1).split('.');
  return parts.map((p) => {
    if (p === '') throw new Error(`empty component in "${dirName}"`);
    return decodeMutf7(p).normalize('NFC');
  });
}

/**
 * Like decodeMaildirPlusName, but never fails: a component that is not valid modified UTF-7 is taken as written
 * (so ".Bad&Jjo" becomes the folder "Bad&Jjo"; the compiler re-encodes '&' when sending) and an empty component
 * becomes "_". Deterministic, so a re-run maps the folder to the same place; `repaired` says what was done.
 */
export function repairMaildirPlusName(dirName: string): { names: string[]; repaired: string | undefined } {
  try {
    return { names: decodeMaildirPlusName(dirName), repaired: undefined };
  } catch (err) {
    const names = dirName
      .slice(1)
      .split('.')
      .map((p) => {
        if (p === '') return '_';
        try {
          return decodeMutf7(p).normalize('NFC');
        } catch {
          return p.normalize('NFC');
        }
      });
    return { names, repaired: `"${dirName}" is not a valid Maildir++ name (${(err as Error).message}); used "${names.join('/')}"` };
  }
}

/**
 * Parses a subscription list: Dovecot's Maildir++ `subscriptions` (one name per line, "V\t2" header in version 2,
 * hierarchy separated by TAB) or Courier's `courierimapsubscribed` ("INBOX.Sent": '.'-separated, INBOX. prefix).
 * Returns folder keys (folderKey) of the subscribed folders.
 */
export function parseSubscriptions(text: string): Set<string> {
  const out = new Set<string>();
  const lines = text.split(/\r?\n/);
  const v2 = /^V\t2$/.test(lines[0] ?? '');
  for (const [i, raw] of lines.entries()) {
    if (v2 && i === 0) continue;
    const line = raw.trim();
    if (!line) continue;
    let parts = line.includes('\t') || v2 ? line.split('\t') : line.split('.');
    if (parts[0]!.toUpperCase() === 'INBOX' && parts.length > 1 && !v2) parts = parts.slice(1);
    out.add(folderKey(canonicalFolder(parts.map((p) => decodeFsName(p)))));
  }
  return out;
}

/**
 * Decodes one directory or file name of a nested tree (Maildir "fs" layout, mbox directories, .eml trees).
 * Such names are written either in modified UTF-7 (Dovecot) or in UTF-8 by people and other tools, so this is
 * lenient: valid modified UTF-7 containing '&' is decoded, everything else is taken as written (NFC).
 */
export function decodeFsName(name: string): string {
  if (name.includes('&')) {
    try {
      return decodeMutf7(name).normalize('NFC');
    } catch {
      // "Tom & Jerry": a name typed by a person, not an encoded one.
    }
  }
  return name.normalize('NFC');
}

/** INBOX is case-insensitive (RFC 3501 §5.1); a top-level "INBOX" folder is the root folder []. */
export function canonicalFolder(folder: readonly string[]): string[] {
  if (folder.length === 1 && folder[0]!.toUpperCase() === 'INBOX') return [];
  if (folder.length > 1 && folder[0]!.toUpperCase() === 'INBOX') return ['INBOX', ...folder.slice(1)];
  return [...folder];
}

export function folderKey(folder: readonly string[]): string {
  return folder.map((n) => n.normalize('NFC')).join('\u0000');
}

/** Remembers which on-disk path claimed each decoded folder; the second claimant is refused. */
export class FolderRegistry {
  readonly #owners = new Map<string, string>();

  /** Returns undefined when `path` may use `folder`, else the path that already owns it. */
  claim(folder: readonly string[], path: string): string | undefined {
    const key = folderKey(folder);
    const owner = this.#owners.get(key);
    if (owner !== undefined && owner !== path) return owner;
    this.#owners.set(key, path);
    return undefined;
  }
}

/** A folder path for humans and ids: names joined by '/', with '/' and '%' inside a name escaped. */
export function folderLabel(folder: readonly string[]): string {
  return folder.length === 0 ? 'INBOX' : folder.map((n) => n.replace(/%/g, '%25').replace(/\//g, '%2F')).join('/');
}
