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
import type { AppendMessage, LiteralMode, WriteMode } from '../core/types.js';
import { type Capabilities, parseCapabilities } from '../imap/capabilities.js';
import { compileAppend, compileSimple, encodeMailbox, TagGenerator } from '../imap/compiler.js';
import { chooseLiteral, DEFAULT_PLUS_MAX_BYTES, validateLiteralMode } from '../imap/literal-policy.js';
import { parseAppendUid } from '../imap/response-codes.js';
import { ResponseReader, type ResponseItem } from '../imap/response-reader.js';
import { authCommand, type Credentials } from './auth.js';
import { CommandQueue, type EnqueueOptions, type TaggedResult } from './command-queue.js';
import { connectError } from './connect-error.js';
import { dialSocket, probeImplicitTls, upgradeToTls } from './dial.js';
import type { TimingRecord } from './timing.js';
import { silence } from './reply-timer.js';

export type TlsMode = 'implicit' | 'starttls' | 'starttls-optional' | 'none';
export type { Credentials } from './auth.js';


export interface Timeouts {
  readonly connectMs: number;
  readonly greetingMs: number;
  /** Header of a synchronizing literal flushed → '+'. */
  readonly continuationMs: number;
  /** Commands in flight and no byte from the server for this long → the connection is stalled. */
  readonly replyMs: number;
  /**
   * Stalled while the server holds a whole command: how much longer to wait for its answer before giving up on the
   * connection. Only the answer says whether that message was stored. A connection dropped after 60 s, its message
   * looked up and sent again, doubled it when the server stored it later: Courier held APPENDs behind its folder
   * lock that long with 4 and 8 connections into one folder (2 and 3 messages doubled, docs/adaptation.md). Waiting
   * costs only the end of the run (the pool sends on other connections meanwhile); 0 = give up at replyMs.
   */
  readonly lateAnswerMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  connectMs: 10_000,
  greetingMs: 10_000,
  continuationMs: 30_000,
  replyMs: 60_000,
  lateAnswerMs: 300_000,
};

/** The server went silent on a connection with commands it holds whole: it waits for their answer (see lateAnswerMs). */
export interface OverdueNotice {
  readonly connectionId: number;
  readonly silentMs: number;
  /** Commands in flight, every byte of which the server has. */
  readonly commands: number;
  /** How much longer the connection waits for an answer before it is given up (outcomes then unknown). */
  readonly waitMs: number;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly ca?: Buffer | undefined;
  /** TLS certificate verification; on unless the user asked for --insecure. */
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
  readonly auth?: Credentials | undefined;
  /** TCP_NODELAY. Default true: with Nagle on, a split write stalls one delayed-ACK timeout (44 ms, docs/measurements.md). */
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly localAddress?: string | undefined;
  readonly timeouts?: Partial<Timeouts>;
  /** Commands in flight at once (1 = no pipelining). */
  readonly pipelineDepth?: number;
  readonly writeMode?: WriteMode;
  readonly literalMode?: LiteralMode;
  readonly literalPlusMaxBytes?: number;
  /** Stop writing while Node holds more than this many unflushed bytes. */
  readonly maxBufferedBytes?: number;
  readonly clock?: Clock;
  readonly onRecord?: (r: TimingRecord) => void;
  /** An observer (onRecord or a diagnostics-channel subscriber) threw; the command settled regardless. */
  readonly onObserverError?: (err: unknown, r: TimingRecord) => void;
  /** The server sent an [ALERT] (RFC 3501 §7.1: the text must be shown to the user). */
  readonly onAlert?: (text: string, connectionId: number) => void;
  /** The server went silent holding whole commands; the connection waits for their answers (guarded). */
  readonly onOverdue?: (notice: OverdueNotice) => void;
}

// The APPEND transport never fetches: what it reads is greetings, CAPABILITY lists, tagged replies and the odd
// untagged status. Small limits keep a hostile or broken server from making it buffer much (issue 13: a server
// answering with endless untagged data grew the heap ~100 MB/s). A CAPABILITY line of a large server is ~1 KB.
const READER_LIMITS = { maxLineLength: 64 * 1024, maxLiteralSize: 64 * 1024, maxResponseSize: 256 * 1024 };

export interface AppendResult {
  readonly uidValidity: number | undefined;
  /** One UID per message, in order, when the server offers UIDPLUS (RFC 4315 APPENDUID). */
  readonly uids: number[] | undefined;
  readonly record: TimingRecord;
}

let nextConnectionId = 1;

/** One socket to one IMAP server: connect, TLS, greeting, capabilities, login, then pipelined commands. */
export class Connection {
  readonly id = nextConnectionId++;
  capabilities: Capabilities = parseCapabilities('');
  /** Text of an untagged BYE, when the server said goodbye. */
  bye: string | undefined;
  closed = false;
  private socket!: net.Socket;
  private reader = new ResponseReader(READER_LIMITS);
  private queue!: CommandQueue;
  private readonly tags = new TagGenerator();
  private readonly clock: Clock;
  private readonly timeouts: Timeouts;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly closeWaiters: Array<() => void> = [];
  private onGreeting: ((item: ResponseItem) => void) | undefined;
  private connectedAt = 0;
  private previousBuffered = 0;
  private bufferedChangedAt = 0;

