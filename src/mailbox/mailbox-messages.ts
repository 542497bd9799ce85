import { MailmigrateError } from '../core/errors.js';
import { normalizeMessageId, parseMessageIdHeader } from '../core/message-id.js';
import { formatSequenceSet } from '../imap/sequence-set.js';
import type { ControlSession } from './control-session.js';
import { folderKey } from './folder-catalog.js';

export interface MessageSummary {
  uid: number;
  size: number;
  messageId?: string;
  flags: string[];
  internalDate: Date;
}

/**
 * The messages of one mailbox, by UID: counts (STATUS), look-ups by Message-ID, the bulk index of sizes, flags and
 * Message-IDs that reconciliation and verification read, the stored bytes, and the few changes the import makes
 * (flags of messages already there, deleting a probe). Every read that could miss what another connection just
 * appended refreshes the view first (NOOP, RFC 3501 §6.1.2).
 */
export class MailboxMessages {
  constructor(private readonly session: ControlSession) {}

  async status(path: string): Promise<{ messages: number; uidNext: number; uidValidity: number }> {
    const { session } = this;
    const st = await session.run(`STATUS ${path}`, async () => {
      // Dovecot answers STATUS of the *selected* mailbox from this session's view, which does not include what other
      // connections appended since (measured: 1999 of 2000 after another connection's APPEND). NOOP syncs the view
      // (RFC 3501 §6.1.2) so a checkpoint or a check never records a stale count.
      const selected = session.client.mailbox;
      if (selected && folderKey(selected.path) === folderKey(path)) await session.sync();
      return session.client.status(path, { messages: true, uidNext: true, uidValidity: true });
    });
    if (!st) throw session.limitError(`STATUS ${path}`) ?? new MailmigrateError('E_STATUS', `STATUS ${path}: no answer (not connected?)`, 'now');
    return { messages: st.messages ?? 0, uidNext: st.uidNext ?? 0, uidValidity: Number(st.uidValidity ?? 0n) };
  }

