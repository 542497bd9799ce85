// Which account failures are worth retrying later (issue 15): a job queue retries with backoff what a pause can
// fix — the server refusing connections for a while, a connection cut, throttling — and fails at once what it
// cannot: a refused login, a full quota, a missing source, a bad option. The child process only hands us an error
// *code* (its report's failure codes, or the `mailmigrate: ... (E_CODE)` line it prints), so this table mirrors
// the retry class the code's error carries in src/core/errors.ts and where it is raised:
//   E_CONNREFUSED, E_REFUSED_BY_SERVER, E_NO_CONNECTION  ConnectError 'later' (transport/connection.ts, pool.ts)
//   E_CLOSED, E_TIMEOUT, E_PROTOCOL                      'now' (a cut or a garbled stream; a new session may do)
//   E_UNKNOWN_OUTCOME                                    importer.ts: "re-run to check and resend"
// Codes the fleet itself produces:
//   E_INTERRUPTED  the import was stopped by a signal (its worker stopped, a timeout): resume it
//   E_NO_REPORT    the import ended without writing its report (crash): one more try, then a person looks
// Everything else — E_AUTH, E_CONFIG, E_SOURCE*, E_OVERQUOTA, E_TOO_BIG, E_TLS*, E_JOURNAL, E_DNS (not EAI_AGAIN,
// which the child cannot tell us apart) — is permanent.

const TRANSIENT = new Set([
  'E_CONNREFUSED',
  'E_REFUSED_BY_SERVER',
  'E_NO_CONNECTION',
  'E_CONNECT',
  'E_CLOSED',
  'E_TIMEOUT',
  'E_PROTOCOL',
  'E_UNKNOWN_OUTCOME',
  'E_EADDRNOTAVAIL',
  'E_INTERRUPTED',
  'E_NO_REPORT',
]);

/** True when retrying the account after a pause may succeed. */
export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}
