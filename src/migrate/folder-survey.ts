import { ServerResponseError } from '../core/errors.js';
import { READER_IDLE_MS } from '../core/settings.js';
import { encodeMutf7 } from '../core/mutf7.js';
import { encodeMailboxAsAtom } from '../imap/compiler.js';
import { type ListedMailbox, type NamespaceEntry, parseListResponse, parseNamespaceResponse } from '../imap/mailbox-list.js';
import { parseValues } from '../imap/response-values.js';
import { type FolderInfo, listedFolderInfo } from '../mailbox/folder-info.js';
import type { ResponseItem } from '../imap/response-reader.js';
import type { Capabilities } from '../imap/capabilities.js';
import type { TaggedResult } from '../transport/command-outcome.js';
import type { EnqueueOptions } from '../transport/command-queue-types.js';
import { KeptConnection } from '../transport/kept-connection.js';
import type { FolderStatus } from './folder-check.js';

// Preparing many folders at once, pipelined over our own transport (issue 16, "adapt to the path").
//
// Why not the control plane: imapflow keeps one command in flight (its trySend()), so every CREATE, SUBSCRIBE,
// STATUS and SELECT costs a full round trip, and its SELECT is preceded by a LIST of the folder. A tree of 50 folders
// cost ~6 round trips a folder before its first APPEND and one STATUS a folder at the end: 16.8 s for 5000 messages
// through a 40 ms round trip against 1.9 s at 0 ms (docs/adaptation.md, "A tree of folders over a path"). Here the
// CREATEs of a whole tree go out together (parents first: the server executes them in order, RFC 3501 §5.5), then
// their SUBSCRIBEs, and the STATUS of every folder with the SELECTs for PERMANENTFLAGS right behind them, in one
// round trip (a SELECT's answers name no mailbox: they are told apart by order, see permanentFlagsOf). The
// connection closes after READER_IDLE_MS idle (src/core/settings.ts), and the next burst dials again.
//
// Everything here is an optimisation with the control plane behind it: a failure (the connection refused at the
// server's connection limit, lost, a command the server will not take) hands the folder back to the one-at-a-time
// path, which decides it as before. What comes back from here is only what the server answered in so many words.

/** What the survey needs of a connection: src/transport/connection.ts's Connection. */
export interface SurveyConnection {
  readonly capabilities: Capabilities;
  readonly closed: boolean;
  command(verb: string, args?: ReadonlyArray<string | { atom: string }>, opts?: EnqueueOptions): Promise<TaggedResult>;
  close(): Promise<void>;
}

export interface Permanent {
  readonly flags: string[];
  readonly anyKeyword: boolean;
}

export type CreateOutcome = 'created' | 'exists' | { readonly failed: unknown };

export interface CreateItem {
  readonly path: string;
  readonly specialUse?: string | undefined;
  readonly subscribe: boolean;
}

/**
 * The server's folders as the survey read them right after its login: what the importer needs before its first
 * APPEND (the delimiter, the personal namespace, every folder with its special use), without waiting for the control
 * plane's login (listing()).
 */
export interface ServerListing {
  readonly prefix: string;
  readonly delimiter: string;
  readonly folders: readonly FolderInfo[];
  /** The capabilities after login: the run's batch default (MULTIAPPEND) is decided from them. */
  readonly capabilities: Capabilities;
  /**
   * INBOX's first look (STATUS, and PERMANENTFLAGS by SELECT), asked in the same burst when the caller said the run
   * sends to INBOX (listing's `inbox`): one round trip less before an import's first APPEND. undefined where a part was
   * not answered (the caller asks again).
   */
  readonly inbox?: { readonly status: FolderStatus | undefined; readonly flags: Permanent | undefined };
}

/**
 * Folders a listing may name (listing()): a server that lists more is not read further, and the control plane
 * answers instead. Far above any real account (the largest trees the sources were tested with have hundreds), and
 * ~30 MB of FolderInfo at most: a hostile or broken server cannot grow our memory without bound by listing.
 */
export const SURVEY_MAX_LISTED = 100_000;

/** Commands in flight on the survey's connection: a burst of short commands, each answered in one line or two. */
export const SURVEY_DEPTH = 64;

