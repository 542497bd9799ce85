// Text from outside — file names in a source tree, texts a server sends — is printed to an admin's terminal.
// Raw, a file name holding ESC sequences can clear the screen, move the cursor and forge a "Done" line; a CR can
// overwrite the line it is on; a bidi override can make `gpj.exe` read as `exe.jpg`. printable() escapes all of
// them, visibly, so the admin sees that the name is odd instead of being deceived by it.

export interface PrintableOptions {
  /** Keep LF as a line break (multi-line texts such as a stack); every other control is still escaped. */
  readonly keepNewlines?: boolean;
}

// C0 controls, DEL, C1 controls (0x9B is a one-byte CSI on some terminals), the Unicode line/paragraph
// separators, and the bidirectional embedding/override/isolate marks (CVE-2021-42574, "Trojan Source").
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEP_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  switch (c) {
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
  }
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with every character that could drive a terminal written as a visible escape (`\x1b`, `\r`, `\u202e`). */
export function printable(s: string, options: PrintableOptions = {}): string {
  const re = options.keepNewlines ? UNSAFE_KEEP_LF : UNSAFE;
  re.lastIndex = 0;
  return re.test(s) ? s.replace(re, escape) : s;
}
