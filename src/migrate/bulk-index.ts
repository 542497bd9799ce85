import { AuthError, ProtocolError, ServerResponseError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';
import { parseMessageIdHeader } from '../core/message-id.js';
import { READ_AHEAD_FOLDERS, READER_IDLE_MS } from '../core/settings.js';
import { formatSequenceSet } from '../imap/sequence-set.js';
import { MESSAGE_READER_LIMITS, type ResponseItem } from '../imap/response-reader.js';
import type { TaggedResult } from '../transport/command-outcome.js';
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
 * Commands in flight on the bulk reader's connection: the EXAMINE and FETCH pairs of the folder the walk is in and of
 * the folders opened ahead of it (READ_AHEAD_FOLDERS: reconcile's FolderRuns, verify) and a body read's pair, each
 * answered in order. All of them may go at once; a command beyond the depth waits in the queue, not on the wire.
 */
const READER_DEPTH = 2 * (READ_AHEAD_FOLDERS + 2);

/** Attempts at a read lost with its connection, and the pause before the second (doubling): 0.1 + 0.2 + 0.4 s. */
const LOST_READ_ATTEMPTS = 4;
const LOST_READ_PAUSE_MS = 100;

/**
 * `read` again when its connection was lost (anything but the server's NO/BAD or a refused login), a few times with a
 * short pause. The reads are pipelined: one lost connection fails every read in flight on it, and their retries go
 * together on the next, so a second loss takes them all again — the single retry that was enough when each read had
 * a connection to itself failed a re-run whose reader was cut twice (bulk-read-cut-dovecot.test.ts). Safe to repeat:
 * an index is handed over only whole, and bodies (BODY.PEEK) are handed over by UID, again for the same UIDs.
 */
export async function retryLostRead<T>(read: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await read();
    } catch (e) {
      if (e instanceof ServerResponseError || e instanceof AuthError || n >= LOST_READ_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, LOST_READ_PAUSE_MS * 2 ** (n - 1)));
    }
  }
}

/** A tagged NO or BAD leaves the connection as it was (no mailbox selected after a refused EXAMINE); anything else
 *  (a lost socket, an answer the reader could not follow) leaves it in a state nobody knows. */
const keepAfter = (err: unknown): boolean => err instanceof ServerResponseError;

/**
 * An indexer over one connection of its own with the APPEND transport's options, kept from one folder to the next
 * (and closed after READER_IDLE_MS with nothing to read, src/core/settings.ts): EXAMINE (a fresh view: selecting a
 * mailbox opens it anew) and the bulk FETCH, sent together. A connection per folder cost a connect, a greeting and
 * a login each time — ~4.5 round trips a folder: a dry run of 50 folders through a 40 ms round trip took 11.4 s
 * (docs/adaptation.md, "A tree of folders over a path"). Reads are pipelined (KeptConnection.pipeline): folders read
 * ahead of the walk go right behind one another on the wire, one round trip for all of them. The same folder asked
 * again (a read retried after a failure) gets a new connection once the reads in flight are done, so its view is
 * certainly fresh.
 */
export function transportIndexer(options: ConnectionOptions): ClosableIndexer {
  const kept = new KeptConnection(() => Connection.open({ ...options, pipelineDepth: READER_DEPTH, readerLimits: MESSAGE_READER_LIMITS }), READER_IDLE_MS);
  /** The last EXAMINE issued on the kept connection: the mailbox every command issued behind it runs against. */
  let last: Examined | undefined;
  /** Outcomes in flight, so that a connection is replaced only once they are done. */
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };
  const indexer = (path: string, onEntry: (e: IndexEntry) => void): Promise<{ exists: number; uidValidity: number }> =>
    kept.pipeline(async (c, fresh) => {
      let conn = c;
      if (last?.conn === c && last.path === path) {
        await Promise.allSettled([...inFlight]);
        conn = await fresh();
      }
      const read = issueRead(conn, path, onEntry);
      last = read.examined;
      return { outcome: track(read.outcome) };
    }, keepAfter);
  // Bodies of a folder read before (verify reads the index, then the bodies of its candidates), on the same kept
  // connection: behind the last EXAMINE when it named this folder, else behind an EXAMINE of their own, sent with
  // them. They are handed over only under an EXAMINE known to have succeeded — held until then (one batch, bounded by
  // the caller: verify's BODY_BATCH_BYTES) — so a server that kept another mailbox selected after a refused EXAMINE
  // can never pass that mailbox's messages off as these.
  const fetchBodies = (path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void): Promise<void> => {
    if (uids.length === 0) return Promise.resolve();
    return retryLostRead(() => readBodies(path, uids, onBody));
  };
  const readBodies = (path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void): Promise<void> =>
    kept.pipeline(async (conn) => {
      const under = last?.conn === conn && last.path === path && last.state !== 'failed' ? last : examine(conn, path);
      last = under;
      const held: Array<[number, Buffer]> = [];
      const set = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
      const fetch = conn.command('UID FETCH', [{ atom: set }, { atom: '(UID BODY.PEEK[])' }], {
        untagged: ['FETCH'],
        onUntagged: (u) => {
          const uid = /(?:^|[ (])UID (\d+)/i.exec(u.text);
          const body = u.literals[u.literals.length - 1];
          if (!uid || !body) return;
          if (under.state === 'ok') onBody(Number(uid[1]), body);
          else held.push([Number(uid[1]), body]);
        },
      });
      const outcome = (async () => {
        const { failed } = await behind(under, fetch);
        if (failed !== undefined) throw failed;
        for (const [uid, body] of held) onBody(uid, body);
      })();
      return { outcome: track(outcome) };
    }, keepAfter);
  return Object.assign(indexer, { fetchBodies, close: () => kept.close() });
}

