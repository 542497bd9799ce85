// Meaning of response codes and NO/BAD answers: APPENDUID (RFC 4315 §3), CAPABILITY (RFC 3501 §7.1),
// and the retry class of a failure (delegated to the one policy table, response-policy.ts).

import type { RetryClass } from '../core/errors.js';
import { parseCapabilities, type Capabilities } from './capabilities.js';
import type { ResponseCode } from './response-reader.js';
import { classifyResponse, parseBackoffMs } from './response-policy.js';
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

/**
 * Retry class of a NO/BAD answer — the retry half of the one policy table (src/imap/response-policy.ts), kept for
 * callers that need only that: TRYCREATE → 'now' (after CREATE), OVERQUOTA/LIMIT/TOOBIG → 'never',
 * UNAVAILABLE/INUSE/SERVERBUG and throttling texts → 'later' (with backoffMs when the text names one).
 */
export function classifyFailure(status: 'NO' | 'BAD', code: ResponseCode | undefined, text: string): FailureClass {
  const m = classifyResponse(status, code?.name, text);
  return m.backoffMs === undefined ? { retry: m.retry, reason: m.reason } : { retry: m.retry, reason: m.reason, backoffMs: m.backoffMs };
}

export { parseBackoffMs };
