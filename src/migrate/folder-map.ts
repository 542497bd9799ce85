// Maps a source folder (a list of Unicode names; [] = the source's INBOX) to a server mailbox path.
// Pure: the importer gives it what LIST said (delimiter, special-use folders) and the user's --folder prefix.
import { type SpecialUse, specialUseOfName } from './special-folder-names.js';

export type { SpecialUse } from './special-folder-names.js';

export interface ServerFolders {
  /** Hierarchy delimiter from LIST (RFC 3501 §6.3.8); '' for a flat server. */
  readonly delimiter: string;
  /** Existing folders by special use (RFC 6154), e.g. '\\Sent' → 'Sent Items'. */
  readonly specialUse: ReadonlyMap<string, string>;
  /** Personal namespace prefix (RFC 2342), e.g. "INBOX." on Courier/Cyrus-style servers; "" when none. */
  readonly namespacePrefix?: string;
}

export interface MappedFolder {
  /** Server path, delimiter-joined, Unicode (the compiler encodes modified UTF-7). */
  readonly path: string;
  /** Special use to create it with, when it is clearly one and the server has none yet. */
  readonly specialUse: SpecialUse | undefined;
  /** Repairs made to names (delimiter inside a name, surrounding white space), for the report. */
  readonly repairs: readonly string[];
}

/**
 * The special use of a top-level source folder, by its name (special-folder-names.ts): "Sent Items", mutt's
 * "sent-mail", "Posta inviata" → \Sent. Only a top-level folder: "Work/Sent" is the user's own folder.
 */
export function detectSpecialUse(parts: readonly string[]): SpecialUse | undefined {
  if (parts.length !== 1) return undefined;
  return specialUseOfName(parts[0]!);
}

/**
 * `explicit`: the admin chose this target (--map, --map-file, --to): file it exactly there, without guessing a
 * special-use folder from its name.
 */
export function mapFolder(parts: readonly string[], server: ServerFolders, prefix: readonly string[] = [], explicit = false): MappedFolder {
  const repairs: string[] = [];
  const clean = (name: string): string => {
    let n = name;
    if (n !== n.trim()) {
      // Trailing/leading spaces are legal IMAP but invisible in every client and refused by some servers.
      repairs.push(`"${name}": surrounding white space removed`);
      n = n.trim();
    }
    if (server.delimiter && n.includes(server.delimiter)) {
      // A name containing the delimiter would silently become a hierarchy; keep it one level.
      const replacement = server.delimiter === '_' ? '-' : '_';
      repairs.push(`"${name}": hierarchy delimiter "${server.delimiter}" replaced by "${replacement}"`);
      n = n.split(server.delimiter).join(replacement);
    }
    if (n === '') {
      repairs.push(`"${name}": empty name replaced by "_"`);
      n = '_';
    }
    return n;
  };
  // A flat server (no delimiter) can hold only one level: join the names with '.' so nothing collides.
  const sep = server.delimiter || '.';
  // The special use of the source's top-level folder decides where it and everything below it goes: the admin
  // expects "Archives/2019" under the server's archive folder, not beside it.
  const top = prefix.length === 0 && !explicit && parts.length > 0 ? specialUseOfName(parts[0]!) : undefined;
  const home = top ? server.specialUse.get(top) : undefined;
  if (home !== undefined) {
    // The server already has this folder under its own name (e.g. "Sent Items"): file the mail there, and the
    // subfolders below it. `home` is the server's full path (namespace included), so it is not cleaned again.
    const rest = parts.slice(1).map(clean);
    return { path: rest.length ? home + sep + rest.join(sep) : home, specialUse: undefined, repairs };
  }
  const special = parts.length === 1 ? top : undefined;
  const all = [...prefix.map(clean), ...parts.map(clean)];
  if (all.length === 0) return { path: 'INBOX', specialUse: undefined, repairs };
  const joined = all.join(sep);
  // Folders live below the personal namespace (RFC 2342): "Sent" is "INBOX.Sent" on a server whose prefix is "INBOX.".
  const ns = server.namespacePrefix ?? '';
  const path = ns && !joined.toUpperCase().startsWith(ns.toUpperCase()) ? ns + joined : joined;
  return { path, specialUse: special, repairs };
}
