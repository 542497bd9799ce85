import { AuthError, MailmigrateError, ServerResponseError } from '../core/errors.js';
import type { FolderIndexer } from './bulk-index.js';
import type { FolderStatus } from './folder-check.js';
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

export class ControlAdapter implements ServerControl {
  #known: Set<string> | undefined;
  #plane: ControlPlaneLike;
  #replaced = false;
  #reconnecting: Promise<ControlPlaneLike> | undefined;

  /**
   * `reconnect` (optional) opens a fresh control connection. With it, a call that fails for any reason but a
   * server NO/BAD (connection lost, server restarted) is tried once more on a new connection, reconnecting for up to
   * 30 s: the importer asks "is this message already there?" and creates folders right after exactly the faults
   * that also kill the control connection.
   */
  constructor(
    plane: ControlPlaneLike,
    private readonly reconnect?: () => Promise<ControlPlaneLike>,
    /** Reads a folder in bulk on a connection of its own (bulk-index.ts). Only reconciliation and verify need it. */
    private readonly indexer?: FolderIndexer,
  ) {
    this.#plane = plane;
  }

  get plane(): ControlPlaneLike {
    return this.#plane;
  }

  /** Closes a control connection this adapter opened itself (the caller closes the one it passed in). */
  async close(): Promise<void> {
    if (this.#replaced) await (this.#plane as { close?: () => Promise<void> }).close?.().catch(() => undefined);
  }

  async #retry<T>(fn: (p: ControlPlaneLike) => Promise<T>): Promise<T> {
    const used = this.#plane;
    try {
      return await fn(used);
    } catch (e) {
      if (!this.reconnect || e instanceof ServerResponseError) throw e;
      if (this.#plane === used) {
        this.#reconnecting ??= reconnectPatiently(this.reconnect).finally(() => (this.#reconnecting = undefined));
        const fresh = await this.#reconnecting;
        if (this.#plane === used) {
          if (this.#replaced) void (used as { close?: () => Promise<void> }).close?.().catch(() => undefined);
          this.#plane = fresh;
          this.#replaced = true;
        }
      }
      return fn(this.#plane);
    }
  }

  get capabilities(): ReadonlySet<string> {
    return this.plane.capabilities;
  }

  delimiter(): Promise<string> {
    return this.plane.delimiter();
  }

  async namespacePrefix(): Promise<string> {
    return this.plane.namespacePrefix();
  }

  async listFolders(): Promise<Array<{ path: string; specialUse?: string | undefined }>> {
    const list = await this.#retry((p) => p.listFolders());
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
    const delimiter = await this.plane.delimiter();
    // mapFolder already replaced delimiters inside names and put the namespace prefix in front; the control plane
    // wants the names below the namespace, so strip the prefix and split.
    const ns = this.plane.namespacePrefix();
    const below = ns && path.toUpperCase().startsWith(ns.toUpperCase()) ? path.slice(ns.length) : path;
    const parts = delimiter ? below.split(delimiter) : [below];
    const created = await this.#retry((p) => p.ensureFolder(parts, specialUse, subscribe));
    (known as Set<string>).add(key(path));
    (known as Set<string>).add(key(created));
    return true;
  }

  permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
    return this.#retry((p) => p.permanentFlags(path));
  }

  /** Undefined when the folder is not on the server (it was not listed and this run did not create it). */
  async folderStatus(path: string): Promise<FolderStatus | undefined> {
    const known = await this.knownFolders();
    if (!known.has(key(path))) return undefined;
    return this.#retry((p) => p.status(path));
  }

  indexFolder(
    path: string,
    onEntry: (e: { uid: number; size: number; messageId?: string | undefined; flags: string[] }) => void,
  ): Promise<{ exists: number; uidValidity: number }> {
    const indexer = this.indexer;
    if (!indexer) return Promise.reject(new MailmigrateError('E_INTERNAL', 'ControlAdapter: no bulk folder reader was given', 'never'));
    // A fresh connection per read: one retry covers a connection lost mid-FETCH (entries are handed over only after
    // the whole FETCH succeeded, so a retry starts from an empty index).
    return indexer(path, onEntry).catch((e) => {
      if (e instanceof ServerResponseError || e instanceof AuthError) throw e;
      return indexer(path, onEntry);
    });
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
