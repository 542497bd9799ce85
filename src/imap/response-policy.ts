// One IMAP policy: what a NO/BAD answer means for a bulk importer — its error code (src/core/errors.ts), its retry
// class, and whether it speaks for the whole account (throttling: every connection goes quiet) or for this one
// command. Used by the APPEND transport (src/transport) and the imapflow control plane (src/mailbox), so both
// planes read a server's refusal the same way.
//
// Sources: RFC 5530 §3 (response codes), RFC 3501 §7.1 (TRYCREATE, ALERT), RFC 7889 (APPENDLIMIT → TOOBIG), and
// the code-less texts real servers send: Microsoft 365 "Request is throttled. Suggested Backoff Time: N
// milliseconds" (as BAD), Gmail "Account exceeded command or bandwidth limits", Cyrus "Over quota", Courier
// "NO Mailbox is full" / "quota exceeded".

import type { ErrorCode, RetryClass } from '../core/errors.js';

export interface ResponseMeaning {
  readonly code: ErrorCode;
  readonly retry: RetryClass;
  /** The refusal is about the account, not the message: hold every connection for the backoff. */
  readonly throttle: boolean;
  /** Server-suggested wait, when the text names one. */
  readonly backoffMs?: number;
  /** The response code, or the rule that matched a text, for logs. */
  readonly reason: string;
}

type Row = readonly [code: ErrorCode, retry: RetryClass, throttle: boolean];

// RFC 5530 §3 codes (and RFC 3501's TRYCREATE) → what a bulk importer can do about them.
const BY_CODE: Readonly<Record<string, Row>> = {
  TRYCREATE: ['E_TRYCREATE', 'now', false], // CREATE the mailbox, then retry at once
  OVERQUOTA: ['E_OVERQUOTA', 'never', false], // waiting does not free space within a run
  LIMIT: ['E_LIMIT', 'never', false],
  TOOBIG: ['E_TOO_BIG', 'never', false],
  NOPERM: ['E_NOPERM', 'never', false],
  CANNOT: ['E_CANNOT', 'never', false],
  NONEXISTENT: ['E_NONEXISTENT', 'never', false],
  ALREADYEXISTS: ['E_ALREADYEXISTS', 'never', false],
  AUTHENTICATIONFAILED: ['E_AUTH', 'never', false],
  AUTHORIZATIONFAILED: ['E_AUTH', 'never', false],
  CONTACTADMIN: ['E_CONTACTADMIN', 'never', false],
  PRIVACYREQUIRED: ['E_PRIVACYREQUIRED', 'never', false],
  EXPIRED: ['E_EXPIRED', 'never', false],
  CORRUPTION: ['E_CORRUPTION', 'never', false],
  BADCHARSET: ['E_PARSE', 'never', false],
  PARSE: ['E_PARSE', 'never', false],
  // Transient, and about the server or account rather than this message: the whole pool backs off.
  UNAVAILABLE: ['E_UNAVAILABLE', 'later', true],
  INUSE: ['E_INUSE', 'later', true],
  // Transient, possibly this message only: this command retries after a backoff, the others go on.
  SERVERBUG: ['E_SERVERBUG', 'later', false],
};

// Texts without a code, checked in order; the first match decides.
const BY_TEXT: ReadonlyArray<readonly [RegExp, Row, string]> = [
  [/over\s*quota|quota\s+(?:exceeded|full)|exceeded\s+(?:your|the|its)?\s*(?:storage\s+)?quota|mailbox\s+(?:is\s+)?full/i, ['E_OVERQUOTA', 'never', false], 'quota text'],
  [/throttl|try\s+(?:again\s+)?later|temporar|server\s+(?:is\s+)?busy|too\s+many|rate.?limit|exceeded\s+command\s+or\s+bandwidth/i, ['E_THROTTLED', 'later', true], 'throttling text'],
];

/** What a tagged NO or BAD means. `codeName`: the response code's name, upper-case, if any. */
export function classifyResponse(status: 'NO' | 'BAD', codeName: string | undefined, text: string): ResponseMeaning {
  const backoffMs = parseBackoffMs(text);
  const known = codeName ? BY_CODE[codeName.toUpperCase()] : undefined;
  if (known) return meaning(known, codeName!.toUpperCase(), known[1] === 'later' ? backoffMs : undefined);
  // A named backoff is throttling whatever the words around it (Microsoft 365 sends it as BAD).
  if (backoffMs !== undefined) return meaning(['E_THROTTLED', 'later', true], 'backoff time', backoffMs);
  for (const [re, row, reason] of BY_TEXT) if (re.test(text)) return meaning(row, reason, undefined);
  return meaning([status === 'NO' ? 'E_SERVER_NO' : 'E_SERVER_BAD', 'never', false], codeName ? `${status} [${codeName}]` : status, undefined);
}

function meaning(row: Row, reason: string, backoffMs: number | undefined): ResponseMeaning {
  const [code, retry, throttle] = row;
  return backoffMs === undefined ? { code, retry, throttle, reason } : { code, retry, throttle, reason, backoffMs };
}

/**
 * Server-suggested wait in milliseconds: Microsoft 365's "Suggested Backoff Time: N milliseconds" and similar
 * phrasings ("retry after N seconds", "backoff N ms"). Undefined when the text names no wait.
 */
export function parseBackoffMs(text: string): number | undefined {
  const m = /(?:backoff(?:\s+time)?|retry\s+(?:after|in)|try\s+again\s+in|wait)\s*:?\s*(\d{1,9}(?:\.\d+)?)\s*(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?)?\b/i.exec(
    text,
  );
  if (!m) return undefined;
  const n = Number(m[1]);
  // Microsoft 365 names milliseconds; a bare number is taken as milliseconds too, the unit its text uses.
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = /^(?:ms|msecs?|millis)/.test(unit) ? 1 : unit.startsWith('min') ? 60_000 : 1000;
  return Math.round(n * factor);
}
