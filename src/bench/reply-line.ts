// The raw clients of the bench code (doctor's handshake probe, the churn client) read replies through the response
// reader, which hands back parsed items; an error message should still show the reply as the server wrote it.
import type { ResponseItem } from '../imap/response-reader.js';

/** A reply as one line of text, roughly as the server sent it (control characters are the renderer's to escape). */
export function replyLine(i: ResponseItem): string {
  if (i.kind === 'untagged') return i.raw.toString('latin1').trimEnd();
  if (i.kind === 'tagged') return `${i.tag} ${i.status}${i.code ? ` [${i.code.name}${i.code.args ? ` ${i.code.args}` : ''}]` : ''} ${i.text}`;
  return `+ ${i.text}`;
}
