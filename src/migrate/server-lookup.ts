import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { ServerResponseError } from '../core/errors.js';
import type { FolderStatus } from './folder-check.js';
import type { CreateItem } from './folder-survey.js';
import { compareContent } from './content-match.js';
import { MAX_FETCHED } from './folder-index.js';

/** What the importer and the verifier need from the control plane (src/migrate/control-adapter.ts provides it). */
export interface ServerControl {
  delimiter(): Promise<string>;
  /** Personal namespace prefix (RFC 2342), "" when none. */
  namespacePrefix(): Promise<string>;
  listFolders(): Promise<Array<{ path: string; specialUse?: string | undefined }>>;
  /** Creates the folder (and parents) if missing, subscribed unless `subscribe` is false; true when it created it. */
  ensureFolder(path: string, specialUse?: string, subscribe?: boolean): Promise<boolean>;
  permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }>;
  /** STATUS of a folder, or undefined when the server has no such folder (as of the last LIST or CREATE). */
  folderStatus(path: string): Promise<FolderStatus | undefined>;
  // Bulk forms, pipelined (control-adapter.ts with a folder survey): each answers what it could settle and leaves
  // the rest to the one-at-a-time calls above, so a caller without them (a test's fake) works unchanged.
  /** Creates what is missing of `items`: path → 'created' | 'exists' for the ones settled. */
  ensureFolders?(items: readonly CreateItem[]): Promise<Map<string, 'created' | 'exists'>>;
  /** Takes the STATUS (and, unless told not to, PERMANENTFLAGS: a read-write SELECT) of these folders now, for
   *  folderStatus (permanentFlags) to answer from. */
  prefetch?(paths: readonly string[], what?: { readonly permanentFlags?: boolean }): Promise<void>;
  /** STATUS of these folders now (a checkpoint): path → status for the ones answered. */
  currentStatuses?(paths: readonly string[]): Promise<Map<string, FolderStatus | undefined>>;
  /** A currentStatuses() of `count` folders is coming (the checkpoint, once the last APPENDs are answered): what it
   *  needs may be dialled now, while they still are — beside the `poolConnections` still open. */
  expectStatuses?(count: number, poolConnections: number): void;
  /** One bulk FETCH of what the folder holds, on a freshly synchronised view. */
  indexFolder(
    path: string,
    onEntry: (e: { uid: number; size: number; messageId?: string | undefined; flags: string[] }) => void,
  ): Promise<{ exists: number; uidValidity: number }>;
  storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void>;
  findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>>;
  listMessages(path: string): Promise<Array<{ uid: number; size: number; messageId?: string | undefined }>>;
  fetchBody(path: string, uid: number): Promise<Buffer>;
}

/** SHA-256 of the normalized bytes, base64url, 22 characters: what the journal records of a message's content. */
export function fingerprintOf(data: Buffer): string {
  return (oneShot ? oneShot('sha256', data, 'base64url') : createHash('sha256').update(data).digest('base64url')).slice(0, 22);
}

// `crypto.hash` (Node ≥ 20.12): the same digest without a Hash object per message (issue 14: bytes allocated per
// message; the fingerprint is taken once for every message sent). createHash where it is missing.
type OneShot = (algorithm: string, data: Buffer, encoding: 'base64url') => string;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;

/**
 * Is this message in `mailbox`? Asked for a message whose APPEND may or may not have landed (the connection died
 * before the tagged reply). The look-up runs on a fresh view of the mailbox (the control plane synchronises before
 * searching), ignores UIDs already accounted for (`isClaimed`: messages this run appended or matched), and decides by
 * content (content-match.ts): identical bytes, or the server's own rewriting of these bytes. Returns the UID or
 * undefined.
 */
export async function findOnServer(
  control: ServerControl,
  mailbox: string,
  messageId: string | undefined,
  data: Buffer,
  isClaimed: (uid: number) => boolean = () => false,
): Promise<number | undefined> {
  let candidates: Array<{ uid: number; size: number }>;
  try {
    candidates = messageId
      ? await control.findByMessageId(mailbox, messageId)
      : (await control.listMessages(mailbox)).filter((m) => m.size === data.length && m.messageId === undefined);
  } catch (e) {
    // The folder may not exist (the crash came before its CREATE): a plain NO to SELECT means certainly absent.
    // Anything else (control connection lost, server restarting, timeout) says nothing about the message, and
    // guessing "absent" would re-send a message that is there: a duplicate. Rethrow.
    if (e instanceof ServerResponseError && e.status === 'NO' && e.retry !== 'later') return undefined;
    throw e;
  }
  const open = candidates.filter((c) => !isClaimed(c.uid));
  const ordered = [...open.filter((c) => c.size === data.length), ...open.filter((c) => c.size !== data.length)];
  let rewritten: number | undefined;
  for (const c of ordered.slice(0, MAX_FETCHED)) {
    const verdict = compareContent(data, await control.fetchBody(mailbox, c.uid));
    if (verdict === 'identical') return c.uid;
    if (verdict === 'rewritten') rewritten ??= c.uid;
  }
  return rewritten;
}
