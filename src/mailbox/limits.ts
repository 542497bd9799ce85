// Every bound of the control plane in one place (issue 13/16): a hostile or broken server must not grow our memory
// without bound, and a server that stops answering must end in a typed error, not a hang.

import { MESSAGE_READER_LIMITS } from '../imap/response-reader.js';

/**
 * imapflow's reader limits (its defaults are 1 GB per line and literal, 2 GB per response): the bounds of any
 * connection that reads whole messages (src/imap/response-reader.ts MESSAGE_READER_LIMITS, where the reasons are).
 * Exceeding one fails the connection with a ProtocolError (imapflow-errors.ts), parsing nothing more.
 */
export const CONTROL_READER_LIMITS = MESSAGE_READER_LIMITS;

/**
 * Deadline of one control-plane command (SELECT, STATUS, LIST, CREATE, SEARCH, STORE, a FETCH of one message...),
 * from the call to its tagged answer. Generous: Dovecot answers these in well under 10 ms on loopback; a server
 * busy with a big import may take seconds; one that has not answered in a minute will not.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/**
 * Bulk commands (a UID FETCH 1:* of a folder, a batch of bodies) get this much more time per 1,000 messages and
 * per MiB on top of the deadline above. Measured (src/migrate/bulk-index.ts): a 10,000-message folder read through
 * imapflow in 3.6 s on loopback, 0.36 s per 1,000; 2 s leaves room for a slower server. 1 s per MiB is 8 Mbit/s.
 */
export const BULK_MS_PER_1000_MESSAGES = 2_000;
export const BULK_MS_PER_MIB = 1_000;