export class FolderSurvey {
  readonly #kept: KeptConnection<SurveyConnection>;
  /** The mailbox the last SELECT left selected, and on which connection: Dovecot answers STATUS of that one from a
   *  stale view (RFC 3501 §6.3.10: STATUS SHOULD NOT be asked of the selected mailbox). */
  #selected: { readonly conn: SurveyConnection; readonly key: string } | undefined;

  /** `open` dials a connection with at least SURVEY_DEPTH commands allowed in flight. */
  constructor(open: () => Promise<SurveyConnection>) {
    this.#kept = new KeptConnection(open, READER_IDLE_MS);
  }

  /** Is a connection open (or being dialled) now? The next burst then costs no connect and login. */
  get connected(): boolean {
    return this.#kept.connected;
  }

  /** Starts dialling now, so that the greeting and login overlap the control plane's own (import-run.ts). */
  warm(): void {
    this.#kept.warm();
  }

  /**
   * NAMESPACE and LIST "" "*" in one round trip, read the way the control plane reads them (listedFolderInfo,
   * src/mailbox/folder-info.ts). Asked once, at the start of an import. The control plane (imapflow) needs seven
   * round trips to be logged in and listed, one command at a time (connect, ID, AUTHENTICATE PLAIN without SASL-IR:
   * two, ID again, NAMESPACE, LIST), and the first APPEND waited for all of them; this connection needs three
   * (connect, AUTHENTICATE with SASL-IR, NAMESPACE and LIST together; docs/adaptation.md, "The folder list over a
   * path").
   * Undefined where the answer could differ from the control plane's: no NAMESPACE capability (imapflow then derives
   * the namespace from LIST "" ""), XLIST without SPECIAL-USE (imapflow lists with XLIST there), no personal
   * namespace, a name that is not valid modified UTF-7, or any refusal or malformed answer — the caller then asks
   * the control plane, as before. Rejects when the connection could not be opened. The second promise settles as
   * soon as the connection has logged in, before the answers (or rejects with the listing: why it could not): what a
   * caller waits for before it dials anything more, so that a wrong password is refused once, not once a connection.
   */
  listing(options: { readonly inbox?: () => boolean } = {}): { listing: Promise<ServerListing | undefined>; loggedIn: Promise<void> } {
    let connected!: () => void;
    const atLogin = new Promise<void>((resolve) => (connected = resolve));
    const listing = this.#kept.use(async (conn) => {
      connected();
      // Asked once logged in: the caller's folder walk has usually told by then whether the run sends to INBOX.
      const listed = readListing(conn);
      // Only beside a listing that will be read: otherwise the control plane answers, and prefetch asks INBOX again.
      const inbox = listable(conn.capabilities) && options.inbox?.() === true ? this.#inboxLook(conn) : undefined;
      const [l, i] = await Promise.all([listed, inbox]);
      return l && i ? { ...l, inbox: i } : l;
    });
    // Whichever comes first: the login, or the listing's failure to get a connection at all.
    const loggedIn = Promise.race([atLogin, listing.then(() => undefined)]);
    loggedIn.catch(() => undefined);
    return { listing, loggedIn };
  }

  /** INBOX's STATUS and SELECT, sent now behind the listing's NAMESPACE and LIST (its caller's turn): each part is
   *  undefined where it was not answered. */
  async #inboxLook(conn: SurveyConnection): Promise<{ status: FolderStatus | undefined; flags: Permanent | undefined }> {
    let flags: Permanent | undefined;
    const st = this.#sendStatus(conn, ['INBOX']);
    const sel = this.#sendSelects(conn, ['INBOX'], [(r) => (flags = r)]);
    const [status] = await Promise.allSettled([st, sel]);
    return { status: status.status === 'fulfilled' ? status.value.get('INBOX') : undefined, flags };
  }

  /**
   * CREATEs every item (in the order given: parents before children), pipelined, then SUBSCRIBEs the ones created or
   * already there that want it (best effort, as on the control plane: a server refusing SUBSCRIBE still created the
   * folder). 'exists' only for an explicit [ALREADYEXISTS] (RFC 5530); any other NO or BAD,
   * and a connection lost before the answer, come back as failed, for the caller's one-at-a-time path.
   */
  create(items: readonly CreateItem[]): Promise<Map<string, CreateOutcome>> {
    if (items.length === 0) return Promise.resolve(new Map());
    return this.#kept.use((conn) => this.#create(conn, items));
  }

  async #create(conn: SurveyConnection, items: readonly CreateItem[]): Promise<Map<string, CreateOutcome>> {
    const out = new Map<string, CreateOutcome>();
    const useCreate = conn.capabilities.raw.has('CREATE-SPECIAL-USE');
    const answers = await Promise.allSettled(
      items.map((it) => {
        const args: Array<{ atom: string }> = [{ atom: encodeMailboxAsAtom(it.path) }];
        // RFC 6154 §3: CREATE name (USE (\Sent)), where the server offers it.
        if (useCreate && it.specialUse) args.push({ atom: `(USE (${it.specialUse}))` });
        return conn.command('CREATE', args);
      }),
    );
    answers.forEach((a, i) => {
      const path = items[i]!.path;
      if (a.status === 'fulfilled') out.set(path, 'created');
      // Only the code (RFC 5530) says it is this folder that exists: Courier answers a name it misreads with "NO INBOX
      // already exists!". A plain NO goes the one-at-a-time way, which LISTs before it believes anything.
      else if (a.reason instanceof ServerResponseError && a.reason.responseCode?.toUpperCase() === 'ALREADYEXISTS') out.set(path, 'exists');
      else out.set(path, { failed: a.reason });
    });
    // Not waited for: nothing the run does next depends on a subscription, and the next burst (STATUS) is executed
    // after them on this connection anyway (RFC 3501 §5.5) — one round trip less before the first APPEND.
    for (const it of items) {
      if (it.subscribe && typeof out.get(it.path) === 'string') conn.command('SUBSCRIBE', [{ atom: encodeMailboxAsAtom(it.path) }]).catch(() => undefined);
    }
    return out;
  }

  /**
   * STATUS (MESSAGES UIDNEXT UIDVALIDITY) of every path in one burst. A path maps to its status, to undefined when
   * the server answered NO (no such folder), and is missing when nothing certain came back (a BAD, a lost
   * connection, an answer that named no such mailbox). Never asked on a connection with a mailbox selected.
   */
  status(paths: readonly string[]): Promise<Map<string, FolderStatus | undefined>> {
    return this.look(paths, []).statuses;
  }

  /**
   * The STATUS burst of `statusPaths` and, right behind it on the wire, the SELECT burst of `selectPaths` (see
   * permanentFlagsOf): one round trip for both, where one after the other took two before the first APPEND. The
   * server executes the STATUS commands before the first SELECT (RFC 3501 §5.5), so none is asked of a selected
   * mailbox. `statuses` settles when the STATUS answers are in; each flags promise when its own SELECT is.
   */
  look(statusPaths: readonly string[], selectPaths: readonly string[]): { statuses: Promise<Map<string, FolderStatus | undefined>>; flags: Map<string, Promise<Permanent | undefined>> } {
    const flags = new Map<string, Promise<Permanent | undefined>>();
    const settle: Array<(r: Permanent | undefined) => void> = [];
    for (const p of selectPaths) flags.set(p, new Promise((res) => settle.push(res)));
    let answer!: (m: Map<string, FolderStatus | undefined>) => void;
    let fail!: (e: unknown) => void;
    const statuses = new Promise<Map<string, FolderStatus | undefined>>((res, rej) => {
      answer = res;
      fail = rej;
    });
    statuses.catch(() => undefined); // a caller asking only for flags never looks at it
    if (statusPaths.length === 0 && selectPaths.length === 0) {
      answer(new Map());
      return { statuses, flags };
    }
    void this.#kept.use(async (c, fresh) => {
      let conn = c;
      // Leave the selected mailbox before asking its STATUS: UNSELECT (RFC 3691) where offered, else another
      // connection. Never CLOSE: it expunges. Another mailbox's STATUS is asked as any other.
      const selected = this.#selected;
      if (selected && selected.conn === conn && statusPaths.some((p) => wireKey(p) === selected.key)) {
        if (conn.capabilities.raw.has('UNSELECT')) await conn.command('UNSELECT', [], { exclusive: true });
        else conn = await fresh();
        this.#selected = undefined;
      }
      const st = this.#sendStatus(conn, statusPaths);
      st.then(answer, fail);
      const sel = this.#sendSelects(conn, selectPaths, settle);
      await Promise.allSettled([st, sel]);
    }).catch((e) => {
      fail(e);
      for (const s of settle) s(undefined);
    });
    return { statuses, flags };
  }

  /** Sends the STATUS commands now (in the caller's turn) and gathers their answers. */
  async #sendStatus(conn: SurveyConnection, paths: readonly string[]): Promise<Map<string, FolderStatus | undefined>> {
    const out = new Map<string, FolderStatus | undefined>();
    if (paths.length === 0) return out;
    // The answers are kept by the mailbox name they carry, in wire form (each goes to the oldest STATUS in flight:
    // command-queue.ts routeUntagged).
    const seen = new Map<string, FolderStatus>();
    const onUntagged = (u: Extract<ResponseItem, { kind: 'untagged' }>): void => {
      const parsed = parseStatus(u);
      if (parsed) seen.set(parsed.wire, parsed.status);
    };
    const answers = await Promise.allSettled(
      paths.map((p) => conn.command('STATUS', [{ atom: encodeMailboxAsAtom(p) }, { atom: '(MESSAGES UIDNEXT UIDVALIDITY)' }], { untagged: ['STATUS'], onUntagged })),
    );
    answers.forEach((a, i) => {
      const path = paths[i]!;
      if (a.status === 'fulfilled') {
        const st = seen.get(wireKey(path));
        if (st) out.set(path, st);
      } else if (a.reason instanceof ServerResponseError && a.reason.status === 'NO' && a.reason.retry !== 'later') out.set(path, undefined);
    });
    return out;
  }

  /**
   * PERMANENTFLAGS of every path, SELECTed in one burst. A SELECT's answers name no mailbox, so they are told apart by
   * order: the server executes a SELECT to completion before the next (RFC 3501 §5.5: each changes the selected
   * state, so commands after it wait), and command-queue.ts hands a streamed untagged answer to the oldest command in
   * flight that asked for it — the SELECT the server is answering. Each path's promise settles
   * when its own SELECT does: undefined when it failed (the caller asks again, one at a time).
   */
  permanentFlagsOf(paths: readonly string[]): Map<string, Promise<Permanent | undefined>> {
    return this.look([], paths).flags;
  }

  /** Sends the SELECT commands now (in the caller's turn); each settles its path's promise. */
  async #sendSelects(conn: SurveyConnection, paths: readonly string[], settle: ReadonlyArray<(r: Permanent | undefined) => void>): Promise<void> {
    if (paths.length === 0) return;
    this.#selected = { conn, key: wireKey(paths[paths.length - 1]!) };
    const seen = paths.map(() => ({ flags: undefined as string[] | undefined, permanent: undefined as string[] | undefined }));
    await Promise.allSettled(
      paths.map((p, k) =>
        conn
          .command('SELECT', [{ atom: encodeMailboxAsAtom(p) }], {
            untagged: ['FLAGS', 'OK'],
            // The oldest SELECT in flight is the one the server is answering: its answers are its own.
            onUntagged: (u) => {
              if (u.type === 'FLAGS') seen[k]!.flags = flagList(u.text);
              else if (u.code?.name === 'PERMANENTFLAGS') seen[k]!.permanent = flagList(u.code.args);
            },
          })
          .then(
            () => settle[k]!(permanentOf(seen[k]!.permanent, seen[k]!.flags)),
            () => settle[k]!(undefined),
          ),
      ),
    );
  }

  async close(): Promise<void> {
    await this.#kept.close();
  }
}

