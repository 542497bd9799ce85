import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { ConfigError } from '../core/errors.js';
import { accountId, safeName, type AccountSpec, type Security } from './account.js';

// The accounts file of `mailmigrate batch` (issue 15): a header row, then one account per row.
//
//   source,user,host,port,security,password_file,password_env,oauth_token_file,folder,<any import option>
//
// Rules, each with an error that names the line and the column, all collected so one run shows every mistake:
// - `source` and `user` are required (per row or from a command-line default); the rest are optional.
// - A column that is neither a known column nor an `import` option is an error (a typo must not silently drop a
//   setting such as `exclude`). Import options are passed in by the CLI from the registered `import` command, so a
//   flag the import gains is a column at once.
// - Secrets never live in the CSV: a `password` column, a cell that reads like "password=...", a URL with a
//   password, or a password_env value that is not a variable name (someone typed the password itself) is refused.
//   Jobs built from these rows go to Redis in queue mode, where anyone with access could read them.
// - Relative paths (source, password_file, oauth_token_file) are relative to the CSV file's directory, so a CSV
//   and the trees beside it can be moved together and the result does not depend on the shell's cwd.

/** An `import` flag usable as a column (from commander's Option list). */
export interface ImportOptionSpec {
  /** Column name: the long flag without "--", '-' as '_' (e.g. "read_threads"). */
  readonly column: string;
  /** The flag itself, e.g. "--read-threads". */
  readonly flag: string;
  readonly takesValue: boolean;
}

export interface AccountsCsvOptions {
  /** Import flags usable as columns. */
  readonly importOptions: readonly ImportOptionSpec[];
  /** Column → value used where a row leaves the cell empty (or has no such column): the command-line defaults. */
  readonly defaults?: Readonly<Record<string, string>>;
  /** Default APPEND connections per account when neither the row nor the defaults say. */
  readonly defaultConnections: number;
}

/** Columns with a meaning of their own (not passed through as import flags). */
const OWN_COLUMNS = ['source', 'user', 'host', 'port', 'security', 'password_file', 'password_env', 'oauth_token_file', 'connections'] as const;

/** Import flags the batch sets itself, per account; as columns they would break the per-account state layout. */
const RESERVED: Readonly<Record<string, string>> = {
  journal: 'set by batch: each account has its journal under --state-dir',
  report: 'set by batch: each account has its report under --state-dir',
  trace: 'not available in a batch (one trace per account would be written nowhere useful)',
  quiet: 'set by batch (accounts run quietly; their output goes to their log)',
  dry_run: 'not available per account in a batch',
  progress_interval: 'set by batch',
  tls: 'use the security column (tls, starttls or plain)',
  starttls: 'use the security column (tls, starttls or plain)',
  plain: 'use the security column (tls, starttls or plain)',
  help: 'not an import setting',
};

const SECRET_COLUMNS = /^(password|passwd|pass|pwd|secret|token|access_token|oauth_token|credentials?)$/i;
const SECRET_CELL = /(^|[\s;,])(password|passwd|pwd|pass|secret)\s*[=:]\s*\S/i;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TRUE = /^(true|yes|on|1)$/i;
const FALSE = /^(false|no|off|0)$/i;

/** Largest accounts file read (bytes): 64 MiB is ~500,000 rows; beyond that, split the batch. */
export const MAX_CSV_BYTES = 64 * 1024 * 1024;

