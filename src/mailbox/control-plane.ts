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
// What is where: control-session.ts (one imapflow client, each command under a deadline, errors mapped),
// folder-catalog.ts (LIST, delimiter, namespace, CREATE/DELETE), mailbox-messages.ts (STATUS, look-ups, bulk
// FETCH, bodies, STORE, expunge). This class connects and is what callers hold.
//
// Credentials: imapflow runs with `logger: false`, and errors are rebuilt by mapImapFlowError() without the
// command text or the imapflow error object, so neither the password nor the token can leak through them.

import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { clientIdFields } from './client-id.js';
import { ControlSession, ControlTimeoutError, withDeadline } from './control-session.js';
import { FolderCatalog } from './folder-catalog.js';
import type { FolderInfo } from './folder-info.js';
import { mapImapFlowError } from './imapflow-errors.js';
import { CONTROL_READER_LIMITS, DEFAULT_COMMAND_TIMEOUT_MS } from './limits.js';
import { MailboxMessages, type MessageSummary } from './mailbox-messages.js';

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

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

export class ControlPlane {
  readonly capabilities: ReadonlySet<string>;
  readonly #session: ControlSession;
  readonly #folders: FolderCatalog;
  readonly #messages: MailboxMessages;

  private constructor(session: ControlSession) {
    this.#session = session;
    this.#folders = new FolderCatalog(session);
    this.#messages = new MailboxMessages(session);
    this.capabilities = session.capabilities;
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
    return new ControlPlane(new ControlSession(client, options, streamError));
  }

  listFolders(): Promise<FolderInfo[]> {
    return this.#folders.listFolders();
  }

  delimiter(): Promise<string> {
    return this.#folders.delimiter();
  }

  /** The personal namespace prefix (RFC 2342), e.g. "INBOX." on Courier-style servers, "" on Dovecot's default. */
  namespacePrefix(): string {
    return this.#folders.namespacePrefix();
  }

  /** Creates `parts` and any missing parents (subscribed unless `subscribe` is false); returns the server path. */
  ensureFolder(parts: string[], specialUse?: string, subscribe = true): Promise<string> {
    return this.#folders.ensureFolder(parts, specialUse, subscribe);
  }

  deleteFolder(path: string): Promise<void> {
    return this.#folders.deleteFolder(path);
  }

  status(path: string): Promise<{ messages: number; uidNext: number; uidValidity: number }> {
    return this.#messages.status(path);
  }

  /** PERMANENTFLAGS of `path` (RFC 3501 §7.1): which flags APPEND can store. */
  permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
    return this.#messages.permanentFlags(path);
  }

  findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>> {
    return this.#messages.findByMessageId(path, messageId);
  }

  listMessages(path: string): Promise<MessageSummary[]> {
    return this.#messages.listMessages(path);
  }

  storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void> {
    return this.#messages.storeFlags(path, uids, add, remove);
  }

  /** The stored message bytes (BODY.PEEK[]: does not set \Seen). */
  fetchBody(path: string, uid: number): Promise<Buffer> {
    return this.#messages.fetchBody(path, uid);
  }

  fetchBodies(path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void, sizeHint = 0): Promise<void> {
    return this.#messages.fetchBodies(path, uids, onBody, sizeHint);
  }

  deleteMessage(path: string, uid: number): Promise<void> {
    return this.#messages.deleteMessage(path, uid);
  }

  close(): Promise<void> {
    return this.#session.close();
  }
}
