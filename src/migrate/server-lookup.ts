import { createHash } from 'node:crypto';
import { ServerResponseError } from '../core/errors.js';

/** What the importer needs from the control plane (src/mailbox ControlPlane satisfies it). */
export interface ServerControl {
  delimiter(): Promise<string>;
  /** Personal namespace prefix (RFC 2342), "" when none. */
  namespacePrefix(): Promise<string>;
  listFolders(): Promise<Array<{ path: string; specialUse?: string | undefined }>>;
  /** Creates the folder (and parents) if missing; resolves true when it created it. */
  ensureFolder(path: string, specialUse?: string): Promise<boolean>;
  permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }>;
  findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>>;
  listMessages(path: string): Promise<Array<{ uid: number; size: number; messageId?: string | undefined }>>;
  fetchBody(path: string, uid: number): Promise<Buffer>;
}

export function fingerprintOf(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url').slice(0, 22);
}

/**
 * Is this message already in `mailbox`? Used for messages whose APPEND may or may not have landed.
 * Guarantee (documented in README): a server message counts as present when it has the same Message-ID (or,
 * without one, the same size) and its bytes hash to the same fingerprint. Returns its UID, or undefined.
 */
export async function findOnServer(
  control: ServerControl,
  mailbox: string,
  messageId: string | undefined,
  size: number,
  fingerprint: string | undefined,
): Promise<number | undefined> {
  let candidates: Array<{ uid: number; size: number }>;
  try {
    candidates = messageId
      ? await control.findByMessageId(mailbox, messageId)
      : (await control.listMessages(mailbox)).filter((m) => m.size === size);
  } catch (e) {
    // The folder may not exist (the crash came before its CREATE): a plain NO to SELECT means certainly absent.
    // Anything else (control connection lost, server restarting, timeout) says nothing about the message, and
    // guessing "absent" would re-send a message that is there: a duplicate (issue 7, restart test). Rethrow.
    if (e instanceof ServerResponseError && e.status === 'NO' && e.retry !== 'later') return undefined;
    throw e;
  }
  const sameSize = candidates.filter((c) => c.size === size);
  if (sameSize.length === 0) return undefined;
  // Same Message-ID and size is not proof: two different messages can share both (a re-sent draft, a broken
  // generator). With a fingerprint, only identical bytes count as present; fetching a body costs one round trip
  // and happens only for the few messages whose outcome was unknown.
  if (!fingerprint) return sameSize[0]!.uid;
  for (const c of sameSize) {
    const body = await control.fetchBody(mailbox, c.uid);
    if (fingerprintOf(body) === fingerprint) return c.uid;
  }
  return undefined;
}
