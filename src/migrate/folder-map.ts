// Maps a source folder (a list of Unicode names; [] = the source's INBOX) to a server mailbox path.
// Pure: the importer gives it what LIST said (delimiter, special-use folders) and the user's --folder prefix.

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive';

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

// Names people and clients give these folders; matched case-insensitively on the last name only.
const SPECIAL_NAMES: ReadonlyArray<[SpecialUse, RegExp]> = [
  ['\\Sent', /^(sent|sent items|sent messages|sent mail|gesendet|gesendete objekte|envoy[ée]s|enviados)$/i],
  ['\\Drafts', /^(drafts?|entw[üu]rfe|brouillons|borradores)$/i],
  ['\\Trash', /^(trash|deleted|deleted items|deleted messages|bin|papierkorb|corbeille|papelera)$/i],
  ['\\Junk', /^(junk|junk e-?mail|spam|bulk mail|unerw[üu]nscht)$/i],
  ['\\Archive', /^(archive|archives|archiv)$/i],
];

export function detectSpecialUse(parts: readonly string[]): SpecialUse | undefined {
  if (parts.length !== 1) return undefined;
  const name = parts[0]!.trim();
  for (const [use, re] of SPECIAL_NAMES) if (re.test(name)) return use;
  return undefined;
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
  const special = prefix.length === 0 && !explicit ? detectSpecialUse(parts) : undefined;
  if (special && server.specialUse.has(special)) {
    // The server already has this folder under its own name (e.g. "Sent Items"): file the mail there.
    return { path: server.specialUse.get(special)!, specialUse: undefined, repairs };
  }
  const all = [...prefix.map(clean), ...parts.map(clean)];
  if (all.length === 0) return { path: 'INBOX', specialUse: undefined, repairs };
  // A flat server (no delimiter) can hold only one level: join the names with '.' so nothing collides.
  const joined = all.join(server.delimiter || '.');
  // Folders live below the personal namespace (RFC 2342): "Sent" is "INBOX.Sent" on a server whose prefix is "INBOX.".
  const ns = server.namespacePrefix ?? '';
  const path = ns && !joined.toUpperCase().startsWith(ns.toUpperCase()) ? ns + joined : joined;
  return { path, specialUse: special, repairs };
}
