import type net from 'node:net';
import { type Clock, systemClock } from '../core/clock.js';
import {
  AuthError,
  ConfigError,
  ConnectError,
  ConnectionClosedError,
  type MailmigrateError,
  ProtocolError,
  ServerResponseError,
  TimeoutError,
  toMailmigrateError,
} from '../core/errors.js';
import type { AppendMessage } from '../core/types.js';
import { type Capabilities, parseCapabilities } from '../imap/capabilities.js';
import { compileAppend, compileSimple, encodeMailbox, TagGenerator } from '../imap/compiler.js';
import { chooseLiteral, DEFAULT_PLUS_MAX_BYTES, validateLiteralMode } from '../imap/literal-policy.js';
import { parseAppendUid } from '../imap/response-codes.js';
import { ResponseReader, type ResponseItem } from '../imap/response-reader.js';
import { authCommand } from './auth.js';
import { CommandQueue, type EnqueueOptions, type TaggedResult } from './command-queue.js';
import { connectError } from './connect-error.js';
import { dialSocket, probeImplicitTls, upgradeToTls } from './dial.js';
import type { AppendResult, ConnectionOptions, Credentials, Timeouts } from './connection-options.js';
import { DEFAULT_TIMEOUTS } from './connection-options.js';
import { ReplyDeadline } from './reply-deadline.js';

export type { AppendResult, ConnectionOptions, Credentials, OverdueNotice, Timeouts, TlsMode } from './connection-options.js';
export { DEFAULT_TIMEOUTS } from './connection-options.js';

// The APPEND transport never fetches: what it reads is greetings, CAPABILITY lists, tagged replies and the odd
// untagged status. Small limits keep a hostile or broken server from making it buffer much (issue 13: a server
// answering with endless untagged data grew the heap ~100 MB/s). A CAPABILITY line of a large server is ~1 KB.
const READER_LIMITS = { maxLineLength: 64 * 1024, maxLiteralSize: 64 * 1024, maxResponseSize: 256 * 1024 };

let nextConnectionId = 1;

/** One socket to one IMAP server: connect, TLS, greeting, capabilities, login, then pipelined commands. */
export class Connection {
  readonly id = nextConnectionId++;
  capabilities: Capabilities = parseCapabilities('');
  /** Text of an untagged BYE, when the server said goodbye. */
  bye: string | undefined;
  closed = false;
  private socket!: net.Socket;
  private reader: ResponseReader;
  private queue!: CommandQueue;
  private readonly tags = new TagGenerator();
  private readonly clock: Clock;
  private readonly timeouts: Timeouts;
  private readonly deadline: ReplyDeadline;
  private readonly closeWaiters: Array<() => void> = [];
  private onGreeting: ((item: ResponseItem) => void) | undefined;
  private connectedAt = 0;
  /** The LITERAL+ limit of literal mode auto; the pool raises it over a long path (adapt-policy.ts, Rule 4a). */
  private literalPlusMax: number;

  private constructor(readonly options: ConnectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.literalPlusMax = options.literalPlusMaxBytes ?? DEFAULT_PLUS_MAX_BYTES;
    this.reader = new ResponseReader(options.readerLimits ?? READER_LIMITS);
    this.deadline = new ReplyDeadline(
      {
        connectionId: this.id,
        queue: () => this.queue,
        closed: () => this.closed,
        buffered: () => this.socket.writableLength,
        giveUp: (err) => this.destroy(err),
        overdue: (notice) => this.options.onOverdue?.(notice),
      },
      this.timeouts,
      this.clock,
    );
  }

