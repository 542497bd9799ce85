// Servers cap connections per user or per IP (Dovecot: mail_max_userip_connections, 10 by default) and say so in
// different words: the pool recognises the refusal, settles at the number it has, and stops reopening beyond it
// instead of counting the refusal as a failure to retry.
import { type MailmigrateError, ServerResponseError } from '../core/errors.js';

/** Did the server (or its greeting/login) refuse us for having too many connections? */
export function isConnectionCap(err: MailmigrateError): boolean {
  const text = err.message;
  return (
    (err instanceof ServerResponseError && err.responseCode === 'UNAVAILABLE') ||
    /\[UNAVAILABLE\]|maximum number of connections|too many (simultaneous )?connections|connection limit/i.test(text) ||
    err.code === 'E_REFUSED_BY_SERVER'
  );
}
