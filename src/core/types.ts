// Shapes shared across layers. Layers below core import nothing from above; these are the contracts.

/** How a literal is announced (RFC 3501 §4.3 sync, RFC 7888 LITERAL+ / LITERAL-). */
export type LiteralMode = 'auto' | 'sync' | 'plus' | 'minus';
/** 'coalesce': what may go now leaves in one write; 'split': line, literal, CRLF as separate writes (imaplib). */
export type WriteMode = 'coalesce' | 'split';

/** One message ready for APPEND. */
export interface AppendMessage {
  readonly mailbox: string; // Unicode name; the compiler encodes it (modified UTF-7)
  readonly flags: readonly string[];
  readonly internalDate?: Date | undefined;
  readonly data: Buffer; // CRLF-normalized RFC 5322 bytes
  /** Send as a BINARY literal8 (RFC 3516): needed when the bytes contain NUL; only if the server offers BINARY. */
  readonly binary?: boolean | undefined;
}

/** Where a message's INTERNALDATE came from (reported, so a user can see why a date is what it is). */
export type InternalDateSource = 'mtime' | 'filename' | 'from-line' | 'date-header' | 'received-header' | 'none';

/** What a source reader yields for one message; bytes are read lazily. */
export interface SourceMessage {
  /** Stable identity: survives flag changes and re-runs (Maildir unique name; mbox file + offset + hash). */
  readonly id: string;
  /** Target folder as a list of names; [] is INBOX (the source root). */
  readonly folder: readonly string[];
  /** IMAP flags and keywords (\Seen, \Answered, $Forwarded, custom keywords). */
  readonly flags: readonly string[];
  readonly internalDate: Date | undefined;
  readonly internalDateSource: InternalDateSource;
  /** Raw size in the source, before normalization. */
  readonly size: number;
  /** For humans and error messages: a path, plus `@offset` for mbox. */
  readonly origin: string;
  /**
   * Marked deleted in the source but not yet expunged (Maildir `T`, mbox `Status: D`/`X-Status: D`, Thunderbird's
   * X-Mozilla-Status 0x0008). Readers still yield such messages and never put `\Deleted` into `flags`; the importer
   * decides (skip by default, or import with `\Deleted`).
   */
  readonly deleted: boolean;
  /** Reads and normalizes the bytes (bare LF → CRLF). Rejects with SourceError when the message is unusable. */
  read(): Promise<NormalizedMessage>;
}

export interface NormalizedMessage {
  readonly data: Buffer;
  readonly messageId: string | undefined;
  readonly date: Date | undefined;
  /** NUL bytes present: the transport must use BINARY (RFC 3516) or refuse the message. */
  readonly hasNul: boolean;
  /** Non-fatal repairs made (e.g. "bare LF converted"). */
  readonly warnings: readonly string[];
  /** SHA-256 of `data` (base64url, 22 chars), when the reader computed it already (off the main thread). */
  readonly fingerprint?: string | undefined;
}