  private constructor(readonly options: ConnectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
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
    return this.queue?.overdue !== undefined;
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
    const wasOverdue = this.queue?.overdue !== undefined;
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
    if (wasOverdue && this.queue.overdue === undefined && this.idleTimer) {
      // The late answer came: the long wait's timer gives way to the normal reply timeout again.
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    this.armIdleTimer();
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
    this.reader = new ResponseReader(READER_LIMITS);
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
        throw new AuthError(`login as ${auth.user} refused: ${err.status}${err.responseCode ? ` [${err.responseCode}]` : ''} ${err.text}`.trim());
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
    this.armIdleTimer();
    return p;
  }

  /** APPEND one message, or MULTIAPPEND several (RFC 3502), to `mailbox`. */
  append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult> {
    const caps = this.capabilities;
    if (messages.length > 1 && !caps.multiappend) {
      return Promise.reject(new ConfigError('--batch', 'the server does not offer MULTIAPPEND; use --batch 1'));
    }
    const mode = this.options.literalMode ?? 'auto';
    const plusMax = this.options.literalPlusMaxBytes ?? DEFAULT_PLUS_MAX_BYTES;
    const compiled = compileAppend(this.tags.next(), mailbox, messages, (size) => chooseLiteral(mode, caps, size, plusMax));
    const p = this.queue.enqueue(compiled, { mailbox, messages: messages.length });
    this.armIdleTimer();
    return p.then((res) => {
      const uid = parseAppendUid(res.code);
      return {
        uidValidity: uid?.uidValidity,
        uids: uid && uid.uids.length === messages.length ? uid.uids : undefined,
        record: res.record,
      };
    });
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

  /** Arms the reply timer: commands in flight and silence from the server for replyMs → stalled. */
  private armIdleTimer(): void {
    if (this.idleTimer || this.closed || !this.queue?.expectingReply) return;
    const check = (): void => {
      this.idleTimer = undefined;
      if (this.closed || !this.queue.expectingReply) return;
      const now = this.clock.now();
      const since = this.queue.awaitingContinuationSince;
      const overdueSince = this.queue.overdue;
      if (overdueSince !== undefined) {
        // Waiting for a late answer (see lateAnswerMs): the next answer clears overdue; this deadline gives up.
        const left = overdueSince + this.timeouts.lateAnswerMs - now;
        if (left <= 0) return this.destroy(new TimeoutError('tagged', this.timeouts.replyMs + this.timeouts.lateAnswerMs));
        this.idleTimer = setTimeout(check, left);
        this.idleTimer.unref?.();
        return;
      }
      if (since !== undefined && now - since >= this.timeouts.continuationMs && this.queue.lastAnswerAt < since) {
        return this.stalled(new TimeoutError('continuation', this.timeouts.continuationMs), now - since, check);
      }
      const s = silence({
        now,
        lastAnswerAt: this.queue.lastAnswerAt,
        lastStartAt: this.queue.lastStartAt,
        lastFlushAt: this.queue.lastFlushAt,
        buffered: this.socket.writableLength,
        previousBuffered: this.previousBuffered,
        bufferedChangedAt: this.bufferedChangedAt,
      });
      this.previousBuffered = s.previousBuffered;
      this.bufferedChangedAt = s.bufferedChangedAt;
      const silentFor = s.silentFor;
      if (silentFor >= this.timeouts.replyMs) return this.stalled(new TimeoutError('tagged', this.timeouts.replyMs), silentFor, check);
      const wait = Math.min(this.timeouts.replyMs - silentFor, since !== undefined ? this.timeouts.continuationMs : Infinity);
      this.idleTimer = setTimeout(check, Math.max(5, wait));
      this.idleTimer.unref?.();
    };
    this.idleTimer = setTimeout(check, Math.min(this.timeouts.replyMs, this.timeouts.continuationMs));
    this.idleTimer.unref?.();
  }

  /**
   * The server said nothing for a timeout. If it holds a whole APPEND, only its answer can tell whether that message
   * was stored: stop sending here and wait lateAnswerMs more (overdue). An APPEND still waiting for '+' has not given
   * the server its message, and other commands store nothing, so without a whole APPEND the connection is dropped.
   */
  private stalled(err: TimeoutError, silentMs: number, check: () => void): void {
    const whole = this.queue.wholeAppendsInFlight;
    if (whole === 0 || this.timeouts.lateAnswerMs <= 0) return this.destroy(err);
    this.queue.setOverdue(err);
    const notice: OverdueNotice = { connectionId: this.id, silentMs, commands: whole, waitMs: this.timeouts.lateAnswerMs };
    try {
      this.options.onOverdue?.(notice);
    } catch {
      // Reporting it failed; the wait goes on regardless.
    }
    this.idleTimer = setTimeout(check, this.timeouts.lateAnswerMs);
    this.idleTimer.unref?.();
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
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.queue?.failAll(err);
    this.socket?.destroy();
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Resolves when the connection has closed for any reason. */
  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closeWaiters.push(r));
  }
}
