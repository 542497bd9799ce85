// Checking a login: the password, the per-user connection cap, and SASL PLAIN's encoding. Pure functions over the
// server's shared state; the session owns the state change that follows.
import { CommandError, type ServerShared } from './command-context.js';

/** Throws NO [AUTHENTICATIONFAILED] unless `pass` is `user`'s password. Never says which of the two was wrong. */
export function checkPassword(shared: ServerShared, user: string, pass: string): void {
  const expected = Object.prototype.hasOwnProperty.call(shared.users, user) ? shared.users[user] : undefined;
  if (expected === undefined || expected !== pass) {
    shared.stats.failedLogins++;
    throw new CommandError('NO', 'Authentication failed', 'AUTHENTICATIONFAILED');
  }
}

/** The refusal text when `user` already has as many sessions as allowed, else undefined. */
export function connectionCapRefusal(shared: ServerShared, user: string): string | undefined {
  const cap = shared.maxConnectionsPerUser;
  if (cap === undefined || (shared.userConnections.get(user) ?? 0) < cap) return undefined;
  // Dovecot's wording for mail_max_userip_connections (docs/embedded-server-limits.md lists the other bounds).
  return `Maximum number of connections from user+IP exceeded (mail_max_userip_connections=${cap})`;
}

/** SASL PLAIN (RFC 4616): base64 of authzid NUL authcid NUL passwd; "=" is an empty response. */
export function decodeSaslPlain(b64: string): { user: string; pass: string } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new CommandError('BAD', 'Invalid base64');
  const parts = Buffer.from(b64 === '=' ? '' : b64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) throw new CommandError('NO', 'Invalid PLAIN response', 'AUTHENTICATIONFAILED');
  const [authz, user, pass] = parts as [string, string, string];
  if (authz !== '' && authz !== user) throw new CommandError('NO', 'Proxy authorization not supported', 'AUTHORIZATIONFAILED');
  return { user, pass };
}
