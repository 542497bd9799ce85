import { literalPlusMaxForPath } from '../imap/literal-policy.js';
import type { AdaptChange, AdaptInput, AdaptSettings } from './adapt-policy.js';
import { fmt, kib } from './adapt-units.js';

// The changes taken before the first APPEND, from the capabilities, the login's round trip and the source's folder
// count alone: no timing record is needed, so no analysis either. Apart from the looks (adapt-policy.ts, which reads
// the timing records with src/analysis) so that import-run.ts can decide how many connections to dial from the first
// connection's capabilities without loading the analysis before the first byte has gone out (issue 14, start-up).

/**
 * The one change taken before the first APPEND, from the capabilities alone: a server with neither LITERAL+ nor
 * LITERAL- makes every message wait for its '+', which it sends only once it reaches that command, so a second
 * command in flight can gain no more than its command line's trip — and on Courier it cost a delayed ACK per
 * message (22 msg/s at depth 2 against 75–181 at depth 1 here, docs/adaptation.md). mbsync never sends past a command
 * awaiting a continuation either (drv_imap.c, cmd_sendable). Measuring it first cost the first look's 1.5 s at the
 * stalled rate (~30 messages of a run that then goes at 100+ msg/s). With LITERAL- (non-synchronizing only up to
 * 4 KiB) it is left to the measured continuation rule.
 */
export function startChange(capabilities: AdaptInput['capabilities'], current: AdaptSettings): AdaptChange | undefined {
  if (capabilities.literalPlus || capabilities.literalMinus || current.pipelineDepth <= 1) return undefined;
  return {
    setting: 'pipelineDepth',
    from: current.pipelineDepth,
    to: 1,
    reason: `the server offers neither LITERAL+ nor LITERAL-: every message waits for its "+", which comes only once the command before it is done; depth 1 from the start (Courier: 22 msg/s at depth 2)`,
  };
}

/**
 * The second change taken before the first APPEND: a server with neither LITERAL+/LITERAL- nor MULTIAPPEND gets one
 * connection per folder from the start. Courier is such a server, and its folder lock (tmp/courier.lock, taken by
 * every APPEND to assign its UID) cannot be left to the measured lock rule, which acts on a wait once it has settled:
 * the first shared APPEND can itself be the one that waits minutes. A waiter sleeps in Gamin (FAM) until the lock
 * file is deleted, bounded only by 120 s (Courier's maildir_lock/maildirwatch_unlock); when Gamin loses that event
 * (its server restarted: in our test harness, 3 of 10 loaded full suites) the APPEND waits the whole 120 s with no
 * lock held by anyone (strace: pselect with 103 s, then 46 s left, no tmp/courier.lock in any folder), and without
 * Gamin the waiter polls once a second and can be starved by the sending connection. Measured (docs/adaptation.md):
 * 2 connections at depth 1 in one folder 97 msg/s with 1–3 s lock waits against 181 with one. One connection per
 * folder never waits on a lock of ours, and the connections still work side by side where two folders meet. With
 * LITERAL+ or MULTIAPPEND offered (Dovecot, Cyrus) the measured lock rule decides, as before.
 */
export function startFolderChange(capabilities: AdaptInput['capabilities'], current: AdaptSettings): AdaptChange | undefined {
  if (capabilities.literalPlus || capabilities.literalMinus || capabilities.multiappend) return undefined;
  if (current.connections < 2 || current.connectionsPerFolder === 1) return undefined;
  return {
    setting: 'connectionsPerFolder',
    from: current.connectionsPerFolder,
    to: 1,
    reason: 'the server offers neither LITERAL+/LITERAL- nor MULTIAPPEND (Courier\'s signature): one connection per folder from the start, so no APPEND waits on the folder lock of another of ours (Courier: 97 msg/s with 2 connections in one folder, 181 with one; a lock waiter that misses the release sleeps 120 s); a tree is filled as many folders at once as there are connections (--folders-at-once)',
  };
}

/**
 * Taken before the pool dials, where startFolderChange applies (one connection a folder): a run into `folders` source
 * folders never has more than that many connections in use, and the others would only log in and out. Measured on
 * Courier, 1000 messages in one folder with the defaults: five logins (the pool's three, the folder survey, the
 * control plane), two of them pool connections that sent LOGIN, CAPABILITY and LOGOUT and nothing else — each a fork
 * of couriertcpd, authdaemon's password check and an imapd, and a line in the admin's log (docs/adaptation.md, "The
 * folder list over a path"). Undefined when the folder count is not known (several sources) or the rule does not
 * apply. With --no-adapt, advice only, like startFolderChange: the given connections may then share a folder.
 */
export function startConnectionsChange(capabilities: AdaptInput['capabilities'], current: AdaptSettings, folders: number | undefined): AdaptChange | undefined {
  if (folders === undefined || !startFolderChange(capabilities, current)) return undefined;
  const to = Math.max(1, Math.min(current.connections, folders));
  if (to >= current.connections) return undefined;
  return {
    setting: 'connections',
    from: current.connections,
    to,
    reason: `one connection per folder on this server (connectionsPerFolder, below) and ${folders} source folder${folders === 1 ? '' : 's'}: ${to} connection${to === 1 ? '' : 's'} can be used, the others would only log in and out`,
  };
}

/**
 * The third change taken before the first APPEND: over a path (the login's round trip `rttMs`, judged a path by the
 * caller), a LITERAL+ limit of what the path would upload in one round trip at PATH_ASSUMED_BYTES_PER_MS (settings.ts)
 * instead of 100 KiB. Until the first look the run has no measured bandwidth, and over the 40 ms relay the first
 * commands were where the run lost most: 3.5 synchronizing literals per MULTIAPPEND of 50, a round trip each, 550
 * messages in the first 600 ms against 4450 in the next 800 (docs/adaptation.md "The first commands over a path").
 * Only with LITERAL+ offered and the literal mode 'auto' (a forced mode is the user's); never lower than the limit in
 * force; the first look replaces it with the measured one (adapt(), literalPlusAssumed).
 */
export function pathStartChange(
  capabilities: AdaptInput['capabilities'],
  current: AdaptSettings,
  rttMs: number,
  assumedBytesPerMs: number,
  ceilingBytes: number,
): AdaptChange | undefined {
  if (!capabilities.literalPlus || current.literalMode !== 'auto') return undefined;
  const limit = literalPlusMaxForPath(rttMs, assumedBytesPerMs, ceilingBytes, current.literalPlusMaxBytes);
  if (limit <= current.literalPlusMaxBytes) return undefined;
  return {
    setting: 'literalPlusMaxBytes',
    from: current.literalPlusMaxBytes,
    to: limit,
    reason: `round trip ${fmt(rttMs)} ms at login: a synchronizing literal would cost a round trip on every message above ${kib(current.literalPlusMaxBytes)}; LITERAL+ up to ${kib(limit)} (what ${fmt((assumedBytesPerMs * 8) / 1000)} Mbit/s uploads in one round trip, assumed until the first look measures the path)`,
  };
}
