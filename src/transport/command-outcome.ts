import { ConnectionClosedError, type MailmigrateError, TimeoutError } from '../core/errors.js';
import type { ResponseCode, ResponseItem } from '../imap/response-reader.js';
import { publishRecord } from './record-channel.js';
import type { TimingRecord } from './timing.js';

// How a command ends, apart from the queue that runs it (split from command-queue.ts, issue 13): what a caller gets
// for a tagged OK, which error a command gets when its connection fails — the line between "its bytes left, the
// outcome on the server is unknown" and "never sent, safe to send elsewhere" that resume relies on — and the guarded
// publication of its timing record, which no observer can turn into a transport failure.

export interface TaggedResult {
  readonly status: 'OK';
  readonly code: ResponseCode | undefined;
  readonly text: string;
  /** The untagged responses of the types this command asked for (EnqueueOptions.untagged), in arrival order. */
  readonly untagged: ResponseItem[];
  readonly record: TimingRecord;
}

/**
 * Publishes a finished command's record to `onRecord` and the diagnostics channel. Each observer runs guarded: one
 * that throws (a --trace writer on a full disk) is reported through `onError` and stops nothing.
 */
export function notifyObservers(
  r: TimingRecord,
  onRecord: ((r: TimingRecord) => void) | undefined,
  onError: ((err: unknown, r: TimingRecord) => void) | undefined,
): void {
  try {
    onRecord?.(r);
  } catch (err) {
    observerFailed(onError, err, r);
  }
  try {
    publishRecord(r);
  } catch (err) {
    observerFailed(onError, err, r);
  }
}

function observerFailed(onError: ((err: unknown, r: TimingRecord) => void) | undefined, err: unknown, r: TimingRecord): void {
  try {
    onError?.(err, r);
  } catch {
    // The error reporter itself failed: nothing more can be done without risking the transport.
  }
}

/** The error an in-flight command gets: its bytes left, so the outcome on the server is unknown. */
export function sentError(err: MailmigrateError, inFlight: number, record: TimingRecord): MailmigrateError {
  if (err instanceof TimeoutError) return new TimeoutError(err.phase, err.timeoutMs, record, true);
  const bye = err instanceof ConnectionClosedError ? err.bye : undefined;
  return new ConnectionClosedError(err.message, inFlight, bye, { cause: err, sent: true });
}

/** The error a never-started command gets: safe to send again elsewhere. */
export function notSentError(err: MailmigrateError, inFlight: number): MailmigrateError {
  const bye = err instanceof ConnectionClosedError ? err.bye : undefined;
  return new ConnectionClosedError(`not sent: ${err.message}`, inFlight, bye, { cause: err, sent: false });
}
