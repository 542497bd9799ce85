// Every bound of the control plane in one place (issue 13/16): a hostile or broken server must not grow our memory
// without bound, and a server that stops answering must end in a typed error, not a hang.

/**
 * imapflow's reader limits (its defaults are 1 GB per line and literal, 2 GB per response). A control-plane line is a
 * LIST, STATUS, SEARCH or FETCH response line: a few hundred bytes, a SEARCH by Message-ID a handful of UIDs. The
 * largest literal we ask for is a whole message (verify's and the unknown-outcome look-up's BODY.PEEK[]); the sources
 * refuse messages over 64 MiB (DEFAULT_MAX_MESSAGE_BYTES), and a server may add headers, so 80 MiB leaves room.
 * Exceeding one fails the connection with a ProtocolError (imapflow-errors.ts), parsing nothing more.
 */
export const CONTROL_READER_LIMITS = {
  maxLineLength: 1024 * 1024,
  maxLiteralSize: 80 * 1024 * 1024,
  maxResponseSize: 82 * 1024 * 1024,
} as const;

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
