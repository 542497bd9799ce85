// The control plane: everything the importer and the verifier need from the server except APPEND, over imapflow.
//
// Why imapflow here and our own transport for APPEND: LIST/CREATE/STATUS/SEARCH/FETCH are few and latency-bound,
// and imapflow parses their responses well; APPEND is the bulk path where imapflow's one-command-in-flight and
// LITERAL+-only-up-to-4-KiB policy cost throughput (docs/measurements.md), so src/transport does it.
//
// Paths: every `path` here is the server's full mailbox name *in Unicode* — namespace prefix and the server's
// hierarchy delimiter included (e.g. "INBOX.Archiv.Größe" on a Courier-style server, "Archiv/Größe" on Dovecot
// with LAYOUT=fs). That is the form AppendMessage.mailbox takes (src/core/types.ts); the modified-UTF-7 form that
// goes on the wire (RFC 3501 §5.1.3) is in `wire` from listFolders().
//
// Credentials: imapflow runs with `logger: false`, and errors are rebuilt by mapImapFlowError() without the
// command text or the imapflow error object, so neither the password nor the token can leak through them.

import { ImapFlow, type ImapFlowOptions, type ListResponse } from 'imapflow';
import { MailmigrateError, ServerResponseError, TimeoutError } from '../core/errors.js';
import { encodeMutf7 } from '../core/mutf7.js';
import { normalizeMessageId, parseMessageIdHeader } from '../core/message-id.js';
import { formatSequenceSet } from '../imap/sequence-set.js';
import { clientIdFields } from './client-id.js';
import { mapImapFlowError } from './imapflow-errors.js';
import { BULK_MS_PER_1000_MESSAGES, BULK_MS_PER_MIB, CONTROL_READER_LIMITS, DEFAULT_COMMAND_TIMEOUT_MS } from './limits.js';

export { parseMessageIdHeader } from '../core/message-id.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 993 style) */
  secure: boolean;
  /** For secure=false: 'required' fails unless STARTTLS succeeds; 'opportunistic' (default) upgrades if offered */
  starttls?: 'required' | 'opportunistic' | 'off';
  user: string;
  password?: string;
  /** OAuth2 bearer token: imapflow uses AUTHENTICATE XOAUTH2 (or OAUTHBEARER) */
  accessToken?: string;
  /** PEM CA certificate(s) to trust in addition to the system store */
  ca?: Buffer;
  /** Default true; false only for --insecure */
  rejectUnauthorized?: boolean;
  /** Budget for TCP+TLS and, separately, for the greeting; default 30 s */
  connectTimeoutMs?: number;
  /** TLS server name (SNI, and the name the certificate is checked against); default the host unless it is an IP. */
  servername?: string;
  /** Deadline of each command, call to tagged answer (limits.ts); bulk FETCHes get more in proportion. */
  commandTimeoutMs?: number;
}

/**
 * A control-plane command got no answer within its deadline. The connection is closed (a late answer could be
 * taken for the next command's), so every later call fails fast; ControlAdapter reconnects where it may.
 */
export class ControlTimeoutError extends TimeoutError {
  readonly command: string;
  constructor(command: string, timeoutMs: number, where: string) {
    super('tagged', timeoutMs);
    this.command = command;
    this.message = `${command} on ${where}: no answer within ${timeoutMs} ms; control connection closed`;
  }
}

export interface FolderInfo {
  /** Full server path in Unicode (see header comment) */
  path: string;
  /** The path split at the delimiter, Unicode */
  name: string[];
  delimiter: string;
  /** RFC 6154 attribute, e.g. "\\Sent", when the server reports one */
  specialUse?: string;
  /** Mailbox attributes as listed, e.g. "\\HasChildren", "\\Noselect" */
  flags: string[];
  /** The path as it appeared on the wire (modified UTF-7 unless UTF8=ACCEPT is on) */
  wire: string;
}