/** Can the survey's listing equal the control plane's here? Not without NAMESPACE (imapflow then derives the namespace
 *  from LIST "" ""), nor with XLIST and no SPECIAL-USE (imapflow lists with XLIST there). */
function listable(capabilities: Capabilities): boolean {
  const caps = capabilities.raw;
  return caps.has('NAMESPACE') && !(caps.has('XLIST') && !caps.has('SPECIAL-USE'));
}

async function readListing(conn: SurveyConnection): Promise<ServerListing | undefined> {
  if (!listable(conn.capabilities)) return undefined;
  let personal: NamespaceEntry[] | undefined;
  const listed: ListedMailbox[] = [];
  let malformed = false;
  const [ns, list] = await Promise.allSettled([
    conn.command('NAMESPACE', [], {
      untagged: ['NAMESPACE'],
      onUntagged: (u) => {
        try {
          personal = parseNamespaceResponse(u);
        } catch {
          malformed = true;
        }
      },
    }),
    conn.command('LIST', ['', '*'], {
      untagged: ['LIST'],
      onUntagged: (u) => {
        if (malformed) return;
        try {
          if (listed.length < SURVEY_MAX_LISTED) listed.push(parseListResponse(u));
          else malformed = true; // too many to read: the control plane's listing, as before
        } catch {
          malformed = true;
        }
      },
    }),
  ]);
  if (ns.status === 'rejected' || list.status === 'rejected' || malformed || !personal?.[0]) return undefined;
  // imapflow's namespace (dist/esm/commands/namespace.js): the first personal namespace, the delimiter appended to a
  // prefix that lacks it, so that prefix + name is a path.
  const first = personal[0];
  const prefix = first.delimiter && first.prefix && !first.prefix.endsWith(first.delimiter) ? first.prefix + first.delimiter : first.prefix;
  const folders: FolderInfo[] = [];
  // imapflow lists with the namespace prefix as the reference (its normalizePath puts the prefix in front of the
  // empty reference): LIST "INBOX." "*" on Courier and Debian's Cyrus, which leaves INBOX itself out (ControlAdapter
  // adds it back: RFC 3501 §5.1) and lists nothing outside the personal namespace. This LIST went out before the
  // prefix was known, so it asked LIST "" "*": what the reference would have kept is the names that begin with it
  // (RFC 3501 §6.3.8: the reference is put in front of the pattern). The prefix is compared as listed, in wire form,
  // as imapflow takes it.
  for (const l of prefix ? listed.filter((x) => x.wire.startsWith(prefix)) : listed) {
    const info = listedFolderInfo(l, prefix);
    if (!info) return undefined;
    folders.push(info);
  }
  // FolderCatalog.delimiter(): the namespace's, else the first listed folder's, else "/".
  const delimiter = first.delimiter || folders.find((f) => f.delimiter)?.delimiter || '/';
  return { prefix, delimiter, folders, capabilities: conn.capabilities };
}

