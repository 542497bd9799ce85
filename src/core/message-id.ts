// The one Message-ID normaliser (issue 13: "one place for each fact"). The importer, the reconcile index, the
// unknown-outcome look-up and `verify` must agree exactly on when two Message-ID header values are the same id, or a
// message found by one would be missed by another.

/**
 * The msg-id of a Message-ID header value (RFC 5322 §3.6.4): the text inside the first `<…>` (comments and white
 * space around it dropped), else the trimmed value; undefined when empty. Case is kept: the id-left part is
 * case-sensitive, and servers return the bytes as stored.
 */
export function normalizeMessageId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  const m = /<([^<>\s]+)>/.exec(id);
  const v = (m ? m[1]! : id).trim();
  return v === '' ? undefined : v;
}

/** Value of the Message-ID header in a header block (unfolded, RFC 5322 §2.2.3), or undefined. */
export function parseMessageIdHeader(headers: Buffer | string): string | undefined {
  const text = (typeof headers === 'string' ? headers : headers.toString('latin1')).replace(/\r?\n[ \t]+/g, ' ');
  const m = /^message-id[ \t]*:[ \t]*(.*?)[ \t]*$/im.exec(text);
  return m && m[1] ? m[1] : undefined;
}