export function readAccountsCsv(path: string, options: AccountsCsvOptions): AccountSpec[] {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new ConfigError(path, 'is not a regular file');
    if (st.size > MAX_CSV_BYTES) throw new ConfigError(path, `is ${st.size} bytes; the limit is ${MAX_CSV_BYTES} (split the batch)`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(path, `cannot read the accounts file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseAccountsCsv(text, dirname(resolve(path)), options, path);
}

/** Parses and validates the whole file; throws one ConfigError listing every problem found. Pure but for `baseDir`. */
export function parseAccountsCsv(text: string, baseDir: string, options: AccountsCsvOptions, label = 'accounts CSV'): AccountSpec[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, comment: '#', info: true, relax_column_count: false }) as unknown as typeof records;
  } catch (err) {
    throw new ConfigError(label, `not a valid CSV file: ${(err as Error).message}`);
  }
  if (records.length === 0) throw new ConfigError(label, 'is empty (expected a header row: source,user,...)');

  const problems: string[] = [];
  const importByColumn = new Map(options.importOptions.map((o) => [o.column, o]));
  const header = records[0]!.record.map((h) => h.toLowerCase());
  const headerLine = records[0]!.info.lines;
  const seen = new Set<string>();
  for (const col of header) {
    const where = `line ${headerLine}, column "${col}"`;
    if (col === '') problems.push(`${where}: empty column name`);
    else if (seen.has(col)) problems.push(`${where}: appears twice`);
    else if (SECRET_COLUMNS.test(col)) {
      problems.push(`${where}: refused — an accounts file must not hold passwords or tokens; use password_file (a file on the machine that runs the account) or password_env (the name of an environment variable there)`);
    } else if (col in RESERVED) problems.push(`${where}: ${RESERVED[col]}`);
    else if (col === 'to' && !importByColumn.has('to')) problems.push(`${where}: this version of import has no --to option (folder sets a prefix)`);
    else if (!(OWN_COLUMNS as readonly string[]).includes(col) && !importByColumn.has(col)) {
      problems.push(`${where}: unknown column (known: ${[...OWN_COLUMNS, ...[...importByColumn.keys()].filter((c) => !(c in RESERVED) && !(OWN_COLUMNS as readonly string[]).includes(c))].join(', ')})`);
    }
    seen.add(col);
  }
  const defaults = options.defaults ?? {};
  for (const col of Object.keys(defaults)) {
    if (!(OWN_COLUMNS as readonly string[]).includes(col) && !importByColumn.has(col)) problems.push(`default for column "${col}": unknown column`);
    else if (col in RESERVED) problems.push(`default for column "${col}": ${RESERVED[col]}`);
  }
  if (problems.length) throw new ConfigError(label, problems.join('\n'));

  const accounts: AccountSpec[] = [];
  const byId = new Map<string, number>();
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    const cells = new Map<string, string>();
    header.forEach((col, i) => {
      const v = record[i] ?? '';
      if (v !== '') cells.set(col, v);
    });
    const rowProblems: string[] = [];
    const fail = (col: string, msg: string): void => void rowProblems.push(`line ${line}, column "${col}": ${msg}`);
    for (const [col, v] of cells) {
      if (SECRET_CELL.test(v) || URL_WITH_PASSWORD.test(v)) fail(col, 'refused — the value looks like it holds a password; keep secrets in password_file or password_env');
    }
    const get = (col: string): string | undefined => cells.get(col) ?? (defaults[col] !== undefined && defaults[col] !== '' ? defaults[col] : undefined);
    const pathOf = (col: string): string | undefined => {
      const v = get(col);
      return v === undefined ? undefined : isAbsolute(v) ? v : resolve(baseDir, v);
    };

    const source = pathOf('source');
    if (source === undefined) fail('source', 'required (a Maildir, mbox file or .eml tree)');
    const user = get('user');
    if (user === undefined) fail('user', 'required');
    else if (/[\s\x00-\x1f\x7f]/.test(user)) fail('user', `"${user}" contains white space or a control character`);
    const host = get('host');
    if (host === undefined) fail('host', 'required (per row or with --host)');
    let port: number | undefined;
    const portText = get('port');
    if (portText !== undefined) {
      port = Number(portText);
      if (!/^\d+$/.test(portText) || port < 1 || port > 65535) fail('port', `must be a port number from 1 to 65535, got "${portText}"`);
    }
    const securityText = get('security');
    let security: Security | undefined;
    if (securityText !== undefined) {
      const s = securityText.toLowerCase();
      if (s === 'tls' || s === 'starttls' || s === 'plain') security = s;
      else fail('security', `must be tls, starttls or plain, got "${securityText}"`);
    }
    const passwordEnv = get('password_env');
    if (passwordEnv !== undefined && !ENV_NAME.test(passwordEnv)) {
      fail('password_env', 'is not an environment variable name (letters, digits, _) — it looks like the password itself; put the password in the environment and its variable name here');
    }
    const passwordFile = pathOf('password_file');
    const oauthTokenFile = pathOf('oauth_token_file');
    const creds = [passwordFile && 'password_file', passwordEnv && 'password_env', oauthTokenFile && 'oauth_token_file'].filter(Boolean);
    if (creds.length === 0) fail('password_file', 'no credential: give password_file, password_env or oauth_token_file (per row or as a default)');
    else if (creds.length > 1) fail(String(creds[1]), `give only one of password_file, password_env, oauth_token_file (this row has ${creds.join(' and ')})`);

    let connections = options.defaultConnections;
    const connText = get('connections');
    if (connText !== undefined) {
      connections = Number(connText);
      if (!/^\d+$/.test(connText) || connections < 1 || connections > 64) fail('connections', `must be a whole number from 1 to 64, got "${connText}"`);
    }

    const importArgs: string[] = [];
    const columns = new Set([...header, ...Object.keys(defaults)]);
    for (const col of columns) {
      const spec = importByColumn.get(col);
      if (!spec || (OWN_COLUMNS as readonly string[]).includes(col)) continue;
      const v = get(col);
      if (v === undefined) continue;
      if (spec.takesValue) importArgs.push(`${spec.flag}=${v}`); // one argv word: a value starting with '-' stays a value
      else if (TRUE.test(v)) importArgs.push(spec.flag);
      else if (!FALSE.test(v)) fail(col, `is a switch: write true or false, got "${v}"`);
    }

    if (rowProblems.length) {
      problems.push(...rowProblems);
      continue;
    }
    const id = accountId(user!, host!, port, security);
    // Keyed as its state directory is named, case-folded: "Alice" and "alice" are one mailbox on most servers, and
    // two ids that sanitize to one directory name would share a journal.
    const key = safeName(id).toLowerCase();
    const earlier = byId.get(key);
    if (earlier !== undefined) {
      problems.push(`line ${line}, column "user": ${id} is already on line ${earlier}: one line per account, because two imports into one account at once would race (import the second source in a later batch, or merge the trees)`);
      continue;
    }
    byId.set(key, line);
    accounts.push({ id, line, source: source!, user: user!, host: host!, port, security, passwordFile, passwordEnv, oauthTokenFile, importArgs, connections });
  }
  if (problems.length) {
    const shown = problems.slice(0, 50);
    if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
    throw new ConfigError(label, `${problems.length} problem(s):\n${shown.join('\n')}`);
  }
  if (accounts.length === 0) throw new ConfigError(label, 'has a header but no account rows');
  return accounts;
}
