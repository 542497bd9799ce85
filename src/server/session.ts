// One IMAP connection of the embedded server: the state machine of RFC 3501 §3 (not authenticated → authenticated
// → selected → logout), the drive loop over the command reader, and the bounds a client meets (limits.ts). Beside
// it: session-socket.ts (the socket, TLS, batched writes, backpressure), session-login.ts (LOGIN and AUTHENTICATE),
// command-dispatch.ts (which command runs in which state). Fault injection is not in here: it wraps the session through its hooks
// (session-hooks.ts), which do nothing unless a fault switch is on.
//
// Replies produced while processing one 'data' event are written once (one syscall), so a pipelining client gets
// one segment back per segment sent. No delay is added: with noDelay=false the kernel's Nagle / delayed-ACK
// behaviour (docs/measurements.md) is what the client meets, as with the report's server.
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { literalFormPolicy, literalPolicy } from './append-command.js';
import { capabilityList } from './capability-list.js';
import { CommandReader, type ParsedCommand, type ReaderEvent } from './command-reader.js';
import {
  CommandError, errorReply, ok, tokenString, type CommandContext, type Reply, type Selected, type ServerShared,
} from './command-context.js';
import { runInMailboxState, type SessionState, syncSelectedView } from './command-dispatch.js';
import {
  MAX_LINE_BYTES, PREAUTH_MAX_COMMAND_BYTES, PREAUTH_MAX_LINE_BYTES, preAuthLiteralPolicy,
} from './limits.js';
import { SessionLogin } from './session-login.js';
import { SessionSocket } from './session-socket.js';
import { PLAIN_HOOKS, type CommandOverride, type SessionHooks } from './session-hooks.js';
import { StoreError } from './store.js';

// Input held unread while the session cannot process it (a delayed greeting, an async step, a blocked write).
// Above this the socket is paused, so the kernel's receive window pushes back on the client instead of our heap.
const INPUT_HIGH_WATER = 256 * 1024;
// Replies queued while one 'data' event is processed are written once; past this many bytes they are written
// early, so a pipelined burst of FETCHes cannot pile up replies in memory before the first write.
const OUTPUT_FLUSH_BYTES = 256 * 1024;

