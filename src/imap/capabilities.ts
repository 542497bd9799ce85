// Server capabilities (RFC 3501 §7.2.1, RFC 9051 §7.2.2) as a typed view over the atoms a server announces,
// either in an untagged CAPABILITY response or in a [CAPABILITY ...] response code (greeting, LOGIN OK).

export interface Capabilities {
  /** Upper-case atoms exactly as sent (after upper-casing), e.g. 'AUTH=PLAIN', 'APPENDLIMIT=35882577'. */
  readonly raw: ReadonlySet<string>;
  /** Case-insensitive. A name without '=' also matches parameterised atoms: has('AUTH') is true for AUTH=PLAIN. */
  has(name: string): boolean;
  readonly imap4rev1: boolean;
  readonly imap4rev2: boolean;
  /** LITERAL+ (RFC 7888 §3): non-synchronizing literals of any size. */
  readonly literalPlus: boolean;
  /** LITERAL- (RFC 7888 §4): non-synchronizing literals up to 4096 bytes. True for IMAP4rev2 servers too, because
   *  RFC 9051 §1 folds LITERAL- into the base protocol. */
  readonly literalMinus: boolean;
  /** MULTIAPPEND (RFC 3502). */
  readonly multiappend: boolean;
  /** UIDPLUS (RFC 4315): APPENDUID codes. True for IMAP4rev2 too (RFC 9051 includes APPENDUID). */
  readonly uidplus: boolean;
  /** BINARY (RFC 3516): `~{n}` literals in APPEND. */
  readonly binary: boolean;
  readonly starttls: boolean;
  /** LOGINDISABLED (RFC 3501 §6.2.3): LOGIN must not be used. */
  readonly loginDisabled: boolean;
  /** SASL-IR (RFC 4959): AUTHENTICATE may carry an initial response. */
  readonly saslIR: boolean;
  /** SPECIAL-USE (RFC 6154). */
  readonly specialUse: boolean;
  /** COMPRESS=DEFLATE (RFC 4978). */
  readonly compress: boolean;
  /** UTF8=ACCEPT (RFC 6855). */
  readonly utf8Accept: boolean;
  /** APPENDLIMIT=n (RFC 7889 §3). A bare APPENDLIMIT means "per-mailbox limits"; then this is undefined while
   *  has('APPENDLIMIT') is true. */
  readonly appendLimit: number | undefined;
  /** Mechanisms from AUTH=... atoms, upper-case, in the order sent. */
  readonly authMechanisms: readonly string[];
}

class CapabilitySet implements Capabilities {
  readonly raw: ReadonlySet<string>;
  readonly imap4rev1: boolean;
  readonly imap4rev2: boolean;
  readonly literalPlus: boolean;
  readonly literalMinus: boolean;
  readonly multiappend: boolean;
  readonly uidplus: boolean;
  readonly binary: boolean;
  readonly starttls: boolean;
  readonly loginDisabled: boolean;
  readonly saslIR: boolean;
  readonly specialUse: boolean;
  readonly compress: boolean;
  readonly utf8Accept: boolean;
  readonly appendLimit: number | undefined;
  readonly authMechanisms: readonly string[];
  // Names of parameterised atoms ('AUTH' for 'AUTH=PLAIN'), so has('AUTH') needs no scan.
  private readonly prefixes: ReadonlySet<string>;

  constructor(atoms: readonly string[]) {
    const raw = new Set<string>();
    const prefixes = new Set<string>();
    const mechs: string[] = [];
    let appendLimit: number | undefined;
    for (const atom of atoms) {
      raw.add(atom);
      const eq = atom.indexOf('=');
      if (eq > 0) {
        const name = atom.slice(0, eq);
        const value = atom.slice(eq + 1);
        prefixes.add(name);
        if (name === 'AUTH' && value && !mechs.includes(value)) mechs.push(value);
        if (name === 'APPENDLIMIT' && /^\d{1,15}$/.test(value)) appendLimit = Number(value);
      }
    }
    this.raw = raw;
    this.prefixes = prefixes;
    this.authMechanisms = mechs;
    this.appendLimit = appendLimit;
    this.imap4rev1 = raw.has('IMAP4REV1');
    this.imap4rev2 = raw.has('IMAP4REV2');
    this.literalPlus = raw.has('LITERAL+');
    this.literalMinus = raw.has('LITERAL-') || this.imap4rev2;
    this.multiappend = raw.has('MULTIAPPEND');
    this.uidplus = raw.has('UIDPLUS') || this.imap4rev2;
    this.binary = raw.has('BINARY');
    this.starttls = raw.has('STARTTLS');
    this.loginDisabled = raw.has('LOGINDISABLED');
    this.saslIR = raw.has('SASL-IR');
    this.specialUse = raw.has('SPECIAL-USE');
    this.compress = raw.has('COMPRESS=DEFLATE');
    this.utf8Accept = raw.has('UTF8=ACCEPT') || raw.has('UTF8=ONLY');
  }

  has(name: string): boolean {
    const n = name.toUpperCase();
    return this.raw.has(n) || (!n.includes('=') && this.prefixes.has(n));
  }
}

/** Parses the atoms after "CAPABILITY" (untagged response text or response-code args). Whitespace-separated,
 *  upper-cased; a leading "CAPABILITY" word, if a caller passes it, is dropped. */
export function parseCapabilities(text: string): Capabilities {
  const atoms = text
    .trim()
    .split(/\s+/)
    .filter((a) => a.length > 0)
    .map((a) => a.toUpperCase());
  if (atoms[0] === 'CAPABILITY') atoms.shift();
  return new CapabilitySet(atoms);
}
