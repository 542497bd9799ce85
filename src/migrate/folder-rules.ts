import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { ConfigError } from '../core/errors.js';

// What the admin says about folders (issue 12): which source folders to leave out (--exclude, --include), where a
// folder goes (--map SRC=DST, --map-file with imapsync's regextrans2-style `regex => target` lines) and where the
// source's top level goes (--to). Pure over the source folder path: a list of names, shown and matched as "A/B";
// the source's top level is "INBOX". Applied before mapFolder (folder-map.ts), which then puts the result under the
// server's namespace and delimiter.
//
// Rules, in order:
//  1. --exclude: a folder whose path, or an ancestor's, matches any exclude glob is left out (with its subfolders).
//  2. --include: when given, only folders whose path, or an ancestor's, matches an include glob are imported.
//  3. --map SRC=DST: the folder SRC and everything below it move to DST (longest SRC first).
//  4. --map-file: the first `regex => target` line whose regex matches the path rewrites it (String.replace, so $1
//     works); a later line is not tried.
//  5. --to FOLDER: the top level goes to FOLDER (a single mbox or Maildir folder given directly otherwise fills INBOX).
// Globs are case-insensitive (`--exclude trash` leaves out "Trash"): `*` stays within one level, `**` crosses them.

export interface FolderRuleOptions {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  /** "SRC=DST" pairs. */
  readonly map?: readonly string[];
  /** Path of a file of `regex => target` lines. */
  readonly mapFile?: string | undefined;
  readonly to?: string | undefined;
}

export type RuledFolder =
  | { readonly excluded: true; readonly rule: string }
  | { readonly excluded: false; readonly parts: readonly string[]; /** Moved by an explicit rule: no special-use guess. */ readonly explicit: boolean };

const TOP = 'INBOX';

export class FolderRules {
  readonly #include: Array<{ glob: string; test: (s: string) => boolean }>;
  readonly #exclude: Array<{ glob: string; test: (s: string) => boolean }>;
  readonly #map: Array<{ from: string[]; to: string[] }>;
  readonly #regex: Array<{ re: RegExp; target: string }>;
  readonly #to: string[] | undefined;

  constructor(o: FolderRuleOptions = {}) {
    const glob = (option: string) => (g: string) => {
      if (g.trim() === '') throw new ConfigError(option, 'an empty pattern');
      const match = picomatch(g, { nocase: true, dot: true });
      // One argument only: picomatch's matcher takes a second one (returnObject) that Array.some would fill.
      return { glob: g, test: (path: string) => match(path) };
    };
    this.#include = (o.include ?? []).map(glob('--include'));
    this.#exclude = (o.exclude ?? []).map(glob('--exclude'));
    this.#map = (o.map ?? [])
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0 || eq === pair.length - 1) throw new ConfigError('--map', `"${pair}" is not SRC=DST`);
        // The source side keeps "INBOX" as a name (the top level); the target side maps "INBOX" to [] (INBOX).
        const from = splitPath('--map', pair.slice(0, eq));
        return { from: from.length ? from : [TOP], to: splitPath('--map', pair.slice(eq + 1)) };
      })
      .sort((a, b) => b.from.length - a.from.length);
    this.#regex = o.mapFile === undefined ? [] : parseMapFile(o.mapFile, readText(o.mapFile));
    this.#to = o.to === undefined ? undefined : splitPath('--to', o.to);
  }

  /** True when no rule can change anything (the common case costs nothing). */
  get empty(): boolean {
    return !this.#include.length && !this.#exclude.length && !this.#map.length && !this.#regex.length && !this.#to;
  }

  /** The last folder asked about and its answer: every message of a folder asks with the same array (the source
   *  builds one per folder), and the rules never change, so a run of one folder's messages makes no object per
   *  message (issue 14: bytes allocated per message). */
  #last: { parts: readonly string[]; ruled: RuledFolder } | undefined;

  apply(parts: readonly string[]): RuledFolder {
    const last = this.#last;
    if (last !== undefined && last.parts === parts) return last.ruled;
    const ruled = this.#apply(parts);
    this.#last = { parts, ruled };
    return ruled;
  }

  #apply(parts: readonly string[]): RuledFolder {
    if (this.empty) return { excluded: false, parts, explicit: false };
    const paths = ancestry(parts);
    for (const x of this.#exclude) if (paths.some((p) => x.test(p))) return { excluded: true, rule: `--exclude ${x.glob}` };
    if (this.#include.length && !this.#include.some((x) => paths.some((p) => x.test(p)))) {
      return { excluded: true, rule: `not matched by --include ${this.#include.map((x) => x.glob).join(', ')}` };
    }
    const path = parts.length ? parts.join('/') : TOP;
    for (const m of this.#map) {
      if (startsWith(parts.length ? parts : [TOP], m.from)) {
        const rest = (parts.length ? parts : [TOP]).slice(m.from.length);
        return { excluded: false, parts: [...m.to, ...rest], explicit: true };
      }
    }
    for (const r of this.#regex) {
      r.re.lastIndex = 0;
      if (r.re.test(path)) {
        r.re.lastIndex = 0;
        return { excluded: false, parts: splitPath('--map-file', path.replace(r.re, r.target)), explicit: true };
      }
    }
    if (this.#to && parts.length === 0) return { excluded: false, parts: this.#to, explicit: true };
    return { excluded: false, parts, explicit: false };
  }
}

/** The folder's path and its ancestors' ("A/B/C" → "A", "A/B", "A/B/C"); the top level is "INBOX". */
function ancestry(parts: readonly string[]): string[] {
  if (parts.length === 0) return [TOP];
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function startsWith(parts: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > parts.length) return false;
  return prefix.every((p, i) => (i === 0 && /^inbox$/i.test(p) ? /^inbox$/i.test(parts[0]!) : p === parts[i]));
}

/** "A/B" → ["A", "B"]; "INBOX" or "" → [] (the top level, which is INBOX on the server). */
function splitPath(option: string, s: string): string[] {
  const t = s.trim();
  if (t === '' || /^inbox$/i.test(t)) return [];
  const parts = t.split('/').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new ConfigError(option, `"${s}" has an empty level`);
  return parts;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('--map-file', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** `regex => target` per line; blank lines and lines starting with # are ignored. Errors name the line. */
export function parseMapFile(name: string, text: string): Array<{ re: RegExp; target: string }> {
  const out: Array<{ re: RegExp; target: string }> = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    const arrow = t.lastIndexOf('=>');
    if (arrow <= 0) throw new ConfigError('--map-file', `${name} line ${i + 1}: expected "regex => target", got ${JSON.stringify(t)}`);
    const src = t.slice(0, arrow).trim();
    const target = t.slice(arrow + 2).trim();
    let re: RegExp;
    try {
      re = new RegExp(src);
    } catch (e) {
      throw new ConfigError('--map-file', `${name} line ${i + 1}: bad regex ${JSON.stringify(src)}: ${(e as Error).message}`);
    }
    out.push({ re, target });
  });
  return out;
}