  /** Connects, reads the greeting, upgrades to TLS if asked, authenticates. Rejects with a typed error. */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const c = new Connection(options);
    try {
      await c.connect();
      if (options.literalMode) validateLiteralMode(options.literalMode, c.capabilities);
      return c;
    } catch (err) {
      c.destroy(toMailmigrateError(err));
      throw err;
    }
  }

  get inFlight(): number {
    return this.queue.inFlight;
  }
  /** Waiting past the reply timeout for the server's answer to commands it holds whole: take no new work. */
  get overdue(): boolean {
    return this.queue?.overdueSince !== undefined;
  }
  /** Commands in flight plus those waiting behind the send-gate. */
  get load(): number {
    return this.queue.inFlight + this.queue.queued;
  }
  get depth(): number {
    return Math.max(1, this.options.pipelineDepth ?? 1);
  }

  private async connect(): Promise<void> {
    const o = this.options;
    const start = this.clock.now();
    const sock = await dialSocket(o, this.timeouts.connectMs);
    this.connectedAt = this.clock.now() - start;
    this.attach(sock);
    const greeting = await this.waitGreetingOrExplain();
    if (greeting.kind === 'untagged' && greeting.type === 'BYE') {
      this.bye = greeting.text;
      throw new ConnectError('E_REFUSED_BY_SERVER', `server refused the connection: ${greeting.text}`, 'later');
    }
    const preauth = greeting.kind === 'untagged' && greeting.type === 'PREAUTH';
    await this.refreshCapabilities(greeting);
    if (o.tls === 'starttls' || (o.tls === 'starttls-optional' && this.capabilities.starttls)) {
      if (!this.capabilities.starttls) {
        // Refuse to continue in clear text: a man in the middle stripping STARTTLS from CAPABILITY is exactly this.
        throw new ConnectError(
          'E_STARTTLS_UNAVAILABLE',
          `${o.host}:${o.port} does not offer STARTTLS, which was required; refusing to continue without TLS`,
          'never',
        );
      }
      await this.startTls();
    }
    if (!preauth && o.auth) await this.authenticate(o.auth);
  }

  /** Milliseconds the TCP (and implicit TLS) connect took. */
  get connectMs(): number {
    return this.connectedAt;
  }

  private attach(sock: net.Socket): void {
    this.socket = sock;
    sock.setNoDelay(this.options.noDelay ?? true);
    if (this.options.keepAlive ?? true) sock.setKeepAlive(true, 30_000);
    this.queue = new CommandQueue(sock, {
      connectionId: this.id,
      depth: this.depth,
      writeMode: this.options.writeMode ?? 'coalesce',
      maxBufferedBytes: this.options.maxBufferedBytes ?? 1024 * 1024,
      clock: this.clock,
      onRecord: this.options.onRecord,
      onObserverError: this.options.onObserverError,
    });
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('drain', () => this.queue.pump());
    sock.on('error', (err) => this.destroy(connectError(err, this.options, 'tcp')));
    sock.on('close', () =>
      this.destroy(
        new ConnectionClosedError(
          this.bye ? `server closed the connection: ${this.bye}` : 'connection closed by the server',
          this.queue.inFlight,
          this.bye,
        ),
      ),
    );
  }

  private onData(chunk: Buffer): void {
    let items: ResponseItem[];
    try {
      items = this.reader.push(chunk);
    } catch (err) {
      this.destroy(toMailmigrateError(err));
      return;
    }
    for (const item of items) {
      if (item.kind === 'untagged') this.onUntagged(item);
      else if (item.kind === 'tagged' && item.code?.name === 'ALERT') this.alert(item.text);
      if (this.onGreeting) {
        const g = this.onGreeting;
        this.onGreeting = undefined;
        g(item);
        continue;
      }
      try {
        this.queue.onResponse(item);
      } catch (err) {
        this.destroy(toMailmigrateError(err));
        return;
      }
    }
    this.deadline.arm();
  }

  /** Connection state learned from untagged responses; the queue routes them to commands that asked. */
  private onUntagged(item: Extract<ResponseItem, { kind: 'untagged' }>): void {
    if (item.type === 'BYE') this.bye = item.text;
    else if (item.type === 'CAPABILITY') this.capabilities = parseCapabilities(item.text);
    else if (item.code?.name === 'CAPABILITY') this.capabilities = parseCapabilities(item.code.args);
    else if (item.code?.name === 'ALERT') this.alert(item.text);
  }

  /** RFC 3501 §7.1: "[ALERT] … MUST be presented to the user". Guarded: the observer cannot break the connection. */
  private alert(text: string): void {
    try {
      this.options.onAlert?.(text, this.id);
    } catch {
      // Showing the alert failed; the connection goes on (the pool records it in its events as well).
    }
  }

  /**
   * Waits for the greeting; on a plain connection that stays silent, finds out whether the port speaks implicit
   * TLS. A TLS server waits for our ClientHello and sends nothing, so plain IMAP to port 993 used to sit out the
   * whole greeting timeout and then say only "timed out". After a short silence a second, throw-away connection
   * tries a TLS handshake (certificate not checked: it only asks "is this TLS?", and nothing is sent over it);
   * if it completes, we stop at once and say to use --tls. No byte is written on the real connection.
   */
  private async waitGreetingOrExplain(): Promise<ResponseItem> {
    const o = this.options;
    const greeting = this.waitGreeting();
    if (o.tls === 'implicit') return greeting;
    greeting.catch(() => undefined); // may lose the race below; its rejection is then expected and ignored
    const probe = probeImplicitTls(o, Math.min(1500, this.timeouts.greetingMs / 2), this.timeouts.greetingMs);
    try {
      return await Promise.race([greeting, probe.verdict]);
    } finally {
      probe.cancel();
    }
  }

  private waitGreeting(): Promise<ResponseItem> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onGreeting = undefined;
        reject(new TimeoutError('greeting', this.timeouts.greetingMs));
      }, this.timeouts.greetingMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        reject(new ConnectionClosedError('connection closed before the greeting', 0, this.bye));
      });
      this.onGreeting = (item) => {
        clearTimeout(timer);
        if (item.kind === 'untagged' && ['OK', 'PREAUTH', 'BYE'].includes(item.type)) {
          this.queue.setOpen(true);
          resolve(item);
        } else reject(new ProtocolError('expected a greeting (* OK, * PREAUTH or * BYE)', item.kind));
      };
    });
  }

  private async refreshCapabilities(fromGreeting?: ResponseItem): Promise<void> {
    if (fromGreeting?.kind === 'untagged' && fromGreeting.code?.name === 'CAPABILITY') return;
    await this.command('CAPABILITY');
  }

  private async startTls(): Promise<void> {
    await this.command('STARTTLS', [], { exclusive: true });
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    plain.removeAllListeners('drain');
    const secure = await upgradeToTls(plain, this.options, this.timeouts.connectMs);
    // RFC 3501 §6.2.1: forget everything learned before TLS (capabilities, buffered bytes: a plaintext
    // injection after "OK Begin TLS" must never be read as a reply).
    this.reader = new ResponseReader(this.options.readerLimits ?? READER_LIMITS);
    this.capabilities = parseCapabilities('');
    this.attach(secure);
    this.queue.setOpen(true);
    await this.command('CAPABILITY');
  }

  private async authenticate(auth: Credentials): Promise<void> {
    const step = authCommand(auth, this.capabilities);
    let res: TaggedResult;
    try {
      res = await this.command(step.verb, step.args, { exclusive: true, ...(step.onContinuation ? { onContinuation: step.onContinuation } : {}) });
    } catch (err) {
      if (err instanceof ServerResponseError) {
        // Never echo what we sent: only the server's words, which do not contain the secret.
        throw new AuthError(`login as ${auth.user} refused by ${this.options.host}:${this.options.port}: ${err.status}${err.responseCode ? ` [${err.responseCode}]` : ''} ${err.text}`.trim());
      }
      throw err;
    }
    if (res.code?.name === 'CAPABILITY') this.capabilities = parseCapabilities(res.code.args);
    else await this.command('CAPABILITY');
  }

  /** Sends any simple command; resolves on OK, rejects with a typed error on NO/BAD or failure. */
  command(
    verb: string,
    args: ReadonlyArray<string | { atom: string } | { literal: Buffer }> = [],
    opts: EnqueueOptions = {},
  ): Promise<TaggedResult> {
    const compiled = compileSimple(this.tags.next(), verb, args);
    const p = this.queue.enqueue(compiled, opts);
    this.deadline.arm();
    return p;
  }

  /** APPEND one message, or MULTIAPPEND several (RFC 3502), to `mailbox`. */
  append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult> {
    const caps = this.capabilities;
    if (messages.length > 1 && !caps.multiappend) {
      return Promise.reject(new ConfigError('--batch', 'the server does not offer MULTIAPPEND; use --batch 1'));
    }
    const mode = this.options.literalMode ?? 'auto';
    const plusMax = this.literalPlusMax;
    const compiled = compileAppend(this.tags.next(), mailbox, messages, (size) => chooseLiteral(mode, caps, size, plusMax));
    const p = this.queue.enqueue(compiled, { mailbox, messages: messages.length });
    this.deadline.arm();
    return p.then((res) => {
      const uid = parseAppendUid(res.code);
      return {
        uidValidity: uid?.uidValidity,
        uids: uid && uid.uids.length === messages.length ? uid.uids : undefined,
        record: res.record,
      };
    });
  }

  /** APPENDs compiled from now on use this LITERAL+ limit (literal mode auto); commands already queued keep theirs. */
  setLiteralPlusMax(bytes: number): void {
    if (Number.isSafeInteger(bytes) && bytes > 0) this.literalPlusMax = bytes;
  }

  /** The pool's throttle gate: while held, no new command starts on this connection. */
  hold(held: boolean): void {
    this.queue.hold(held);
  }

  /** The pool learned that `mailbox` exists: later APPENDs to it may be pipelined at once. */
  confirmMailbox(mailbox: string): void {
    this.queue.confirm(mailbox);
  }

  /** CREATE, tolerating "already exists" (some servers answer NO [ALREADYEXISTS], RFC 5530). */
  async create(mailbox: string): Promise<void> {
    try {
      await this.command('CREATE', [{ atom: encodeMailbox(mailbox) }]);
    } catch (err) {
      if (err instanceof ServerResponseError && (err.responseCode === 'ALREADYEXISTS' || /exists/i.test(err.text))) return;
      throw err;
    }
  }

  /** LOGOUT politely (bounded), then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await Promise.race([
        this.command('LOGOUT', [], { exclusive: true }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
    } finally {
      this.socket.end();
      this.destroy(new ConnectionClosedError('connection closed by the client', 0));
    }
  }

  /** Tears the connection down at once; every command still open fails with `err`. */
  destroy(err: MailmigrateError): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline.stop();
    this.queue?.failAll(err);
    this.socket?.destroy();
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Resolves when the connection has closed for any reason. */
  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closeWaiters.push(r));
  }
}
