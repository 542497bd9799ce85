// Logging in on one session of the embedded server: LOGIN, and AUTHENTICATE PLAIN (RFC 3501 §6.2.2, RFC 4616) with
// its initial response (SASL-IR, RFC 4959) or its one continuation line. It decides; the session (session.ts) owns
// the state change that follows (`loggedIn`) and the reply on the wire. The checks themselves are credentials.ts.
import {
  CommandError, errorReply, ok, tokenString, type Reply, type ServerShared,
} from './command-context.js';
import type { ParsedCommand } from './command-reader.js';
import { checkPassword, connectionCapRefusal, decodeSaslPlain } from './credentials.js';

/** What a login needs of its session. */
export interface LoginHost {
  readonly shared: ServerShared;
  /** The session is in the not-authenticated state (RFC 3501 §3.1). */
  notAuthenticated(): boolean;
  /** Credentials may not be sent on this connection yet (the listener requires TLS first). */
  loginDisabled(): boolean;
  send(data: string): void;
  /** The next client line is an AUTHENTICATE response, not a command. */
  expectLine(): void;
  finish(tag: string, verb: string, reply: Reply): Promise<void> | void;
  bye(code: string | undefined, text: string): void;
  /** `user` is logged in: the session enters the authenticated state. Returns its new capabilities. */
  loggedIn(user: string): string;
}

export class SessionLogin {
  /** The tag of an AUTHENTICATE waiting for its response line. */
  private pendingTag: string | undefined;

  constructor(private readonly host: LoginHost) {}

  login(user: string, pass: string): Reply | null {
    const host = this.host;
    const shared = host.shared;
    if (!host.notAuthenticated()) throw new CommandError('BAD', 'Already authenticated');
    if (host.loginDisabled()) throw new CommandError('NO', 'Login requires TLS on this listener', 'PRIVACYREQUIRED');
    checkPassword(shared, user, pass);
    const refusal = connectionCapRefusal(shared, user);
    if (refusal !== undefined) {
      if (shared.connectionCapReply === 'bye') {
        host.bye('UNAVAILABLE', refusal);
        return null;
      }
      throw new CommandError('NO', refusal, 'UNAVAILABLE');
    }
    return ok('Logged in', `CAPABILITY ${host.loggedIn(user)}`);
  }

  authenticate(cmd: ParsedCommand): Reply | null {
    const host = this.host;
    if (!host.notAuthenticated()) throw new CommandError('BAD', 'Already authenticated');
    const mech = tokenString(cmd.args[0], 'mechanism').toUpperCase();
    if (mech !== 'PLAIN') throw new CommandError('NO', 'Unsupported authentication mechanism', 'CANNOT');
    if (host.loginDisabled()) throw new CommandError('NO', 'Authentication requires TLS on this listener', 'PRIVACYREQUIRED');
    if (cmd.args[1]) {
      if (!host.shared.caps.saslIr) throw new CommandError('BAD', 'SASL-IR is not enabled');
      return this.plain(tokenString(cmd.args[1]));
    }
    // RFC 3501 §6.2.2: an empty challenge, then the client's base64 response on its own line.
    this.pendingTag = cmd.tag;
    host.send('+ \r\n');
    host.expectLine();
    return null;
  }

  /** The client's line answering the AUTHENTICATE challenge: `*` cancels (RFC 3501 §6.2.2). */
  response(line: string): Promise<void> | void {
    const tag = this.pendingTag ?? '*';
    this.pendingTag = undefined;
    if (line === '*') return this.host.finish(tag, 'AUTHENTICATE', { status: 'BAD', text: 'Authentication cancelled' });
    let reply: Reply | null;
    try {
      reply = this.plain(line);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      reply = errorReply(err);
    }
    if (reply) return this.host.finish(tag, 'AUTHENTICATE', reply);
  }

  private plain(b64: string): Reply | null {
    const { user, pass } = decodeSaslPlain(b64);
    return this.login(user, pass);
  }
}
