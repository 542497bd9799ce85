// Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3). Hand-written: it is ~50 lines and the npm
// packages for it are unmaintained or pull in a full UTF-7 codec we do not need.
// Printable US-ASCII (0x20–0x7e) stands for itself except '&', written "&-"; every other run of characters
// is UTF-16BE, base64 with ',' in place of '/', no padding, between '&' and '-'.

function flushRun(run: string, out: string[]): void {
  if (!run) return;
  const buf = Buffer.alloc(run.length * 2);
  for (let i = 0; i < run.length; i++) buf.writeUInt16BE(run.charCodeAt(i), i * 2);
  out.push('&', buf.toString('base64').replace(/=+$/, '').replace(/\//g, ','), '-');
}

export function encodeMutf7(name: string): string {
  const out: string[] = [];
  let run = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c <= 0x7e) {
      flushRun(run, out);
      run = '';
      out.push(ch === '&' ? '&-' : ch);
    } else {
      run += ch; // astral characters stay as surrogate pairs, as UTF-16 requires
    }
  }
  flushRun(run, out);
  return out.join('');
}

/** Decodes a modified UTF-7 name; throws a plain Error naming the fault when it is not valid. */
export function decodeMutf7(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c > 0x7e) throw new Error(`not modified UTF-7: raw character U+${c.toString(16).padStart(4, '0')} at ${i}`);
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = name.indexOf('-', i + 1);
    if (end < 0) throw new Error(`not modified UTF-7: unterminated '&' shift at ${i}`);
    const b64 = name.slice(i + 1, end);
    i = end;
    if (b64 === '') {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new Error(`not modified UTF-7: bad base64 "${b64}"`);
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) throw new Error(`not modified UTF-7: odd UTF-16 length in "${b64}"`);
    let run = '';
    for (let j = 0; j < bytes.length; j += 2) run += String.fromCharCode(bytes.readUInt16BE(j));
    out += run;
  }
  return out;
}