export interface MessageSummary {
  uid: number;
  size: number;
  messageId?: string;
  flags: string[];
  internalDate: Date;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** RFC 6154 §2 mailbox attributes, lower-cased. */
const SPECIAL_USE_ATTRS = new Set(['\\all', '\\archive', '\\drafts', '\\flagged', '\\junk', '\\sent', '\\trash']);

/** Minimal view of imapflow's internal exec(): needed only for CREATE ... (USE (...)), which it has no API for. */
interface ExecCapable {
  exec(
    command: string,
    attributes: unknown[],
  ): Promise<{ response?: { attributes?: unknown[] }; next: () => void }>;
}

export class ControlPlane {
  readonly capabilities: ReadonlySet<string>;
  readonly #client: ImapFlow;
  readonly #options: ConnectOptions;
  readonly #deadlineMs: number;
  #folders: Map<string, FolderInfo> | undefined;
  #closed = false;

  /** The last socket-level error imapflow emitted (a reader limit hit, a reset): what a failed call reports. */
  readonly #streamError: { error?: unknown };

  private constructor(client: ImapFlow, options: ConnectOptions, streamError: { error?: unknown }) {
    this.#streamError = streamError;
    this.#client = client;
    this.#options = options;
    this.#deadlineMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.capabilities = new Set([...client.capabilities.keys()].map((c) => c.toUpperCase()));
  }