export interface SessionOptions {
  readonly shared: ServerShared;
  readonly tls: SecureContext | undefined;
  readonly implicitTls: boolean;
  readonly greetingDelayMs: number;
  readonly hooks: SessionHooks;
  readonly onClose: (s: Session) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Session implements CommandContext {
  readonly shared: ServerShared;
  selected: Selected | undefined;
  /** Swapped by the server when fault switches go on or off. */
  hooks: SessionHooks = PLAIN_HOOKS;
  private readonly io: SessionSocket;
  private readonly reader: CommandReader;
  private readonly login: SessionLogin;
  private state: SessionState = 'not-authenticated';
  private secure = false;
  private user: string | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private stalled = false;
  private dropAfterDrive = false;
  private greeted = false;
  private bytesIn = 0;
  private commandCount = 0;
  private errorsInRow = 0;

  constructor(socket: Socket, private readonly opts: SessionOptions) {
    this.shared = opts.shared;
    this.io = new SessionSocket(socket, { data: this.onData, gone: () => this.destroy(), drained: () => this.onDrain() });
    this.hooks = opts.hooks;
    // Before login a client can only send credentials: small lines, small literals (limits.ts).
    this.reader = new CommandReader({
      maxLineBytes: PREAUTH_MAX_LINE_BYTES,
      maxCommandBytes: PREAUTH_MAX_COMMAND_BYTES,
      maxDiscardBytes: PREAUTH_MAX_COMMAND_BYTES,
      policy: (a) => (this.state === 'not-authenticated'
        ? (preAuthLiteralPolicy(a) ?? literalFormPolicy(this.shared.caps, a))
        : literalPolicy(this.shared, a)),
    });
    this.login = new SessionLogin({
      shared: this.shared,
      notAuthenticated: () => this.state === 'not-authenticated',
      loginDisabled: () => this.loginDisabled(),
      send: (data) => this.send(data),
      expectLine: () => this.reader.expectLine(),
      finish: (tag, verb, reply) => this.finish(tag, verb, reply),
      bye: (code, text) => this.bye(code, text),
      loggedIn: (user) => this.loggedIn(user),
    });
    const loginMs = this.shared.limits.loginTimeoutMs;
    if (Number.isFinite(loginMs)) {
      // Counted from connect, not from the last byte: trickling a byte a minute must not hold a descriptor forever.
      this.loginTimer = setTimeout(() => this.bye(undefined, 'Disconnected for inactivity'), loginMs).unref();
    }
    if (opts.implicitTls && opts.tls) this.wrapTls(opts.tls);
    else this.io.readPlain();
    if (opts.greetingDelayMs > 0) setTimeout(() => this.greet(), opts.greetingDelayMs);
    else this.greet();
  }

  get authenticatedUser(): string | undefined {
    return this.user;
  }

  private greet(): void {
    if (this.closed) return;
    const g = this.hooks.greeting();
    if (g === 'stall') {
      this.stalled = true;
      return;
    }
    this.greeted = true;
    if (g === 'bye') {
      this.bye('UNAVAILABLE', 'Server unavailable (fault injected)');
      return;
    }
    this.send(`* OK [CAPABILITY ${this.capabilities()}] mailmigrate test server ready\r\n`);
    this.flush();
    if (this.reader.buffered > 0 && !this.running) this.drive();
  }

  /** Capabilities for the current state (RFC 3501 §7.2.1); they change after STARTTLS and LOGIN. */
  capabilities(): string {
    const authenticated = this.state !== 'not-authenticated';
    const startTlsOffered = !!this.opts.tls && !this.secure;
    return capabilityList(this.shared.caps, { authenticated, startTlsOffered, loginDisabled: this.loginDisabled(), maxMessageBytes: this.shared.limits.maxMessageBytes });
  }

  private loginDisabled(): boolean {
    return this.shared.requireTlsForLogin && !this.secure;
  }

  send(data: string | Buffer): void {
    this.io.queue(data);
  }

  private flush(): void {
    if (this.closed || this.stalled) return this.io.discard();
    this.shared.stats.bytesOut += this.io.flush();
  }

  private onDrain(): void {
    if (this.closed) return;
    this.resumeInput();
    if (!this.running && this.greeted) this.drive();
  }

  private resumeInput(): void {
    if (this.reader.buffered > INPUT_HIGH_WATER) return;
    this.io.resume();
  }

  private onData = (data: Buffer): void => {
    if (this.closed) return;
    const r = this.hooks.received(data, this.bytesIn);
    if (r === 'drop') return this.destroy();
    const chunk = r.chunk;
    if (r.thenDrop) this.dropAfterDrive = true;
    this.bytesIn += chunk.length;
    this.shared.stats.bytesIn += chunk.length;
    if (this.stalled) return;
    this.reader.push(chunk);
    if (!this.running && this.greeted && !this.io.writeBlocked) this.drive();
    else if (this.reader.buffered > INPUT_HIGH_WATER) this.io.pause();
  };

  // Processes every complete event; an async step (fault delay) suspends the loop and resumes it after.
  private drive(): void {
    this.running = true;
    while (!this.closed && !this.stalled && !this.io.writeBlocked) {
      const ev = this.reader.next();
      if (!ev) break;
      let p: Promise<void> | void;
      try {
        p = this.handleEvent(ev);
      } catch (err) {
        this.internalError(err);
        break;
      }
      if (p) {
        this.flush();
        if (this.reader.buffered > INPUT_HIGH_WATER) this.io.pause();
        p.then(() => this.drive(), (err) => this.internalError(err));
        return;
      }
      if (this.io.queuedBytes >= OUTPUT_FLUSH_BYTES) this.flush();
    }
    this.running = false;
    this.flush();
    if (this.dropAfterDrive) return this.destroy();
    this.resumeInput();
  }

  private internalError(err: unknown): void {
    this.running = false;
    // Never echo the error text to the client: it could hold message or credential bytes. The server's owner
    // sees it through the hook (serve --debug prints it), so a bug is not silently turned into a disconnect.
    const hook = this.shared.onInternalError;
    if (hook) {
      try {
        hook(err);
      } catch {
        // A failing debug hook must not take the server down with it.
      }
    }
    this.bye('SERVERBUG', 'Internal server error');
  }

  private handleEvent(ev: ReaderEvent): Promise<void> | void {
    switch (ev.kind) {
      case 'continue': {
        this.shared.stats.continuations++;
        const delay = this.hooks.continuationDelayMs(ev.verb);
        if (delay > 0) return sleep(delay).then(() => this.send('+ Ready for literal data\r\n'));
        this.send('+ Ready for literal data\r\n');
        return;
      }
      case 'reject':
        this.shared.stats.commands++;
        return this.finish(ev.tag, ev.verb, ev.rejection);
      case 'bad':
        if (ev.fatal) return this.bye(ev.code, ev.text);
        return this.finish(ev.tag ?? '*', '', { status: 'BAD', text: ev.text });
      case 'line':
        return this.login.response(ev.text);
      case 'command':
        return this.handleCommand(ev.command);
    }
  }

  private handleCommand(cmd: ParsedCommand): Promise<void> | void {
    this.shared.stats.commands++;
    this.commandCount++;
    const override = this.hooks.command(cmd, this.commandCount);
    if (override) return this.overridden(cmd, override);
    if (cmd.rejection) return this.finish(cmd.tag, cmd.verb, cmd.rejection);
    const lock = this.hooks.lock(cmd);
    if (!lock) return this.answer(cmd, this.execute(cmd));
    // Run holding the lock a hook gave it, given back before the reply (a server stores, unlocks, then answers).
    return lock.then(async (unlock) => {
      let reply: Reply | null;
      try {
        reply = this.execute(cmd);
      } finally {
        await unlock();
      }
      return this.answer(cmd, reply);
    });
  }

  /** Runs `cmd`; a command's own failure becomes its reply. */
  private execute(cmd: ParsedCommand): Reply | null {
    try {
      return this.run(cmd);
    } catch (err) {
      if (err instanceof CommandError) return errorReply(err);
      if (err instanceof StoreError) return { status: 'NO', code: err.code, text: err.message };
      throw err;
    }
  }

  private answer(cmd: ParsedCommand, reply: Reply | null): Promise<void> | void {
    if (reply === null) return; // answered later (AUTHENTICATE) or already (STARTTLS)
    return this.finish(cmd.tag, cmd.verb, reply);
  }

  /** Carries out what a hook decided instead of running the command (session-hooks.ts). */
  private overridden(cmd: ParsedCommand, o: CommandOverride): Promise<void> | void {
    switch (o.kind) {
      case 'stall':
        this.flush();
        this.stalled = true;
        return;
      case 'bye':
        return this.bye(o.code, o.text);
      case 'drop':
        this.flush();
        if (o.runFirst) {
          try { this.run(cmd); } catch { /* the client never learns the outcome either way */ }
        }
        this.io.discard();
        return this.destroy();
      case 'reply': {
        const p = this.finish(cmd.tag, cmd.verb, o.reply);
        if (!o.thenBye) return p;
        if (p) return p.then(() => this.bye(undefined, 'Closing connection'));
        return this.bye(undefined, 'Closing connection');
      }
    }
  }

  /** Sends the tagged reply, after the delay a hook asks for, and counts errors in a row. */
  private finish(tag: string, verb: string, reply: Reply): Promise<void> | void {
    if (this.state === 'selected') this.syncSelected();
    const delay = this.hooks.taggedDelayMs(verb);
    const line = `${tag} ${reply.status}${reply.code ? ` [${reply.code}]` : ''} ${reply.text}\r\n`;
    const after = () => {
      this.send(line);
      if (this.state === 'logout') {
        this.flush();
        this.close();
        return;
      }
      if (reply.status === 'OK') {
        this.errorsInRow = 0;
        return;
      }
      this.errorsInRow++;
      if (this.hooks.closeAfterErrors(this.errorsInRow)) this.bye(undefined, 'Too many invalid commands');
    };
    if (delay > 0) return sleep(delay).then(after);
    after();
  }

  private run(cmd: ParsedCommand): Reply | null {
    const s = this.state;
    switch (cmd.verb) {
      case 'CAPABILITY':
        this.send(`* CAPABILITY ${this.capabilities()}\r\n`);
        return ok('CAPABILITY completed');
      case 'NOOP':
      case 'CHECK':
        return ok(`${cmd.verb} completed`);
      case 'LOGOUT':
        this.send('* BYE Logging out\r\n');
        this.state = 'logout';
        return ok('LOGOUT completed');
      case 'ID':
        if (!this.shared.caps.id) break;
        this.send('* ID ("name" "mailmigrate-test-server")\r\n');
        return ok('ID completed');
      case 'STARTTLS':
        return this.startTls(cmd);
      case 'LOGIN':
        return this.login.login(tokenString(cmd.args[0], 'user name'), tokenString(cmd.args[1], 'password'));
      case 'AUTHENTICATE':
        return this.login.authenticate(cmd);
    }
    return runInMailboxState(this, cmd, s, (next) => (this.state = next));
  }

  syncSelected(): void {
    syncSelectedView(this);
  }

  // ---- login (session-login.ts decides) and STARTTLS

  /**
   * The state change of a login (RFC 3501 §3), counted against the user's connection cap until the session ends.
   * The pre-login deadline and bounds give way to the message-sized ones and the autologout timer.
   */
  private loggedIn(user: string): string {
    this.shared.userConnections.set(user, (this.shared.userConnections.get(user) ?? 0) + 1);
    this.user = user;
    this.state = 'authenticated';
    this.shared.stats.logins++;
    clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
    const limits = this.shared.limits;
    this.reader.setLimits({ maxLineBytes: MAX_LINE_BYTES, maxCommandBytes: limits.maxCommandBytes, maxDiscardBytes: limits.maxDiscardBytes });
    if (Number.isFinite(limits.idleTimeoutMs)) {
      // On the socket commands travel on (the TLS one after STARTTLS): every byte read or written resets it.
      this.io.idleTimeout(limits.idleTimeoutMs, () => this.bye(undefined, 'Autologout; idle for too long'));
    }
    return this.capabilities();
  }

  private startTls(cmd: ParsedCommand): Reply | null {
    if (!this.opts.tls || this.secure) throw new CommandError('BAD', 'STARTTLS not available');
    if (this.state !== 'not-authenticated') throw new CommandError('BAD', 'Already authenticated');
    this.send(`${cmd.tag} OK Begin TLS negotiation now\r\n`);
    this.flush();
    // Bytes sent after STARTTLS in the clear must not run as commands once TLS is up (command injection).
    this.reader.reset();
    this.wrapTls(this.opts.tls);
    return null;
  }

  private wrapTls(context: SecureContext): void {
    this.io.wrapTls(context);
    this.secure = true;
  }

  // ---- closing

  /** `* BYE` then close (RFC 3501 §7.1.5). */
  bye(code: string | undefined, text: string): void {
    if (this.closed) return;
    this.send(`* BYE${code ? ` [${code}]` : ''} ${text}\r\n`);
    this.flush();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.io.end();
    // A peer that never reads must not keep the server from closing.
    setTimeout(() => this.destroy(), 500).unref();
    this.release();
  }

  destroy(): void {
    this.io.destroy();
    this.release();
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.loginTimer);
    this.io.clearIdleTimeout();
    if (this.user !== undefined) {
      const n = (this.shared.userConnections.get(this.user) ?? 1) - 1;
      if (n <= 0) this.shared.userConnections.delete(this.user);
      else this.shared.userConnections.set(this.user, n);
    }
    this.shared.stats.activeConnections--;
    this.opts.onClose(this);
  }
}
