import type { Capabilities } from './command-context.js';

export interface CapabilityState {
  readonly authenticated: boolean;
  /** STARTTLS is configured and the session is not yet under TLS. */
  readonly startTlsOffered: boolean;
  /** LOGIN/AUTHENTICATE are refused until TLS (non-loopback listener without TLS). */
  readonly loginDisabled: boolean;
  readonly maxMessageBytes: number | undefined;
}

/** The CAPABILITY list for a session's state (RFC 3501 §7.2.1): it changes after STARTTLS and after login. Pure. */
export function capabilityList(c: Capabilities, s: CapabilityState): string {
  const out = ['IMAP4rev1'];
  if (!s.authenticated) {
    if (s.startTlsOffered) out.push('STARTTLS');
    if (s.loginDisabled) out.push('LOGINDISABLED');
    else {
      out.push('AUTH=PLAIN');
      if (c.saslIr) out.push('SASL-IR');
    }
  }
  if (c.literalPlus) out.push('LITERAL+');
  else if (c.literalMinus) out.push('LITERAL-');
  if (c.namespace) out.push('NAMESPACE');
  if (c.multiappend) out.push('MULTIAPPEND');
  if (c.uidplus) out.push('UIDPLUS');
  if (c.binary) out.push('BINARY');
  if (c.specialUse) out.push('SPECIAL-USE', 'CREATE-SPECIAL-USE');
  if (c.unselect) out.push('UNSELECT');
  if (c.id) out.push('ID');
  // RFC 7889: the largest message the server accepts, so a client can refuse locally instead of uploading it.
  if (s.maxMessageBytes !== undefined) out.push(`APPENDLIMIT=${s.maxMessageBytes}`);
  return out.join(' ');
}