/** The form a mailbox name has on the wire, INBOX in one case (RFC 3501 §5.1: INBOX is case-insensitive). */
function wireKey(path: string): string {
  return /^inbox$/i.test(path) ? 'INBOX' : encodeMutf7(path);
}

/** `* STATUS <mailbox> (MESSAGES n UIDNEXT n UIDVALIDITY n)`: the mailbox as an atom, a quoted string or a literal. */
export function parseStatus(u: Extract<ResponseItem, { kind: 'untagged' }>): { wire: string; status: FolderStatus } | undefined {
  if (u.type !== 'STATUS') return undefined;
  let values;
  try {
    values = parseValues(u.text, u.literals);
  } catch {
    return undefined;
  }
  const [name, items] = values;
  if (typeof name !== 'string' || !Array.isArray(items)) return undefined;
  const num = (k: string): number | undefined => {
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i];
      const value = items[i + 1];
      if (typeof key === 'string' && key.toUpperCase() === k && typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
    }
    return undefined;
  };
  const messages = num('MESSAGES');
  const uidNext = num('UIDNEXT');
  const uidValidity = num('UIDVALIDITY');
  if (messages === undefined || uidNext === undefined || uidValidity === undefined) return undefined;
  return { wire: /^inbox$/i.test(name) ? 'INBOX' : name, status: { messages, uidNext, uidValidity } };
}

/** Without PERMANENTFLAGS every flag in FLAGS is permanent (RFC 3501 §7.1); whether new keywords are we cannot know. */
function permanentOf(permanent: string[] | undefined, flags: string[] | undefined): Permanent {
  const source = permanent ?? flags ?? [];
  return { flags: source.filter((f) => f !== '\\*'), anyKeyword: source.includes('\\*') };
}

/** "(\Answered \Seen $Label1 \*)" → the flags. */
function flagList(text: string): string[] {
  const m = /\(([^)]*)\)/.exec(text);
  return m && m[1]!.trim() ? m[1]!.trim().split(/\s+/) : [];
}