  static async connect(options: ConnectOptions): Promise<ControlPlane> {
    const timeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const starttls = options.starttls ?? 'opportunistic';
    const flowOptions: ImapFlowOptions = {
      host: options.host,
      port: options.port,
      secure: options.secure,
      auth: {
        user: options.user,
        ...(options.accessToken !== undefined ? { accessToken: options.accessToken } : { pass: options.password ?? '' }),
      },
      tls: {
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      // --servername reaches both connections: the APPEND transport and this one must check the same certificate name.
      ...(options.servername ? { servername: options.servername } : {}),
      ...CONTROL_READER_LIMITS,
      logger: false,
      emitLogs: false,
      // The control plane issues a command, waits, and issues the next; auto-IDLE between them would add an
      // IDLE/DONE round trip to every command.
      disableAutoIdle: true,
      // BINARY FETCH decodes Content-Transfer-Encoding; verification must see the stored bytes unchanged.
      disableBinary: true,
      disableCompression: true,
      // No ENABLE: imapflow would enable UTF8=ACCEPT (RFC 6855) where offered and then send folder names in UTF-8,
      // while the APPEND transport never enables it and sends modified UTF-7 (RFC 3501 §5.1.3). On Courier that
      // created "Café" in UTF-8 and appended to "Caf&AOk-": both failed and the folder list broke for every client
      // (issue 16). One encoding on both connections: modified UTF-7. (CONDSTORE and IMAP4rev2, the other things
      // imapflow enables, are used by nothing here.)
      disableAutoEnable: true,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      clientInfo: clientIdFields(),
    };
    if (!options.secure) {
      if (starttls === 'required') flowOptions.doSTARTTLS = true;
      else if (starttls === 'off') flowOptions.doSTARTTLS = false;
    }
    const client = new ImapFlow(flowOptions);
    // imapflow emits 'error' for socket failures; without a listener the process would crash on them.
    // Kept: when a reader limit (limits.ts) fails the stream, the pending command only sees "connection closed" or
    // an empty answer; the limit is the cause to report.
    const streamError: { error?: unknown } = {};
    client.on('error', (err: unknown) => {
      streamError.error = err;
    });
    // connectionTimeout and greetingTimeout bound imapflow's first two phases; what follows the greeting (CAPABILITY,
    // STARTTLS, LOGIN, ID, NAMESPACE, ENABLE) has no deadline of its own in imapflow, so one covers it all.
    const deadline = 2 * timeout + (options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    try {
      await withDeadline(client.connect(), deadline, () => {
        client.close();
        return new ControlTimeoutError('connect', deadline, `${options.host}:${options.port}`);
      });
    } catch (err) {
      client.close();
      if (err instanceof ControlTimeoutError) throw err;
      throw mapImapFlowError(err, { host: options.host, port: options.port, command: 'connect', connectTimeoutMs: timeout });
    }
    return new ControlPlane(client, options, streamError);
  }

  /**
   * Runs one command under its deadline (`deadlineMs`, default the command timeout). On expiry the connection is
   * closed (what it would answer later is no longer ours to read) and a ControlTimeoutError rejects.
   */
  async #run<T>(command: string, fn: () => Promise<T>, deadlineMs = this.#deadlineMs): Promise<T> {
    if (this.#closed) throw new MailmigrateError('E_CLOSED', `${command}: control connection already closed`, 'never');
    try {
      return await withDeadline(fn(), deadlineMs, () => {
        this.#closed = true;
        this.#client.close();
        return new ControlTimeoutError(command, deadlineMs, `${this.#options.host}:${this.#options.port}`);
      });
    } catch (err) {
      if (err instanceof ControlTimeoutError) throw err;
      throw this.#limitError(command) ?? mapImapFlowError(err, { host: this.#options.host, port: this.#options.port, command });
    }
  }

  /** The reader-limit error that ended the connection, mapped (a ProtocolError), if that is what happened. */
  #limitError(command: string): MailmigrateError | undefined {
    const e = this.#streamError.error as { code?: string } | undefined;
    if (!e || !/^(LineTooLarge|LiteralTooLarge|ResponseTooLarge)$/.test(e.code ?? '')) return undefined;
    return mapImapFlowError(e, { host: this.#options.host, port: this.#options.port, command });
  }

  /** The deadline of a bulk command over `messages` messages totalling `bytes` (limits.ts). */
  #bulkDeadline(messages: number, bytes = 0): number {
    return this.#deadlineMs + Math.ceil(messages / 1000) * BULK_MS_PER_1000_MESSAGES + Math.ceil(bytes / 1048576) * BULK_MS_PER_MIB;
  }

  /**
   * Synchronises the selected mailbox's view (NOOP, RFC 3501 §6.1.2). imapflow's noop() swallows a failure, so the
   * connection's state is checked after it: a view that could not be refreshed must not answer "not there".
   */
  async #sync(): Promise<void> {
    await this.#client.noop();
    if (!this.#client.usable || !this.#client.mailbox) {
      throw new MailmigrateError('E_IMAP', 'NOOP: the control connection is no longer usable', 'now');
    }
  }

  /** SELECTs `path` (read-write: EXAMINE reports PERMANENTFLAGS () on Dovecot, RFC 3501 §6.3.2) and runs fn. */
  async #withMailbox<T>(command: string, path: string, fn: () => Promise<T>, deadlineMs?: number): Promise<T> {
    return this.#run(`${command} ${path}`, async () => {
      const lock = await this.#client.getMailboxLock(path);
      try {
        return await fn();
      } finally {
        lock.release();
      }
    }, deadlineMs);
  }

  async listFolders(): Promise<FolderInfo[]> {
    const list = await this.#run('LIST', () => this.#client.list({ listOnly: true }));
    const folders = list.map((entry: ListResponse): FolderInfo => {
      const delimiter = entry.delimiter || '';
      const info: FolderInfo = {
        path: entry.path,
        name: delimiter ? entry.path.split(delimiter) : [entry.path],
        delimiter,
        flags: [...entry.flags],
        wire: entry.pathAsListed,
      };
      // Only what the server said (RFC 6154 attributes in the LIST flags), never imapflow's guess from localized
      // folder names; with listOnly imapflow leaves specialUse unset, so read the attributes ourselves.
      const use = [...entry.flags].find((f) => SPECIAL_USE_ATTRS.has(f.toLowerCase()));
      if (use) info.specialUse = use;
      else if (entry.specialUse && entry.specialUseSource === 'extension') info.specialUse = entry.specialUse;
      return info;
    });
    this.#folders = new Map(folders.map((f) => [folderKey(f.path), f]));
    return folders;
  }

  async delimiter(): Promise<string> {
    const ns = this.#client.namespace;
    if (ns && typeof ns.delimiter === 'string' && ns.delimiter) return ns.delimiter;
    const folders = this.#folders ? [...this.#folders.values()] : await this.listFolders();
    return folders.find((f) => f.delimiter)?.delimiter ?? '/';
  }

  /** The personal namespace prefix (RFC 2342), e.g. "INBOX." on Courier-style servers, "" on Dovecot's default. */
  namespacePrefix(): string {
    return this.#prefix();
  }

  #prefix(): string {
    return this.#client.namespace?.prefix ?? '';
  }

  /**
   * Creates `parts` (Unicode names below the personal namespace) and any missing parents; returns the server path.
   * Already existing is fine. A part containing the delimiter is refused: it would silently create a deeper tree.
   */
  /** `subscribe` (default true): subscribe what is created; false where the source's subscription list leaves it out. */
  async ensureFolder(parts: string[], specialUse?: string, subscribe = true): Promise<string> {
    if (parts.length === 0 || (parts.length === 1 && parts[0]!.toUpperCase() === 'INBOX')) return 'INBOX';
    const delimiter = await this.delimiter();
    for (const part of parts) {
      if (part === '' || part.includes(delimiter)) {
        throw new MailmigrateError(
          'E_FOLDER_NAME',
          `folder name part ${JSON.stringify(part)} is empty or contains the server's delimiter ${JSON.stringify(delimiter)}`,
          'never',
        );
      }
    }
    if (!this.#folders) await this.listFolders();
    // INBOX may be the namespace prefix itself ("INBOX."), and then folders live below it already.
    const prefix = this.#prefix();
    const base = prefix && parts[0]!.toUpperCase() + delimiter === prefix.toUpperCase() ? '' : prefix;
    let path = '';
    for (let i = 0; i < parts.length; i++) {
      path = i === 0 ? base + parts[0]! : path + delimiter + parts[i]!;
      const known = this.#folders!.get(folderKey(path));
      // \NonExistent / \Noselect parents exist only as names in the tree; CREATE makes them real mailboxes.
      if (known && !hasAttr(known, '\\NonExistent') && !hasAttr(known, '\\Noselect')) continue;
      const isLeaf = i === parts.length - 1;
      await this.#create(path, isLeaf ? specialUse : undefined, subscribe);
      this.#folders!.set(folderKey(path), {
        path,
        name: path.split(delimiter),
        delimiter,
        flags: [],
        wire: this.#encode(path),
        ...(isLeaf && specialUse && this.capabilities.has('CREATE-SPECIAL-USE') ? { specialUse } : {}),
      });
    }
    return path;
  }

  #encode(path: string): string {
    return this.#client.enabled.has('UTF8=ACCEPT') ? path : encodeMutf7(path);
  }

  async #create(path: string, specialUse: string | undefined, subscribe: boolean): Promise<void> {
    await this.#createOnly(path, specialUse);
    // imapflow's mailboxCreate() subscribes what it creates; a folder the source's subscription list leaves out is
    // unsubscribed again so it shows as it did in the old client.
    if (!subscribe) {
      await this.#client.mailboxUnsubscribe(path).catch(() => undefined);
      return;
    }
    // A created folder is subscribed, as mbsync and imapsync do: many clients (and webmails) show only subscribed
    // folders, so an unsubscribed import looks like lost mail. Best effort: a server refusing SUBSCRIBE (RFC 3501
    // §6.3.6) has still created the folder.
    await this.#client.mailboxSubscribe(path).catch(() => undefined);
  }

  async #createOnly(path: string, specialUse: string | undefined): Promise<void> {
    if (specialUse && this.capabilities.has('CREATE-SPECIAL-USE')) {
      // RFC 6154 §3: CREATE name (USE (\Sent)). imapflow's mailboxCreate() has no USE parameter.
      await this.#run(`CREATE ${path} (USE (${specialUse}))`, async () => {
        const exec = (this.#client as unknown as ExecCapable).exec.bind(this.#client);
        try {
          const res = await exec('CREATE', [
            { type: 'ATOM', value: this.#encode(path) },
            [{ type: 'ATOM', value: 'USE' }, [{ type: 'ATOM', value: specialUse }]],
          ]);
          res.next();
        } catch (err) {
          if ((err as { serverResponseCode?: string }).serverResponseCode?.toUpperCase() === 'ALREADYEXISTS') return;
          throw err;
        }
      });
      return;
    }
    try {
      await this.#run(`CREATE ${path}`, () => this.#client.mailboxCreate(path));
    } catch (err) {
      // Servers without RFC 5530 ALREADYEXISTS answer a plain NO: it is fine if the folder is there now. Anything
      // else (no answer within the deadline, the connection lost) is the error to report, not a reason to LIST.
      if (!(err instanceof ServerResponseError)) throw err;
      const again = await this.listFolders();
      if (again.some((f) => folderKey(f.path) === folderKey(path) && !hasAttr(f, '\\NonExistent'))) return;
      throw err;
    }
  }

  async status(path: string): Promise<{ messages: number; uidNext: number; uidValidity: number }> {
    const st = await this.#run(`STATUS ${path}`, async () => {
      // Dovecot answers STATUS of the *selected* mailbox from this session's view, which does not include what other
      // connections appended since (measured: 1999 of 2000 after another connection's APPEND). NOOP syncs the view
      // (RFC 3501 §6.1.2) so a checkpoint or a check never records a stale count.
      const selected = this.#client.mailbox;
      if (selected && folderKey(selected.path) === folderKey(path)) await this.#sync();
      return this.#client.status(path, { messages: true, uidNext: true, uidValidity: true });
    });
    if (!st) throw this.#limitError(`STATUS ${path}`) ?? new MailmigrateError('E_STATUS', `STATUS ${path}: no answer (not connected?)`, 'now');
    return { messages: st.messages ?? 0, uidNext: st.uidNext ?? 0, uidValidity: Number(st.uidValidity ?? 0n) };
  }

  /**
   * PERMANENTFLAGS of `path` (RFC 3501 §7.1): which flags APPEND can store. `\*` means new keywords may be created.
   * Without PERMANENTFLAGS the RFC says all FLAGS are permanent; whether new keywords are we cannot know, so no.
   */
  async permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
    return this.#withMailbox('SELECT', path, async () => {
      const mb = this.#client.mailbox;
      if (!mb) throw new MailmigrateError('E_STATUS', `SELECT ${path}: no mailbox state`, 'now');
      const source = mb.permanentFlags ?? mb.flags;
      return { flags: [...source].filter((f) => f !== '\\*'), anyKeyword: source.has('\\*') };
    });
  }

  /** UIDs and sizes of messages in `path` whose Message-ID equals `messageId` (SEARCH HEADER is a substring match,
   *  RFC 3501 §6.4.4, so every hit is checked against the fetched header). */
  async findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>> {
    const wanted = normalizeMessageId(messageId);
    if (!wanted) return [];
    return this.#withMailbox('UID SEARCH', path, async () => {
      // A fresh view first (issue 11): the mailbox may have been selected before this run's APPENDs, and Dovecot
      // searches the view it last synced — without NOOP (RFC 3501 §6.1.2) a message stored by an APPEND whose reply
      // was lost is "not there", and would be sent twice.
      await this.#sync();
      const uids = await this.#client.search({ header: { 'message-id': wanted } }, { uid: true });
      // imapflow answers a failed SEARCH (the connection died, the mailbox is no longer selected) with false or
      // undefined, not an error. Read as "no match", that sent a stored message again (a duplicate in the chaos
      // bench); only an array is an answer.
      if (!Array.isArray(uids)) throw new MailmigrateError('E_IMAP', `UID SEARCH ${path}: no answer (connection lost?)`, 'now');
      if (uids.length === 0) return [];
      const msgs = await this.#client.fetchAll(uids.join(','), { uid: true, size: true, headers: ['message-id'] }, { uid: true });
      return msgs
        .filter((m) => {
          const id = m.headers ? parseMessageIdHeader(m.headers) : undefined;
          return normalizeMessageId(id) === wanted;
        })
        .map((m) => ({ uid: m.uid, size: m.size ?? 0 }))
        .sort((a, b) => a.uid - b.uid);
    });
  }

  async listMessages(path: string): Promise<MessageSummary[]> {
    // The deadline grows with the folder: SELECT first (a short command), then the bulk FETCH under its own.
    const exists = (await this.status(path)).messages;
    return this.#withMailbox('UID FETCH', path, async () => {
      // The mailbox may have been selected before other connections appended to it; NOOP brings EXISTS up to date
      // (RFC 3501 §6.1.2), and an empty mailbox needs no FETCH at all.
      await this.#sync();
      if (!this.#client.mailbox || this.#client.mailbox.exists === 0) return [];
      const msgs = await this.#client.fetchAll(
        '1:*',
        { uid: true, size: true, flags: true, internalDate: true, headers: ['message-id'] },
        { uid: true },
      );
      return msgs
        .map((m) => {
          const summary: MessageSummary = {
            uid: m.uid,
            size: m.size ?? 0,
            flags: m.flags ? [...m.flags] : [],
            internalDate: m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? 0),
          };
          const id = m.headers ? parseMessageIdHeader(m.headers) : undefined;
          if (id !== undefined) summary.messageId = id;
          return summary;
        })
        .sort((a, b) => a.uid - b.uid);
    }, this.#bulkDeadline(exists));
  }

  /**
   * Adds and removes flags on messages by UID (`UID STORE +FLAGS.SILENT` / `-FLAGS.SILENT`, RFC 3501 §6.4.6), one
   * command per flag set — the cutover pass groups messages that need the same change.
   */
  async storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void> {
    if (uids.length === 0 || (add.length === 0 && remove.length === 0)) return;
    const range = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
    await this.#withMailbox('UID STORE', path, async () => {
      if (add.length) await this.#client.messageFlagsAdd(range, [...add], { uid: true, silent: true } as never);
      if (remove.length) await this.#client.messageFlagsRemove(range, [...remove], { uid: true, silent: true } as never);
    });
  }

  /** The stored message bytes (BODY.PEEK[]: does not set \Seen). */
  async fetchBody(path: string, uid: number): Promise<Buffer> {
    return this.#withMailbox(`UID FETCH ${uid}`, path, async () => {
      const msg = await this.#client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      if (!msg || !msg.source) throw new MailmigrateError('E_NOT_FOUND', `no message with UID ${uid} in ${path}`, 'never');
      return msg.source;
    });
  }

  /**
   * The stored bytes of several messages in one `UID FETCH set (UID BODY.PEEK[])`, handed over one by one as they
   * arrive (verify's batched comparison). The caller bounds the batch (count and bytes by RFC822.SIZE); each body is
   * bounded by CONTROL_READER_LIMITS. `sizeHint`: the batch's total bytes, for the deadline.
   */
  async fetchBodies(path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void, sizeHint = 0): Promise<void> {
    if (uids.length === 0) return;
    const range = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
    await this.#withMailbox('UID FETCH (BODY.PEEK[])', path, async () => {
      for await (const msg of this.#client.fetch(range, { uid: true, source: true }, { uid: true })) {
        if (msg.source) onBody(msg.uid, msg.source);
      }
    }, this.#bulkDeadline(uids.length, sizeHint));
  }

  /** Flags \Deleted and expunges that one UID (UID EXPUNGE when UIDPLUS is there, RFC 4315 §2.1). */
  async deleteMessage(path: string, uid: number): Promise<void> {
    await this.#withMailbox(`UID EXPUNGE ${uid}`, path, async () => {
      await this.#client.messageDelete(String(uid), { uid: true });
    });
  }

  async deleteFolder(path: string): Promise<void> {
    await this.#run(`DELETE ${path}`, () => this.#client.mailboxDelete(path));
    this.#folders?.delete(folderKey(path));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#client.logout();
    } catch {
      // the connection may already be gone; closing is all that is left to do
    } finally {
      this.#client.close();
    }
  }
}

/** INBOX is case-insensitive (RFC 3501 §5.1), every other name is case-sensitive. */
function folderKey(path: string): string {
  return /^inbox$/i.test(path) ? 'INBOX' : path;
}

function hasAttr(f: FolderInfo, attr: string): boolean {
  return f.flags.some((x) => x.toLowerCase() === attr.toLowerCase());
}

/** `p`, or the error `onExpiry` builds when `ms` pass first (the timer never keeps the process alive). */
async function withDeadline<T>(p: Promise<T>, ms: number, onExpiry: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onExpiry()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
