// Mail source readers (issues 3 and 12): what people have on disk → a stream of messages ready to APPEND, with
// every other path accounted for. docs/sources.md has the rules for admins.
//
//   const source = await openSource(path, { maxMessageBytes?, format?, mboxVariant?, followSymlinks? });
//   // discovery walks the whole tree; two stores that would both fill INBOX → AmbiguousSourceError (E_SOURCE_AMBIGUOUS)
//   for await (const item of source.items()) {
//     if (item.kind === 'rejected') report(item.error);        // a failure: SourceError with .path, .code, reason
//     else if (item.kind === 'skipped') note(item);            // { path, reason: 'not-mail' | 'symlink-outside' | 'excluded', detail }
//     else { const m = item.message;                            // SourceMessage (src/core/types.ts); m.deleted: deleted in the source
//            const n = await m.read(); }                        // NormalizedMessage; rejects with SourceError
//   }
//   for await (const f of source.folders()) …                   // every folder, empty ones too, with `subscribed`
//   source.stats  // { yielded, rejected, skipped, skippedBy } — nothing found on disk disappears uncounted
//   source.notes  // remarks about the whole source after a walk (repaired names, dates taken from file names)
//   for await (const r of readAhead(source.items(), { depth: 16 })) …  // same, with read() done ahead, in order
//
// Formats: 'maildir' (also nested Folder/Sub/{cur,new} trees), 'maildir++' (".Folder.Sub", modified UTF-7, Dovecot
// and Courier keywords), 'mbox' (one file: mboxo, mboxrd, mboxcl, mboxcl2, .gz), 'mbox-dir' (mutt, Thunderbird
// .sbd, Apple Mail .mbox bundles), 'eml' (*.eml tree), 'mixed' (several side by side; found, never forced).
// Folders are lists of Unicode names; [] is INBOX. Flags use IMAP spelling (\Seen, $Forwarded, keywords as-is);
// \Deleted is never a flag here (SourceMessage.deleted). Ids are stable across re-runs and flag changes and unique:
//   maildir:<folder>/<unique name without ,S= ,W=>   eml:<relative path>@<hash of the real root>.<mtime ms>
//   mbox:<file>@<offset>:<sha1 prefix of the message without its bookkeeping headers (Status, X-Keywords, ...)>
// Every file is opened O_NOFOLLOW|O_NONBLOCK and fstat'd (safe-read.ts); symlinks out of the root are not followed.
// Error codes: SourceCodes (E_SOURCE_EMPTY, _NOT_MESSAGE, _UNREADABLE, _NOT_REGULAR, _TOO_LARGE, _LINE_TOO_LONG,
// _MBOX_TRUNCATED, _MBOX_FROM_LINE, _FOLDER_NAME, _FOLDER_COLLISION, _LOOP, _NOT_FOUND, _UNKNOWN_FORMAT, _AMBIGUOUS).
export { openSource, detectFormat } from './detect.js';
export { refuseOverlappingSources } from './source-overlap.js';
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
  type WalkShare,
} from './source.js';
export { MaildirSource, type MaildirSourceOptions } from './maildir.js';
export { parseMaildirName, maildirFlags, sizeInName, type MaildirName } from './maildir-name.js';
export { parseDovecotKeywords, parseCourierKeywordList } from './maildir-keywords.js';
export { MboxSource } from './mbox-tree.js';
export { EmlTreeSource } from './eml-tree.js';
export { normalizeMessage, lfToCrlf } from './normalize.js';
export { type Admitted, readAhead, type ReadAheadOptions, type ReadItem, STOP_READING } from './read-ahead.js';
export { ReadPool, readPoolAvailable } from './read-pool.js';
export { parseFromLine } from './mbox-scan.js';
export { decodeMaildirPlusName, repairMaildirPlusName, parseSubscriptions } from './folder-name.js';
export { mboxDeleted, mboxFlags } from './mbox.js';
