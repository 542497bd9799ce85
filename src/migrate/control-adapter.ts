import { DEFAULT_BOUNDS } from '../core/settings.js';
import { AuthError, MailmigrateError, ServerResponseError, toMailmigrateError } from '../core/errors.js';
import { type FolderIndexer, retryLostRead } from './bulk-index.js';
import type { FolderStatus } from './folder-check.js';
import type { CreateItem, FolderSurvey, Permanent, ServerListing } from './folder-survey.js';
import type { ServerControl } from './server-lookup.js';

// Adapts the imapflow control plane (src/mailbox/control-plane.ts) to the ServerControl contract the importer
// and the verifier use. The two differ in one place: ControlPlane.ensureFolder takes the path as a list of names
// and returns the server path, while ServerControl.ensureFolder takes the delimiter-joined path (what mapFolder
// produced) and says whether it created the folder. Structural typing keeps src/migrate free of an import of
// src/mailbox's class (a test can pass a fake).

export interface ControlPlaneLike {
  readonly capabilities: ReadonlySet<string>;
  delimiter(): Promise<string>;
  listFolders(): Promise<Array<{ path: string; specialUse?: string | undefined }>>;
  ensureFolder(parts: string[], specialUse?: string, subscribe?: boolean): Promise<string>;
  namespacePrefix(): string;
  permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }>;
  status(path: string): Promise<FolderStatus>;
  storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void>;
  findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>>;
  listMessages(path: string): Promise<Array<{ uid: number; size: number; messageId?: string | undefined }>>;
  fetchBody(path: string, uid: number): Promise<Buffer>;
}

/** INBOX is case-insensitive (RFC 3501 §5.1), every other name is case-sensitive. */
const key = (path: string): string => (/^inbox$/i.test(path) ? 'INBOX' : path);

/**
 * How old a STATUS taken ahead (prefetch) may be when the folder is first opened; older, it is asked again.
 * What the folder's first look decides (trust the journal, or reconcile) holds for the folder as it was then; another
 * client changing it afterwards is possible with any look, and is as likely during the minutes a large folder takes
 * to send as before it. Taking every look at the start lengthens that window for the folders walked last: this
 * bounds the lengthening.
 */
export const STATUS_AHEAD_MAX_AGE_MS = 60_000;

/** Folders at most for which dialling the survey again is not worth it (currentStatuses). */
const SURVEY_DIAL_WORTH = 3;

export class ControlAdapter implements ServerControl {
  #known: Set<string> | undefined;
  /** The control plane once connected (or the one that replaced it after a fault). */
  #plane: ControlPlaneLike | undefined;
  /** The first control plane, connecting: import-run.ts does not wait for it before the import starts. */
  readonly #connecting: Promise<ControlPlaneLike>;
  /** The survey's listing, used by the first listFolders (and the delimiter and namespace) when it came back. */
  readonly #listing: Promise<ServerListing | undefined> | undefined;
  #listingUsed = false;
  #replaced = false;
  #reconnecting: Promise<ControlPlaneLike> | undefined;
  /** STATUS taken ahead in one burst (prefetch), each used once by folderStatus. */
  readonly #ahead = new Map<string, Promise<{ at: number; status: FolderStatus } | undefined>>();
  /** PERMANENTFLAGS SELECTed ahead in one burst (prefetch): a folder's do not change during a run. */
  readonly #flagsAhead = new Map<string, Promise<Permanent | undefined>>();

