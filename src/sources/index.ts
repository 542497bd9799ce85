// Mail source readers (issue 3): what people have on disk → a stream of messages ready to APPEND.
//
//   const source = await openSource(path, { maxMessageBytes?, format?, mboxVariant? });   // detects the format
//   for await (const item of source.items()) {
//     if (item.kind === 'rejected') report(item.error);        // SourceError: .path, .code, message names the reason
//     else { const m = item.message;                            // SourceMessage (src/core/types.ts)
//            const n = await m.read(); }                        // NormalizedMessage; rejects with SourceError
//   }
//   source.stats  // { yielded, rejected, skipped } — nothing found on disk disappears uncounted
//   for await (const r of readAhead(source.items(), { depth: 16 })) …  // same, with read() done ahead, in order
//
// Formats: 'maildir' (also nested Folder/Sub/{cur,new} trees), 'maildir++' (".Folder.Sub", modified UTF-7),
// 'mbox' (one file: mboxo, mboxrd, mboxcl, mboxcl2, .gz), 'mbox-dir' (a tree of mbox files), 'eml' (*.eml tree).
// Folders are lists of Unicode names; [] is INBOX. Flags use IMAP spelling (\Seen, $Forwarded, keywords as-is).
// Ids are stable across re-runs and flag changes and unique in the source:
//   maildir:<folder>/<unique name without ,S= ,W=>   eml:<relative path>
//   mbox:<file>@<offset>:<sha1 prefix of the message without its bookkeeping headers (Status, X-Keywords, ...)>
// Scanning problems are yielded as 'rejected' items; problems found only when reading reject read().
// Error codes: SourceCodes (E_SOURCE_EMPTY, _NOT_MESSAGE, _UNREADABLE, _TOO_LARGE, _MBOX_TRUNCATED, _MBOX_FROM_LINE,
// _FOLDER_NAME, _FOLDER_COLLISION, _LOOP, _NOT_FOUND, _UNKNOWN_FORMAT).
export { openSource, detectFormat } from './detect.js';
export { discover, AmbiguousSourceError, type FoundStore } from './discover.js';
export { TreeSource, type MaildirStore, type TreePlan } from './tree-source.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  SourceCodes,
  type MboxVariant,
  type Source,
  type SourceFormat,
  type SourceItem,
  type SourceOptions,
  type SourceStats,
  type SourceFolder,
  type SkipReason,
  type SkippedPath,
} from './source.js';
export { MaildirSource, parseMaildirName, maildirFlags, parseDovecotKeywords, parseCourierKeywordList, type MaildirSourceOptions } from './maildir.js';
export { MboxSource } from './mbox-tree.js';
export { EmlTreeSource } from './eml-tree.js';
export { normalizeMessage, lfToCrlf } from './normalize.js';
export { readAhead, type ReadAheadOptions, type ReadItem } from './read-ahead.js';
export { ReadPool, readPoolAvailable } from './read-pool.js';
export { parseFromLine } from './mbox-scan.js';
export { decodeMaildirPlusName, repairMaildirPlusName, parseSubscriptions } from './folder-name.js';
export { mboxDeleted, mboxFlags } from './mbox.js';
