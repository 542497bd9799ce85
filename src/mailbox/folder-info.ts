import { decodeMutf7 } from '../core/mutf7.js';

// A folder as LIST names it, in the form the control plane keeps (folder-catalog.ts), and the one reading of a LIST
// line into that form for a connection of our own (the folder survey, src/migrate/folder-survey.ts). Apart from the
// catalog because it needs no imapflow: the survey runs before imapflow is loaded (test/cli/start-up.test.ts).

export interface FolderInfo {
  /** Full server path in Unicode (see control-plane.ts) */
  path: string;
  /** The path split at the delimiter, Unicode */
  name: string[];
  delimiter: string;
  /** RFC 6154 attribute, e.g. "\\Sent", when the server reports one */
  specialUse?: string;
  /** Mailbox attributes as listed, e.g. "\\HasChildren", "\\Noselect" */
  flags: string[];
  /** The path as it appeared on the wire (modified UTF-7 unless UTF8=ACCEPT is on) */
  wire: string;
}

/** RFC 6154 §2 mailbox attributes, lower-cased. */
const SPECIAL_USE_ATTRS = new Set(['\\all', '\\archive', '\\drafts', '\\flagged', '\\junk', '\\sent', '\\trash']);

/**
 * The FolderInfo of a listed folder. Only what the server said (RFC 6154 attributes in the LIST flags), never
 * imapflow's guess from localized folder names; with listOnly imapflow leaves specialUse unset, so the attributes are
 * read here.
 */
export function folderInfo(path: string, delimiter: string, flags: string[], wire: string): FolderInfo {
  const info: FolderInfo = { path, name: delimiter ? path.split(delimiter) : [path], delimiter, flags, wire };
  const use = flags.find((f) => SPECIAL_USE_ATTRS.has(f.toLowerCase()));
  if (use) info.specialUse = use;
  return info;
}

/**
 * A folder listed on a connection of our own (src/migrate/folder-survey.ts, which asks LIST before the control plane
 * has logged in), made the FolderInfo FolderCatalog.listFolders() makes of imapflow's entry for the same LIST line,
 * by imapflow's rules (2.1, dist/esm/tools.js decodePath and normalizePath, commands/list.js): a name with "&" is
 * decoded from modified UTF-7 (nothing here enables UTF8=ACCEPT: control-plane.ts); INBOX in any case is "INBOX";
 * the namespace prefix goes in front of a name that lacks it; a leading delimiter goes; \NonExistent implies
 * \Noselect (RFC 5258 §3) and \Subscribed is not an attribute of the folder. Undefined when the name is not valid
 * modified UTF-7: imapflow then keeps the name as listed after iconv's attempt, which is not ours to guess, and the
 * caller takes the control plane's listing instead. test/integration/folder-survey.test.ts holds both listings equal
 * on every real server.
 */
export function listedFolderInfo(listed: { readonly attributes: readonly string[]; readonly delimiter: string; readonly wire: string }, prefix: string): FolderInfo | undefined {
  let path = listed.wire;
  if (path.includes('&')) {
    try {
      path = decodeMutf7(path);
    } catch {
      return undefined;
    }
  }
  if (path.toUpperCase() === 'INBOX') path = 'INBOX';
  else if (prefix && !path.startsWith(prefix)) path = prefix + path;
  const delimiter = listed.delimiter;
  if (delimiter && path.charAt(0) === delimiter) path = path.slice(1);
  const flags = listed.attributes.filter((a) => a.toLowerCase() !== '\\subscribed');
  if (flags.some((a) => a.toLowerCase() === '\\nonexistent') && !flags.some((a) => a.toLowerCase() === '\\noselect')) flags.push('\\Noselect');
  return folderInfo(path, delimiter, flags, listed.wire);
}

