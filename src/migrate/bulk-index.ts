import { ProtocolError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';
import { parseMessageIdHeader } from '../core/message-id.js';
import { READER_IDLE_MS } from '../core/settings.js';
import { formatSequenceSet } from '../imap/sequence-set.js';
import { MESSAGE_READER_LIMITS, type ResponseItem } from '../imap/response-reader.js';
import { Connection, type ConnectionOptions } from '../transport/connection.js';
import { KeptConnection } from '../transport/kept-connection.js';

// The bulk read of a folder for reconciliation (issue 11), over our own transport rather than imapflow: one SELECT
// (EXAMINE: read-only, RFC 3501 §6.3.2) and one `UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS
// (MESSAGE-ID)])`, parsed by the project's response reader. Why not imapflow, which the control plane uses for
// everything else: it compiles every response back into text for its logger even with logging off and builds an
// object per message — measured 200 µs of client CPU per message (a 10,000-message folder: 3.6 s, 2.1 s CPU), so a
// 100,000-message folder took over 30 s. A connection of its own also guarantees a fresh view of the folder: a session
// that SELECTed before this run's APPENDs (the control connection) does not see them on Dovecot until it synchronises.

export interface IndexEntry {
  uid: number;
  size: number;
  messageId?: string;
  flags: string[];
}

export type FolderIndexer = (path: string, onEntry: (e: IndexEntry) => void) => Promise<{ exists: number; uidValidity: number }>;

/** What a FETCH response carries that reconciliation needs; undefined when it lacks a UID or a size. */
export function parseFetch(item: Extract<ResponseItem, { kind: 'untagged' }>): IndexEntry | undefined {
  const t = item.text;
  const uid = /(?:^|[ (])UID (\d+)/i.exec(t);
  const size = /(?:^|[ (])RFC822\.SIZE (\d+)/i.exec(t);
  if (!uid || !size) return undefined;
  const flags = /(?:^|[ (])FLAGS \(([^)]*)\)/i.exec(t);
  const entry: IndexEntry = {
    uid: Number(uid[1]),
    size: Number(size[1]),
    flags: flags && flags[1]!.trim() ? flags[1]!.trim().split(/\s+/) : [],
  };
  // The header fields come as a literal (the usual case) or, when short, as a quoted string; NIL when absent.
  let header: string | undefined;
  if (item.literals.length > 0) header = item.literals[item.literals.length - 1]!.toString('latin1');
  else {
    const q = /BODY\[HEADER\.FIELDS \([^)]*\)\] "((?:[^"\\]|\\.)*)"/i.exec(t);
    if (q) header = q[1]!.replace(/\\(.)/g, '$1');
  }
  const id = header !== undefined ? parseMessageIdHeader(header) : undefined;
  if (id !== undefined) entry.messageId = id;
  return entry;
}

/** A FolderIndexer with a connection of its own to close at the end of the run, which also reads stored bodies. */
export type ClosableIndexer = FolderIndexer & {
  /** The stored bytes (BODY.PEEK[]: \Seen untouched) of `uids`, each handed over as it arrives. */
  fetchBodies(path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void): Promise<void>;
  close(): Promise<void>;
};

/**
 * An indexer over one connection of its own with the APPEND transport's options, kept from one folder to the next
 * (and closed after READER_IDLE_MS with nothing to read, src/core/settings.ts):
 * EXAMINE (a fresh view: selecting a mailbox opens it anew) and the bulk FETCH, one folder at a time. A connection per
 * folder cost a connect, a greeting and a login each time — ~4.5 round trips a folder where 2 will do: a dry run of 50
 * folders through a 40 ms round trip took 11.4 s (docs/adaptation.md, "A tree of folders over a path"). The same
 * folder asked twice (a read retried after a failure) gets a new connection, so its view is certainly fresh.
 */
