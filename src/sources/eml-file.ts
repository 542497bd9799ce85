// One .eml file (one RFC 5322 message, as saved by mail clients or exported by tools) → a message item.
// INTERNALDATE comes from the Date: header, then the newest Received: header (the top one, RFC 5321 §4.4), then
// the file's mtime — there is no delivery record.
import type { Stats } from 'node:fs';
import type { InternalDateSource } from '../core/types.js';
import { SourceError } from '../core/errors.js';
import { FileMessage } from './file-message.js';
import { headerBlockEnd, headerValue, parseHeaderFields, parseReceivedDate, parseRfc5322Date, startsWithHeaderField } from './headers.js';
import { openError, readRegularHead } from './safe-read.js';
import { SourceCodes, type SourceItem, type MessageFileReader } from './source.js';

/** How much of a file is read while scanning to find its dates; a header block longer than this is rare. */
const HEAD_BYTES = 64 * 1024;

export interface EmlFile {
  readonly path: string;
  /** What to open (the resolved target of an allowed symlink, else `path`). */
  readonly real: string;
  readonly stats: Stats;
  readonly folder: readonly string[];
  readonly id: string;
  readonly maxMessageBytes: number;
  readonly pool?: MessageFileReader | undefined;
}

export function emlItem(f: EmlFile): SourceItem {
  const reject = (reason: string, code: string): SourceItem => ({ kind: 'rejected', error: new SourceError(f.path, reason, code) });
  if (f.stats.size > f.maxMessageBytes) return reject(`message of ${f.stats.size} bytes exceeds maxMessageBytes (${f.maxMessageBytes})`, SourceCodes.TOO_LARGE);
  let head: Buffer;
  try {
    head = readRegularHead(f.real, HEAD_BYTES);
  } catch (err) {
    return { kind: 'rejected', error: err instanceof SourceError ? new SourceError(f.path, err.message.slice(err.path.length + 2), err.code, { cause: err }) : openError(f.path, err) };
  }
  if (!startsWithHeaderField(head)) {
    return reject('not a message: it does not start with a header field ("Name: value")', SourceCodes.NOT_MESSAGE);
  }
  const end = headerBlockEnd(head);
  const fields = parseHeaderFields(end < 0 ? head : head.subarray(0, end));
  let date = parseRfc5322Date(headerValue(fields, 'date'));
  let from: InternalDateSource = 'date-header';
  if (!date) {
    date = parseReceivedDate(headerValue(fields, 'received'));
    from = 'received-header';
  }
  if (!date) {
    date = new Date(Math.floor(f.stats.mtimeMs / 1000) * 1000);
    from = 'mtime';
  }
  // .eml files carry no flags (a saved message has no IMAP state), so nothing is ever marked deleted.
  return { kind: 'message', message: new FileMessage(f.id, f.folder, [], date, from, f.stats.size, f.path, f.pool, false, f.maxMessageBytes, f.real) };
}