  /**
   * `reconnect` (optional) opens a fresh control connection. With it, a call that fails for any reason but a
   * server NO/BAD (connection lost, server restarted) is tried once more on a new connection, reconnecting for up to
   * 30 s: the importer asks "is this message already there?" and creates folders right after exactly the faults
   * that also kill the control connection.
   */
  constructor(
    plane: ControlPlaneLike | Promise<ControlPlaneLike>,
    private readonly reconnect?: () => Promise<ControlPlaneLike>,
    /** Reads a folder in bulk on a connection of its own (bulk-index.ts). Only reconciliation and verify need it. */
    private readonly indexer?: FolderIndexer,
    /** Prepares many folders at once, pipelined (folder-survey.ts); without it, one command at a time. */
    private readonly survey?: FolderSurvey,
    /**
     * The survey's listing, asked at the start (FolderSurvey.listing): the first listFolders, the delimiter and the
     * namespace are answered from it when it came back, so an import's first APPEND waits for no round trip of the
     * control plane's (whose connection may still be logging in: `plane` may be a promise). Undefined or failed: the
     * control plane answers, as before.
     */
    listing?: Promise<ServerListing | undefined>,
  ) {
    if (plane instanceof Promise) {
      this.#connecting = plane;
      plane.then((p) => (this.#plane ??= p), () => undefined);
    } else {
      this.#plane = plane;
      this.#connecting = Promise.resolve(plane);
    }
    this.#listing = listing?.catch(() => undefined);
  }

  /**
   * The control plane, waiting for its connection if it is still being made. A first connection that failed for a
   * reason that may pass (a reset, the server's connection limit at the start) is made again with `reconnect`, as a
   * lost one is (#retry); a refused login is the error.
   */
  async #current(): Promise<ControlPlaneLike> {
    if (this.#plane) return this.#plane;
    try {
      return await this.#connecting;
    } catch (e) {
      if (!this.reconnect || toMailmigrateError(e).retry === 'never') throw e;
      return this.#replace(undefined, this.reconnect);
    }
  }

  /**
   * A fresh control plane in place of `used` (undefined: the first one, which never connected), reconnecting patiently;
   * calls that lost the same one share the reconnect. One that another call has replaced already is kept.
   */
  async #replace(used: ControlPlaneLike | undefined, reconnect: () => Promise<ControlPlaneLike>): Promise<ControlPlaneLike> {
    if (this.#plane === used) {
      this.#reconnecting ??= reconnectPatiently(reconnect).finally(() => (this.#reconnecting = undefined));
      const fresh = await this.#reconnecting;
      if (this.#plane === used) {
        if (used && this.#replaced) void (used as { close?: () => Promise<void> }).close?.().catch(() => undefined);
        this.#plane = fresh;
        this.#replaced = true;
      }
    }
    return this.#plane!;
  }

  /**
   * The survey's listing if it answered, else undefined (the control plane answers). Decided once: whichever is there
   * first, the listing or a connected control plane — a server that never answers the survey's LIST (the reply
   * deadline is a minute) must not hold the run when the control plane can answer.
   */
  #listed(): Promise<ServerListing | undefined> {
    if (!this.#listing) return Promise.resolve(undefined);
    this.#listedOnce ??= Promise.race([
      this.#listing,
      // A control plane that failed to connect is no answer: the listing is waited for then.
      this.#connecting.then(
        () => undefined,
        () => new Promise<never>(() => undefined),
      ),
    ]);
    return this.#listedOnce;
  }
  #listedOnce: Promise<ServerListing | undefined> | undefined;

  /** Closes a control connection this adapter opened itself (the caller closes the one it passed in, and the survey). */
  async close(): Promise<void> {
    if (this.#replaced) await (this.#plane as { close?: () => Promise<void> }).close?.().catch(() => undefined);
  }

  async #retry<T>(fn: (p: ControlPlaneLike) => Promise<T>): Promise<T> {
    const used = await this.#current();
    try {
      return await fn(used);
    } catch (e) {
      if (!this.reconnect || e instanceof ServerResponseError) throw e;
      return fn(await this.#replace(used, this.reconnect));
    }
  }

  async delimiter(): Promise<string> {
    return (await this.#listed())?.delimiter ?? (await this.#current()).delimiter();
  }

  async namespacePrefix(): Promise<string> {
    return (await this.#listed())?.prefix ?? (await this.#current()).namespacePrefix();
  }

  async listFolders(): Promise<Array<{ path: string; specialUse?: string | undefined }>> {
    // The survey's listing answers once, the first time: a later listing (after a fault, a CREATE refused) is the
    // control plane's, of the server as it is then.
    const listed = this.#listingUsed ? undefined : await this.#listed();
    this.#listingUsed = true;
    // INBOX's first look, taken in the listing's burst (FolderSurvey.listing's `inbox`): kept as prefetch keeps its
    // looks, so that prefetch does not ask it again and folderStatus / permanentFlags answer from it.
    const inbox = listed?.inbox;
    if (inbox?.status && !this.#ahead.has('INBOX')) this.#ahead.set('INBOX', Promise.resolve({ at: Date.now(), status: inbox.status }));
    if (inbox?.flags && !this.#flagsAhead.has('INBOX')) this.#flagsAhead.set('INBOX', Promise.resolve(inbox.flags));
    const list = listed ? [...listed.folders] : await this.#retry((p) => p.listFolders());
    // INBOX always exists (RFC 3501 §5.1), even where LIST leaves it out (Cyrus and Courier with folders under
    // "INBOX."): taking it for absent would send every INBOX message again.
    this.#known = new Set(['INBOX', ...list.map((f) => key(f.path))]);
    return list;
  }

  /** Folder paths the server listed (after listFolders) plus those created since. */
  async knownFolders(): Promise<ReadonlySet<string>> {
    if (!this.#known) await this.listFolders();
    return this.#known!;
  }

  async ensureFolder(path: string, specialUse?: string, subscribe = true): Promise<boolean> {
    const known = await this.knownFolders();
    if (known.has(key(path))) return false;
    const delimiter = await this.delimiter();
    // mapFolder already replaced delimiters inside names and put the namespace prefix in front; the control plane
    // wants the names below the namespace, so strip the prefix and split.
    const ns = await this.namespacePrefix();
    const below = ns && path.toUpperCase().startsWith(ns.toUpperCase()) ? path.slice(ns.length) : path;
    const parts = delimiter ? below.split(delimiter) : [below];
    const created = await this.#retry((p) => p.ensureFolder(parts, specialUse, subscribe));
    (known as Set<string>).add(key(path));
    (known as Set<string>).add(key(created));
    return true;
  }

  /**
   * Creates the folders of `items` that are not on the server, and their missing parents, in one pipelined burst
   * (folder-survey.ts). Returns what the server settled: 'created' by this call, or 'exists' (listed, or
   * [ALREADYEXISTS]). A path missing from the answer (no survey, a refusal, a lost connection) is left to
   * ensureFolder, which decides it one command at a time as before — a refused name is repaired there.
   */
  async ensureFolders(items: readonly CreateItem[]): Promise<Map<string, 'created' | 'exists'>> {
    const out = new Map<string, 'created' | 'exists'>();
    const known = (await this.knownFolders()) as Set<string>;
    const want: CreateItem[] = [];
    const queued = new Set<string>();
    const delimiter = await this.delimiter();
    const ns = await this.namespacePrefix();
    for (const it of items) {
      if (known.has(key(it.path))) {
        out.set(it.path, 'exists');
        continue;
      }
      if (!this.survey) continue;
      const below = ns && it.path.toUpperCase().startsWith(ns.toUpperCase()) ? it.path.slice(ns.length) : it.path;
      const head = it.path.slice(0, it.path.length - below.length);
      const parts = delimiter ? below.split(delimiter) : [below];
      // An empty level is refused by the control plane with a clear error: left to ensureFolder.
      if (parts.some((p) => p === '')) continue;
      for (let i = 1; i <= parts.length; i++) {
        const path = head + parts.slice(0, i).join(delimiter);
        if (known.has(key(path)) || queued.has(key(path))) continue;
        queued.add(key(path));
        want.push({ path, specialUse: i === parts.length ? it.specialUse : undefined, subscribe: it.subscribe });
      }
    }
    if (!this.survey || want.length === 0) return out;
    let made;
    try {
      made = await this.survey.create(want);
    } catch {
      return out; // the survey could not connect: everything goes the one-at-a-time way
    }
    for (const [path, r] of made) if (r === 'created' || r === 'exists') known.add(key(path));
    for (const it of items) {
      const r = made.get(it.path);
      if (r === 'created' || r === 'exists') out.set(it.path, r);
    }
    return out;
  }

  /**
   * Asks the STATUS of every listed folder among `paths` in one burst, kept for folderStatus (one use each, for at
   * most STATUS_AHEAD_MAX_AGE_MS), and right behind it (unless `what.permanentFlags` is false: verify changes nothing)
   * SELECTs them in one burst for their PERMANENTFLAGS, which permanentFlags answers from as each arrives. Returns once
   * asked: each answer is waited for by whoever needs it. Without a survey, or where it fails, each is asked when
   * needed, one at a time.
   */
  async prefetch(paths: readonly string[], what: { readonly permanentFlags?: boolean } = {}): Promise<void> {
    if (!this.survey) return;
    const known = await this.knownFolders();
    const ask = [...new Set(paths)].filter((p) => known.has(key(p)) && !this.#ahead.has(key(p)));
    if (ask.length === 0) return;
    const select = what.permanentFlags === false ? [] : ask.filter((p) => !this.#flagsAhead.has(key(p)));
    // Registered now, answered later: the first folder's check waits for its own answer, not the caller for all.
    const { statuses, flags } = this.survey.look(ask, select);
    const answered = statuses.then(
      (m) => ({ m, at: Date.now() }),
      () => undefined,
    );
    for (const p of ask) {
      this.#ahead.set(
        key(p),
        answered.then((a) => {
          const status = a?.m.get(p);
          return a && status ? { at: a.at, status } : undefined;
        }),
      );
    }
    for (const [p, f] of flags) this.#flagsAhead.set(key(p), f);
  }

  /** STATUS of each folder now, in one burst where a survey is given (the quiet window's second look, a checkpoint).
   *  A path missing from the answer was not settled there: ask folderStatus. */
  /**
   * The checkpoint's burst is coming: the survey, closed after a second idle (READER_IDLE_MS), is dialled again now,
   * while the pool's last APPENDs are answered — the connect, greeting and login came after them, ~2.5 round trips
   * at the end of every run of a tree (a wire log of 50 folders through a 40 ms round trip: ~70 ms saved). Not when
   * the pool is so large that the pool, this control connection, the survey and a bulk reader still open could pass
   * the per-user limit the bounds leave room for (DEFAULT_BOUNDS: 8 for the pool, 2 besides: Dovecot's 10): the
   * survey is then dialled after the pool's LOGOUTs, as before.
   */
  expectStatuses(count: number, poolConnections: number): void {
    if (!this.survey || count <= SURVEY_DIAL_WORTH) return;
    if (poolConnections + 3 > DEFAULT_BOUNDS.maxConnections + 2) return;
    this.survey.warm();
  }

  async currentStatuses(paths: readonly string[]): Promise<Map<string, FolderStatus | undefined>> {
    // Never answered from what prefetch took: that is a folder's first look, used once when it is opened.
    if (!this.survey || paths.length === 0) return new Map();
    // A burst on a connection that has to be dialled first costs a connect, a greeting and a login (~2.5 round trips)
    // and one round trip more; one at a time on the control connection costs one a folder. A few folders go that way.
    if (!this.survey.connected && paths.length <= SURVEY_DIAL_WORTH) return new Map();
    const known = await this.knownFolders();
    const answers = await this.survey.status(paths.filter((p) => known.has(key(p)))).catch(() => undefined);
    const out = new Map<string, FolderStatus | undefined>();
    // Only what the server answered with a status: a NO here is left to folderStatus, which reports it as before.
    for (const [path, status] of answers ?? []) if (status) out.set(path, status);
    return out;
  }

  async permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
    const ahead = await this.#flagsAhead.get(key(path));
    if (ahead) return ahead;
    if (this.survey) {
      const viaSurvey = await this.survey.permanentFlagsOf([path]).get(path);
      if (viaSurvey) return viaSurvey;
    }
    return this.#retry((p) => p.permanentFlags(path));
  }

  /** Undefined when the folder is not on the server (it was not listed and this run did not create it). */
  async folderStatus(path: string): Promise<FolderStatus | undefined> {
    const known = await this.knownFolders();
    if (!known.has(key(path))) return undefined;
    const pending = this.#ahead.get(key(path));
    if (pending) {
      this.#ahead.delete(key(path));
      const ahead = await pending;
      if (ahead && Date.now() - ahead.at <= STATUS_AHEAD_MAX_AGE_MS) return ahead.status;
    }
    return this.#retry((p) => p.status(path));
  }

  indexFolder(
    path: string,
    onEntry: (e: { uid: number; size: number; messageId?: string | undefined; flags: string[] }) => void,
  ): Promise<{ exists: number; uidValidity: number }> {
    const indexer = this.indexer;
    if (!indexer) return Promise.reject(new MailmigrateError('E_INTERNAL', 'ControlAdapter: no bulk folder reader was given', 'never'));
    // A read lost with its connection is read again (retryLostRead; entries are handed over only after the whole FETCH
    // succeeded, so a retry starts from an empty index).
    return retryLostRead(() => indexer(path, onEntry));
  }

  storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void> {
    // STORE of absolute changes (+FLAGS / -FLAGS) is idempotent: a retry after a lost connection is safe.
    return this.#retry((p) => p.storeFlags(path, uids, add, remove));
  }
  findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>> {
    return this.#retry((p) => p.findByMessageId(path, messageId));
  }
  listMessages(path: string): Promise<Array<{ uid: number; size: number; messageId?: string | undefined }>> {
    return this.#retry((p) => p.listMessages(path));
  }
  fetchBody(path: string, uid: number): Promise<Buffer> {
    return this.#retry((p) => p.fetchBody(path, uid));
  }
}

/** Reconnects with backoff (200 ms doubling to 2 s) for up to `windowMs`: a restarting server refuses for a while. */
async function reconnectPatiently(reconnect: () => Promise<ControlPlaneLike>, windowMs = 30_000): Promise<ControlPlaneLike> {
  const giveUpAt = Date.now() + windowMs;
  for (let delay = 200; ; delay = Math.min(2000, delay * 2)) {
    try {
      return await reconnect();
    } catch (e) {
      if (e instanceof AuthError || Date.now() + delay >= giveUpAt) throw e;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
