// Meaning of response codes and NO/BAD answers: APPENDUID (RFC 4315 §3), CAPABILITY (RFC 3501 §7.1),
// and the retry class of a failure (RFC 5530 codes, plus the text-only throttling answers real servers send).

import type { RetryClass } from '../core/errors.js';
import { parseCapabilities, type Capabilities } from './capabilities.js';
import type { ResponseCode } from './response-reader.js';
import { parseSequenceSet } from './sequence-set.js';

export interface AppendUid {
  uidValidity: number;
  /** Expanded from the uid-set "5:7,9" (RFC 4315 §3); one per appended message, in MULTIAPPEND order. */
  uids: number[];
}

/** [APPENDUID <uidvalidity> <uid-set>] → AppendUid; undefined for another code or malformed arguments (the
 *  append still succeeded; only the UID information is missing). */
export function parseAppendUid(code: ResponseCode | undefined): AppendUid | undefined {
  if (!code || code.name !== 'APPENDUID') return undefined;
  const m = /^\s*(\d{1,10})\s+(\S+)\s*$/.exec(code.args);
  if (!m) return undefined;
  const uidValidity = Number(m[1]);
  if (uidValidity < 1 || uidValidity > 4294967295) return undefined;
  const uids = parseSequenceSet(m[2]!);
  return uids ? { uidValidity, uids } : undefined;
}

/** [CAPABILITY ...] (greeting or LOGIN/AUTHENTICATE OK) → Capabilities; undefined for another code. */
export function parseCapabilityCode(code: ResponseCode | undefined): Capabilities | undefined {
  if (!code || code.name !== 'CAPABILITY') return undefined;
  return parseCapabilities(code.args);
}

export interface FailureClass {
  retry: RetryClass;
  /** Server-suggested wait before retrying, when the answer names one. */
  backoffMs?: number;
  /** Short, stable-ish explanation for logs and error messages. */
  reason: string;
}

// RFC 5530 §3 codes and what a bulk importer can do about them.
const CODE_RETRY: Readonly<Record<string, RetryClass>> = {
  // RFC 3501 §7.1: the target mailbox does not exist; CREATE it and retry at once.
  TRYCREATE: 'now',
  // Resource limits that waiting does not lift within a run.
  OVERQUOTA: 'never',
  LIMIT: 'never',
  TOOBIG: 'never',
  NOPERM: 'never',
  CANNOT: 'never',
  NONEXISTENT: 'never',
  ALREADYEXISTS: 'never',
  AUTHENTICATIONFAILED: 'never',
  AUTHORIZATIONFAILED: 'never',
  CONTACTADMIN: 'never',
  PRIVACYREQUIRED: 'never',
  EXPIRED: 'never',
  CORRUPTION: 'never',
  BADCHARSET: 'never',
  PARSE: 'never',
  // Transient server-side conditions.
  UNAVAILABLE: 'later',
  INUSE: 'later',
  SERVERBUG: 'later',
};

// Text of transient refusals from servers that send no code: Microsoft 365 ("Request is throttled. Suggested
// Backoff Time: 201317 milliseconds" — sent as BAD, see facts.md), Gmail ("Account exceeded command or
// bandwidth limits"), generic "try again later" / "temporarily" / "server busy".
const TRANSIENT_TEXT = /throttl|try (?:again )?later|temporar|server (?:is )?busy|too many|rate.?limit|exceeded command or bandwidth/i;

/**
 * Retry class of a NO/BAD answer: TRYCREATE → 'now' (after CREATE), OVERQUOTA/LIMIT/TOOBIG → 'never',
 * UNAVAILABLE/INUSE/SERVERBUG → 'later', throttling text → 'later' (with backoffMs when the text names one),
 * plain BAD → 'never', NO with an unknown or no code → 'never' unless the text says the refusal is temporary.
 */
export function classifyFailure(status: 'NO' | 'BAD', code: ResponseCode | undefined, text: string): FailureClass {
  const backoffMs = parseBackoffMs(text);
  const known = code ? CODE_RETRY[code.name] : undefined;
  if (known !== undefined) {
    const r: FailureClass = { retry: known, reason: code!.name };
    if (backoffMs !== undefined && known === 'later') r.backoffMs = backoffMs;
    return r;
  }
  // Throttling is recognised by text before status: Microsoft 365 sends it as BAD.
  if (backoffMs !== undefined || TRANSIENT_TEXT.test(text)) {
    const r: FailureClass = { retry: 'later', reason: backoffMs !== undefined ? 'THROTTLED' : 'TRANSIENT' };
    if (backoffMs !== undefined) r.backoffMs = backoffMs;
    return r;
  }
  const prefix = code ? `${status} [${code.name}]` : status;
  return { retry: 'never', reason: prefix };
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