export function transportIndexer(options: ConnectionOptions): ClosableIndexer {
  // Depth 2: an EXAMINE and the FETCH behind it (readFolder).
  const kept = new KeptConnection(() => Connection.open({ ...options, pipelineDepth: 2, readerLimits: MESSAGE_READER_LIMITS }), READER_IDLE_MS);
  /** The folder examined on the kept connection, and that connection: what a body read may reuse. */
  let examined: { conn: Connection; path: string } | undefined;
  const indexer = (path: string, onEntry: (e: IndexEntry) => void): Promise<{ exists: number; uidValidity: number }> =>
    kept.use(async (c, fresh) => {
      // The same folder again (a read retried after a failure) on another connection: its view is certainly fresh.
      const conn = examined?.conn === c && examined.path === path ? await fresh() : c;
      examined = undefined;
      const r = await readFolder(conn, path, onEntry);
      examined = { conn, path };
      return r;
    });
  // Bodies of a folder just read (verify reads the index, then the bodies of its candidates): on the connection that
  // has it examined already, one round trip a batch — through the control plane the same read was a LIST and a
  // SELECT more per folder (docs/adaptation.md, "A tree of folders over a path").
  const fetchBodies = (path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void): Promise<void> => {
    if (uids.length === 0) return Promise.resolve();
    return kept.use(async (conn) => {
      // Verify reads the bodies right after the index, on the connection that examined the folder for it: this
      // EXAMINE is only for a connection dialled anew since (idle, or after a failure), so it is not pipelined.
      if (examined?.conn !== conn || examined.path !== path) {
        examined = undefined;
        await conn.command('EXAMINE', [encodeMutf7(path)], { exclusive: true, untagged: [] });
        examined = { conn, path };
      }
      const set = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
      await conn.command('UID FETCH', [{ atom: set }, { atom: '(UID BODY.PEEK[])' }], {
        untagged: ['FETCH'],
        onUntagged: (u) => {
          const uid = /(?:^|[ (])UID (\d+)/i.exec(u.text);
          const body = u.literals[u.literals.length - 1];
          if (uid && body) onBody(Number(uid[1]), body);
        },
      });
    });
  };
  return Object.assign(indexer, { fetchBodies, close: () => kept.close() });
}

/**
 * EXAMINE (read-only, RFC 3501 §6.3.2) and one bulk UID FETCH of the folder on `conn`, pipelined: the FETCH goes
 * right behind the EXAMINE, so a folder costs one round trip, not two (over the 40 ms relay a reconcile of 50
 * folders spent 2 round trips a folder, `verify` 3; docs/adaptation.md "The first commands over a path, and
 * reading folders over a path").
 * Why this is safe although the FETCH depends on the EXAMINE (RFC 3501 §5.5: the server executes such commands to
 * completion in order): a failed EXAMINE leaves no mailbox selected (§6.3.1, §6.3.2: "if a mailbox is selected and
 * a SELECT command that fails is attempted, no mailbox is selected"), so the FETCH behind it fails too; and whatever
 * a server answers to that FETCH, it is only used when the EXAMINE succeeded — never the entries of another folder.
 * A folder the EXAMINE finds empty ignores the FETCH's outcome (some servers answer `UID FETCH 1:*` on an empty
 * mailbox with an error).
 */
async function readFolder(conn: Connection, path: string, onEntry: (e: IndexEntry) => void): Promise<{ exists: number; uidValidity: number }> {
  const examine = conn.command('EXAMINE', [encodeMutf7(path)], { untagged: ['EXISTS', 'OK'] });
  // Entries are parsed as they arrive and handed over only once the EXAMINE and the whole FETCH succeeded, so a
  // caller never sees a half-read folder, nor one read under a failed EXAMINE.
  const entries: IndexEntry[] = [];
  let malformed: ProtocolError | undefined;
  const fetch = conn.command('UID FETCH', [{ atom: '1:*' }, { atom: '(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])' }], {
    untagged: ['FETCH'],
    onUntagged: (u) => {
      const e = parseFetch(u);
      if (e) entries.push(e);
      else malformed ??= new ProtocolError(`UID FETCH ${path}: a FETCH response without UID or RFC822.SIZE`, u.text);
    },
  });
  // Looked at below once the EXAMINE has told whether it matters; never an unhandled rejection.
  const fetched = fetch.then(
    () => undefined,
    (err: unknown) => err,
  );
  let selected;
  try {
    selected = await examine;
  } catch (err) {
    await fetched; // the connection is quiet again before the next operation
    throw err;
  }
  let exists = 0;
  let uidValidity = 0;
  for (const u of selected.untagged) {
    if (u.kind !== 'untagged') continue;
    if (u.type === 'EXISTS' && u.number !== undefined) exists = u.number;
    if (u.type === 'OK' && u.code?.name === 'UIDVALIDITY') uidValidity = Number(u.code.args);
  }
  const failed = await fetched;
  if (exists === 0) return { exists: 0, uidValidity };
  if (failed !== undefined) throw failed;
  if (malformed) throw malformed;
  for (const e of entries) onEntry(e);
  return { exists: entries.length, uidValidity };
}