/** An EXAMINE issued on `conn`: what commands behind it run against once it has succeeded. */
interface Examined {
  readonly conn: Connection;
  readonly path: string;
  /** Known as soon as its answer is read (set synchronously by then() callbacks, read by later commands' handlers). */
  state: 'pending' | 'ok' | 'failed';
  readonly done: Promise<TaggedResult>;
}

/**
 * The EXAMINE's answer and the outcome of the command sent behind it. A failed EXAMINE is thrown, once the command
 * behind it has settled too (the connection is quiet again before the next operation); else the command's error, if
 * any, is returned for the caller to judge. Never an unhandled rejection.
 */
async function behind(examined: Examined, command: Promise<unknown>): Promise<{ selected: TaggedResult; failed: unknown }> {
  const settled = command.then(
    () => undefined,
    (err: unknown) => err,
  );
  let selected: TaggedResult;
  try {
    selected = await examined.done;
  } catch (err) {
    await settled;
    throw err;
  }
  return { selected, failed: await settled };
}

/** Sends EXAMINE (read-only, RFC 3501 §6.3.2) for `path` now. */
function examine(conn: Connection, path: string, untagged: string[] = []): Examined {
  const done = conn.command('EXAMINE', [encodeMutf7(path)], { untagged });
  const e: Examined = { conn, path, state: 'pending', done };
  done.then(
    () => (e.state = 'ok'),
    () => (e.state = 'failed'),
  );
  return e;
}

/**
 * EXAMINE (read-only, RFC 3501 §6.3.2) and one bulk UID FETCH of the folder on `conn`, both sent now: the FETCH goes
 * right behind the EXAMINE, so a folder costs one round trip, not two (over the 40 ms relay a reconcile of 50
 * folders spent 2 round trips a folder, `verify` 3; docs/adaptation.md "The first commands over a path, and
 * reading folders over a path").
 * Why this is safe although the FETCH depends on the EXAMINE (RFC 3501 §5.5: the server executes such commands to
 * completion in order): a failed EXAMINE leaves no mailbox selected (§6.3.1, §6.3.2: "if a mailbox is selected and
 * a SELECT command that fails is attempted, no mailbox is selected"), so the FETCH behind it fails too; and whatever
 * a server answers to that FETCH, it is only used when the EXAMINE succeeded — never the entries of another folder.
 * A folder the EXAMINE finds empty ignores the FETCH's outcome (some servers answer `UID FETCH 1:*` on an empty
 * mailbox with an error). With other reads in flight before it, an EXISTS the server sends about the folder of an
 * earlier read reaches this EXAMINE first (untagged answers go to the oldest command that asked for their kind); its
 * own EXISTS comes after, and the last one counts.
 */
function issueRead(conn: Connection, path: string, onEntry: (e: IndexEntry) => void): { examined: Examined; outcome: Promise<{ exists: number; uidValidity: number }> } {
  const examined = examine(conn, path, ['EXISTS', 'OK']);
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
  const outcome = (async () => {
    const { selected, failed } = await behind(examined, fetch);
    let exists = 0;
    let uidValidity = 0;
    for (const u of selected.untagged) {
      if (u.kind !== 'untagged') continue;
      if (u.type === 'EXISTS' && u.number !== undefined) exists = u.number;
      if (u.type === 'OK' && u.code?.name === 'UIDVALIDITY') uidValidity = Number(u.code.args);
    }
    // The FETCH's failure only matters where there was something to fetch.
    if (exists === 0) return { exists: 0, uidValidity };
    if (failed !== undefined) throw failed;
    if (malformed) throw malformed;
    for (const e of entries) onEntry(e);
    return { exists: entries.length, uidValidity };
  })();
  return { examined, outcome };
}
