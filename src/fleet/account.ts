// One account of a fleet migration, as validated from a CSV row plus the command-line defaults (accounts-csv.ts).
//
// It carries *references* to secrets, never secrets: a password file path, the name of an environment variable, or
// an OAuth token file. They are resolved on the machine that runs the account (account-runner.ts), so a BullMQ job
// (which lives in Redis, readable by anyone with access to it) holds nothing worth stealing.

import { canonicalServer, type Resolver } from '../migrate/account.js';

export type Security = 'tls' | 'starttls' | 'plain';

export interface AccountSpec {
  /** Stable key of the account: user@host:port, used for its state directory and its BullMQ job id. */
  readonly id: string;
  /** Line of the CSV file the row came from (1 = header), for error messages. */
  readonly line: number;
  /** Absolute path of the source tree or mbox file. */
  readonly source: string;
  readonly user: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly security: Security | undefined;
  /** Absolute path; the password is its first line. */
  readonly passwordFile: string | undefined;
  /** Name of an environment variable of the machine that runs the account. */
  readonly passwordEnv: string | undefined;
  /** Absolute path of a file holding an OAuth2 bearer token. */
  readonly oauthTokenFile: string | undefined;
  /** Further `import` flags, one argv word each, e.g. ['--folder=Old', '--nodelay']. */
  readonly importArgs: readonly string[];
  /** APPEND connections the account asks for (`connections` column or default); the budget may lower it. */
  readonly connections: number;
}

/** The budget key of a server: the same spelling shares one connection budget. */
export function hostKey(a: Pick<AccountSpec, 'host' | 'port' | 'security'>): string {
  return `${a.host.toLowerCase()}:${a.port ?? (a.security === 'tls' ? 993 : 143)}`;
}

/**
 * The connection-budget key of each account's server: its resolved address and port (src/migrate/account.ts), so
 * `localhost` and `127.0.0.1` — or two DNS names of one server — share one budget. Keyed by spelling, a batch
 * mixing them opened twice the connections the server allows. Each spelling is resolved once, with a deadline.
 */
export async function serverKeys(accounts: readonly AccountSpec[], resolve?: Resolver): Promise<Map<AccountSpec, string>> {
  const bySpelling = new Map<string, Promise<string>>();
  const out = new Map<AccountSpec, string>();
  for (const a of accounts) {
    const spelling = hostKey(a);
    let key = bySpelling.get(spelling);
    if (!key) {
      key = canonicalServer(a.host, a.port ?? (a.security === 'tls' ? 993 : 143), resolve);
      bySpelling.set(spelling, key);
    }
    out.set(a, await key);
  }
  return out;
}

/** A file-system and job-id safe name for an account id ("alice@mail.example.com:993" -> "alice@mail.example.com_993"). */
export function safeName(id: string): string {
  const s = id.replace(/[^A-Za-z0-9.@+=-]/g, '_');
  // Never "." or "..": an id always holds '@', so this only guards against a future change of accountId().
  return /^\.+$/.test(s) ? `_${s}` : s;
}

export function accountId(user: string, host: string, port: number | undefined, security: Security | undefined): string {
  return `${user}@${hostKey({ host, port, security })}`;
}
