// Every bound the embedded server puts on a client, in one place (issue 13: "limits everywhere"). The server is
// reachable by anything that can connect (`serve --host 0.0.0.0`), so what a client can make it hold — bytes,
// connections, time — is bounded before authentication much more tightly than after.
//
// Measured reference (docs/embedded-server-limits.md has the commands): Dovecot 2.3 accepts a 4-byte literal in
// LOGIN before authentication, but answers `* BYE Literal size too large` and closes on a 100,000-byte one, sync or
// LITERAL+. We do the same: credentials fit, a message upload before login does not.
import { ConfigError } from '../core/errors.js';
import type { LiteralAnnouncement, Rejection } from './command-reader.js';

export interface ServerLimits {
  /** Largest message (APPEND literal); advertised as APPENDLIMIT (RFC 7889). */
  readonly maxMessageBytes: number;
  /** Literal bytes (plus line bytes) one command may carry after login: bounds a MULTIAPPEND's memory. */
  readonly maxCommandBytes: number;
  /** A LITERAL+ literal over maxMessageBytes is read and dropped up to this size (the client then gets
   *  NO [TOOBIG] and may go on); a bigger one closes the connection (RFC 7888 §4 lets the server do either). */
  readonly maxDiscardBytes: number;
  /** Close a connection that has not authenticated within this time (Dovecot's login processes do too). */
  readonly loginTimeoutMs: number;
  /** Close an authenticated connection idle this long (RFC 3501 §5.4: an autologout timer of ≥ 30 minutes). */
  readonly idleTimeoutMs: number;
  /** Connections from one remote address at once; the next one is greeted with BYE. */
  readonly maxConnectionsPerIp: number;
}

/** Before authentication: a line holds a LOGIN or an AUTHENTICATE PLAIN response, never a message. */
export const PREAUTH_MAX_LINE_BYTES = 8 * 1024;
/** Before authentication: one literal (a user name or password sent as a literal). Dovecot accepts 4 bytes and
 *  refuses 100,000; 4 KiB fits any credential. */
export const PREAUTH_MAX_LITERAL_BYTES = 4 * 1024;
/** Before authentication: a whole command, lines and literals together. */
export const PREAUTH_MAX_COMMAND_BYTES = 16 * 1024;
/** After authentication: one command line without its literals (as before this issue). */
export const MAX_LINE_BYTES = 64 * 1024;

export const DEFAULT_LIMITS: ServerLimits = {
  // 64 MiB: above the 35,882,577-byte APPENDLIMIT Gmail advertises and the 25–50 MB attachment limits of the large
  // providers, so no migrated message is refused by the embedded server that a real target would take.
  maxMessageBytes: 64 * 1024 * 1024,
  // A MULTIAPPEND batch of 50 messages of the bench's realistic mix (22 KB mean) is ~1 MB; 4 large messages fit.
  maxCommandBytes: 256 * 1024 * 1024,
  // Dropping bytes costs no memory, only time; 16 MiB of an oversized LITERAL+ upload is cheaper than a reconnect.
  maxDiscardBytes: 16 * 1024 * 1024,
  // Dovecot's login processes allow 3 minutes; a client that has not logged in after 60 s is not going to.
  loginTimeoutMs: 60_000,
  idleTimeoutMs: 30 * 60_000,
  // Well under the usual 1,024-descriptor limit: before this cap, 1,003 idle connections from one address
  // locked every other client out.
  maxConnectionsPerIp: 128,
};

export type LimitOptions = { readonly [K in keyof ServerLimits]?: number };

/** Fills defaults and checks values. Infinity turns a bound off (the scale experiments open thousands of
 *  connections from 127.0.0.1 on purpose). */
export function resolveLimits(o: LimitOptions): ServerLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof ServerLimits>) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v) || v < 1) throw new ConfigError(key, `must be a number ≥ 1 (Infinity = no limit), got ${String(v)}`);
    if (key === 'maxMessageBytes' && !Number.isFinite(v)) throw new ConfigError(key, 'must be finite: it is advertised as APPENDLIMIT');
    out[key] = v;
  }
  if (out.maxCommandBytes < out.maxMessageBytes) out.maxCommandBytes = out.maxMessageBytes;
  return out;
}

/** Before authentication only small literals are taken; a bigger one gets BYE before any of it is read. */
export function preAuthLiteralPolicy(a: LiteralAnnouncement): Rejection | null {
  if (a.size > PREAUTH_MAX_LITERAL_BYTES || a.commandBytes + a.size > PREAUTH_MAX_COMMAND_BYTES) {
    return { status: 'BAD', text: 'Literal size too large before authentication', close: true };
  }
  return null;
}
