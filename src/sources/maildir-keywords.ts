// Keywords of a Maildir folder: Dovecot's dovecot-keywords (letters a–z of the info map to names) and Courier's
// courierimapkeywords/ (a :list file plus per-message update files). Read once per folder, before its messages.
import { join } from 'node:path';
import { fsError, listDir, type DirEntry } from './fs-walk.js';
import { readRegularFileSync } from './safe-read.js';
import { skipped, type SourceItem } from './source.js';
import { isResolved, type TreeGuard } from './tree-guard.js';
import { SourceError } from '../core/errors.js';

/** Per-folder keyword sources: Dovecot's letter map and Courier's per-message lists. */
export interface FolderKeywords {
  readonly letters: Map<string, string>;
  readonly courier: Map<string, string[]>;
}

/** Largest keyword file read (Dovecot allows 26 keywords; Courier's :list grows with the folder). */
export const MAX_KEYWORD_FILE_BYTES = 16 * 1024 * 1024;

/** Keywords are IMAP atoms (RFC 3501 §9 flag-keyword): anything else in a keyword file is dropped. */
export function isKeyword(k: string): boolean {
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

/** dovecot-keywords as read from disk: names that are not IMAP atoms are dropped. */
export function parseDovecotKeywordsFile(buf: Buffer): Map<string, string> {
  const map = parseDovecotKeywords(buf.toString('utf8'));
  for (const [k, v] of map) if (!isKeyword(v)) map.delete(k);
  return map;
}

/** A SourceError about `path` (the walk's name) from a failure met while reading the file by another path. */
export function asSourceError(path: string, err: unknown): SourceError {
  return err instanceof SourceError ? new SourceError(path, err.message.slice(err.path.length + 2), err.code, { cause: err }) : fsError(path, err);
}

/**
 * Courier keywords of the folder at `dir` (opened as `real`): courierimapkeywords/:list, overridden by per-message
 * update files (newest wins). With `report`, every entry that is not a keyword file, and every failure, is yielded.
 */
export async function* readCourierKeywords(dir: string, real: string, guard: TreeGuard, report: boolean): AsyncGenerator<SourceItem, Map<string, string[]>> {
  const kwDir = join(dir, 'courierimapkeywords');
  const out = new Map<string, string[]>();
  let entries: DirEntry[];
  try {
    entries = await listDir(join(real, 'courierimapkeywords'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && report) yield { kind: 'rejected', error: fsError(kwDir, err, 'cannot list directory') };
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
      if (report) yield { kind: 'rejected', error: asSourceError(join(kwDir, key), err) };
    }
  }
  return out;
}