  /**
   * PERMANENTFLAGS of `path` (RFC 3501 §7.1): which flags APPEND can store. `\*` means new keywords may be created.
   * Without PERMANENTFLAGS the RFC says all FLAGS are permanent; whether new keywords are we cannot know, so no.
   */
  async permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
    return this.session.withMailbox('SELECT', path, async () => {
      const mb = this.session.client.mailbox;
      if (!mb) throw new MailmigrateError('E_STATUS', `SELECT ${path}: no mailbox state`, 'now');
      const source = mb.permanentFlags ?? mb.flags;
      return { flags: [...source].filter((f) => f !== '\\*'), anyKeyword: source.has('\\*') };
    });
  }

  /** UIDs and sizes of messages in `path` whose Message-ID equals `messageId` (SEARCH HEADER is a substring match,
   *  RFC 3501 §6.4.4, so every hit is checked against the fetched header). */
  async findByMessageId(path: string, messageId: string): Promise<Array<{ uid: number; size: number }>> {
    const wanted = normalizeMessageId(messageId);
    if (!wanted) return [];
    const { session } = this;
    return session.withMailbox('UID SEARCH', path, async () => {
      // A fresh view first (issue 11): the mailbox may have been selected before this run's APPENDs, and Dovecot
      // searches the view it last synced — without NOOP (RFC 3501 §6.1.2) a message stored by an APPEND whose reply
      // was lost is "not there", and would be sent twice.
      await session.sync();
      const uids = await session.client.search({ header: { 'message-id': wanted } }, { uid: true });
      // imapflow answers a failed SEARCH (the connection died, the mailbox is no longer selected) with false or
      // undefined, not an error. Read as "no match", that sent a stored message again (a duplicate in the chaos
      // bench); only an array is an answer.
      if (!Array.isArray(uids)) throw new MailmigrateError('E_IMAP', `UID SEARCH ${path}: no answer (connection lost?)`, 'now');
      if (uids.length === 0) return [];
      const msgs = await session.client.fetchAll(uids.join(','), { uid: true, size: true, headers: ['message-id'] }, { uid: true });
      return msgs
        .filter((m) => {
          const id = m.headers ? parseMessageIdHeader(m.headers) : undefined;
          return normalizeMessageId(id) === wanted;
        })
        .map((m) => ({ uid: m.uid, size: m.size ?? 0 }))
        .sort((a, b) => a.uid - b.uid);
    });
  }

  async listMessages(path: string): Promise<MessageSummary[]> {
    const { session } = this;
    // The deadline grows with the folder: SELECT first (a short command), then the bulk FETCH under its own.
    const exists = (await this.status(path)).messages;
    return session.withMailbox('UID FETCH', path, async () => {
      // The mailbox may have been selected before other connections appended to it; NOOP brings EXISTS up to date
      // (RFC 3501 §6.1.2), and an empty mailbox needs no FETCH at all.
      await session.sync();
      if (!session.client.mailbox || session.client.mailbox.exists === 0) return [];
      const msgs = await session.client.fetchAll(
        '1:*',
        { uid: true, size: true, flags: true, internalDate: true, headers: ['message-id'] },
        { uid: true },
      );
      return msgs
        .map((m) => {
          const summary: MessageSummary = {
            uid: m.uid,
            size: m.size ?? 0,
            flags: m.flags ? [...m.flags] : [],
            internalDate: m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? 0),
          };
          const id = m.headers ? parseMessageIdHeader(m.headers) : undefined;
          if (id !== undefined) summary.messageId = id;
          return summary;
        })
        .sort((a, b) => a.uid - b.uid);
    }, session.bulkDeadline(exists));
  }

  /**
   * Adds and removes flags on messages by UID (`UID STORE +FLAGS.SILENT` / `-FLAGS.SILENT`, RFC 3501 §6.4.6), one
   * command per flag set — the cutover pass groups messages that need the same change.
   */
  async storeFlags(path: string, uids: readonly number[], add: readonly string[], remove: readonly string[]): Promise<void> {
    if (uids.length === 0 || (add.length === 0 && remove.length === 0)) return;
    const range = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
    const client = this.session.client;
    await this.session.withMailbox('UID STORE', path, async () => {
      if (add.length) await client.messageFlagsAdd(range, [...add], { uid: true, silent: true } as never);
      if (remove.length) await client.messageFlagsRemove(range, [...remove], { uid: true, silent: true } as never);
    });
  }

  /** The stored message bytes (BODY.PEEK[]: does not set \Seen). */
  async fetchBody(path: string, uid: number): Promise<Buffer> {
    return this.session.withMailbox(`UID FETCH ${uid}`, path, async () => {
      const msg = await this.session.client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      if (!msg || !msg.source) throw new MailmigrateError('E_NOT_FOUND', `no message with UID ${uid} in ${path}`, 'never');
      return msg.source;
    });
  }

  /**
   * The stored bytes of several messages in one `UID FETCH set (UID BODY.PEEK[])`, handed over one by one as they
   * arrive (verify's batched comparison). The caller bounds the batch (count and bytes by RFC822.SIZE); each body is
   * bounded by CONTROL_READER_LIMITS. `sizeHint`: the batch's total bytes, for the deadline.
   */
  async fetchBodies(path: string, uids: readonly number[], onBody: (uid: number, data: Buffer) => void, sizeHint = 0): Promise<void> {
    if (uids.length === 0) return;
    const range = formatSequenceSet([...new Set(uids)].sort((x, y) => x - y));
    await this.session.withMailbox('UID FETCH (BODY.PEEK[])', path, async () => {
      for await (const msg of this.session.client.fetch(range, { uid: true, source: true }, { uid: true })) {
        if (msg.source) onBody(msg.uid, msg.source);
      }
    }, this.session.bulkDeadline(uids.length, sizeHint));
  }

  /** Flags \Deleted and expunges that one UID (UID EXPUNGE when UIDPLUS is there, RFC 4315 §2.1). */
  async deleteMessage(path: string, uid: number): Promise<void> {
    await this.session.withMailbox(`UID EXPUNGE ${uid}`, path, async () => {
      await this.session.client.messageDelete(String(uid), { uid: true });
    });
  }
}
