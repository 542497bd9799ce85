import { readSync } from 'node:fs';
import { JournalError } from '../core/errors.js';
import { decodeHeader, decodeLine, type JournalRecord, type StoredHeader } from './journal-record.js';

// Reads a journal file front to back. Every record is written as `json + "\n"` in one write call, so a line
// without its newline is a write that did not finish (kill -9 mid-write, or a disk that filled): its recordSent
// promise never resolved, so no message behind it reached the socket, and dropping it is safe. A line that HAS its
// newline but does not parse was written whole and then damaged; we cannot know what it said, so we refuse
// (JournalError with its line number) rather than guess and risk a duplicate or a lost message.
//
// Sync reads in 1 MiB chunks: replay runs once, before any I/O worth overlapping, and sync reads avoid a
// threadpool round-trip per chunk. Lines are split on the 0x0A byte, which never occurs inside a UTF-8 multibyte
// sequence, so a chunk boundary can split a line but never a character we decode.

const CHUNK = 1024 * 1024;
/** One read buffer for every replay: a replay runs synchronously to its end, so two never share it at once. Since
 *  open() no longer loads every folder (issue 14), one run replays the file once per folder it looks up, and a fresh
 *  4 MiB buffer each time stayed allocated until a full GC (measured: +20 MB of ArrayBuffers in a clean re-run). */
let shared: Buffer | undefined;

export interface ReplayResult {
  /** Undefined for an empty file (or one whose only content was a torn header). */
  header: StoredHeader | undefined;
  /** Byte offset just past the last complete line; the file should be truncated here. */
  validEnd: number;
  /** Bytes after validEnd (a torn last line); 0 when the file ends with a newline. */
  tornBytes: number;
  /** Complete lines read, header included. */
  lines: number;
}

export interface ReplayOptions {
  /** Only this mailbox's records are wanted: format 3 group lines of other mailboxes are skipped unparsed (their
   *  first bytes name the mailbox, journal-record.ts), and single records are parsed and passed on as usual (the
   *  caller filters them). A reload of one folder (journal.ts) then decodes a quarter of a four-folder journal. */
  mailbox?: string;
}

export function replayJournal(
  fd: number,
  path: string,
  onHeader: (h: StoredHeader) => void,
  onRecord: (r: JournalRecord) => void,
  options: ReplayOptions = {},
): ReplayResult {
  const skip = options.mailbox === undefined ? undefined : otherGroupFilter(options.mailbox);
  const buf = (shared ??= Buffer.allocUnsafe(CHUNK));
  let carry: Buffer | undefined; // bytes of a line that started in an earlier chunk
  let position = 0; // file offset of buf[0]
  let validEnd = 0;
  let lines = 0;
  let header: StoredHeader | undefined;

  const handle = (text: string): void => {
    lines++;
    if (lines === 1) {
      const h = decodeHeader(text);
      if (typeof h === 'string') throw new JournalError(path, h);
      header = h;
      onHeader(h);
      return;
    }
    const rs = decodeLine(text);
    if (rs === undefined) {
      throw new JournalError(path, `line ${lines} is corrupt (${JSON.stringify(text.slice(0, 60))}); refusing to guess — inspect or move the file`);
    }
    for (const r of rs) onRecord(r);
  };

  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, CHUNK, position);
    } catch (err) {
      throw new JournalError(path, `cannot read: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) break;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl === -1 || nl >= n) break;
      if (skip && !carry && lines > 0 && skip(buf, start, nl)) {
        lines++;
      } else if (carry) {
        handle(Buffer.concat([carry, buf.subarray(start, nl)]).toString('utf8'));
        carry = undefined;
      } else {
        handle(buf.toString('utf8', start, nl));
      }
      start = nl + 1;
      validEnd = position + start;
    }
    if (start < n) {
      const rest = Buffer.from(buf.subarray(start, n)); // copy: buf is reused by the next read
      carry = carry ? Buffer.concat([carry, rest]) : rest;
    }
    position += n;
  }
  return { header, validEnd, tornBytes: position - validEnd, lines };
}

/** For a reload of `mailbox`: is the line buf[start, end) a group line of another mailbox? */
function otherGroupFilter(mailbox: string): (buf: Buffer, start: number, end: number) => boolean {
  // Group lines begin {"S":<mailbox as JSON>, or {"C":<mailbox as JSON>, — JSON.stringify writes the mailbox the same
  // way each time, so comparing bytes is comparing names.
  const name = Buffer.from(JSON.stringify(mailbox) + ',', 'utf8');
  const S = Buffer.from('{"S":');
  const C = Buffer.from('{"C":');
  return (buf, start, end) => {
    if (end - start < 5) return false;
    if (buf.compare(S, 0, 5, start, start + 5) !== 0 && buf.compare(C, 0, 5, start, start + 5) !== 0) return false;
    const from = start + 5;
    return end - from < name.length || buf.compare(name, 0, name.length, from, from + name.length) !== 0;
  };
}
