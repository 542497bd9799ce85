import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { LEAN_HEAP } from '../../core/settings.js';
import type { AccountSpec } from '../../fleet/account.js';
import type { ImportOptionSpec } from '../../fleet/accounts-csv.js';
import { renderBatchHtml } from '../../fleet/batch-html.js';
import type { BatchSummary } from '../../fleet/batch-state.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL } from '../exit-code.js';
import { createBatchProgress, renderBatchSummary } from '../render/batch.js';
import { DEFAULTS } from './import.js';
import { optionalIntegerOption } from '../integer-option.js';

// `mailmigrate batch ACCOUNTS.csv` (issue 15): many accounts, one command. On this machine (--state-dir) or, with
// --queue redis://..., as BullMQ jobs for `mailmigrate worker` processes on any number of machines.
// `mailmigrate batch status --queue redis://...` prints the queue's aggregate in the shape of batch.json.
// The work is in src/fleet; this file parses options, renders, and computes the exit code:
//   0 every account complete · 2 some failed (each listed with its reason) · 1 could not start · 130 interrupted.
// `batch status` adds 3: nothing failed, but accounts are still pending or running.
//
// The fleet modules are loaded when a batch command runs, not when the program is built: program.ts registers
// every command, so a static import here would make *every* `mailmigrate` start — above all each account's child
// import — load BullMQ and ioredis (+0.3 s CPU per start, measured with /usr/bin/time on `node -e "import('bullmq')"`).
const fleetQueue = (): Promise<typeof import('../../fleet/queue.js')> => import('../../fleet/queue.js');

/** `--lean-heap` of `batch` and of `worker` (LEAN_HEAP, settings.ts). */
export const LEAN_HEAP_HELP =
  "start each account's import with a small V8 heap and two malloc arenas: about a third less memory per account (50k messages: 83 against 110–125 MB peak) for 5–20 % more CPU (docs/fleet.md)";

/** Exit code of `batch status` while accounts are still pending or running. */
export const EXIT_IN_PROGRESS = 3;

export interface BatchCliOptions {
  parallel?: string;
  leanHeap?: boolean;
  maxConnectionsPerHost?: string;
  stateDir?: string;
  html?: string;
  json?: boolean;
  queue?: string;
  host?: string;
  port?: string;
  security?: string;
  passwordFile?: string;
  passwordEnv?: string;
  folder?: string;
  connections?: string;
  default?: string[];
  retries?: string;
  accountTimeout?: string;
  skipComplete?: boolean;
  retryDelay?: string;
}

/** Dovecot's default mail_max_userip_connections: the most common cap an admin meets first. */
const DEFAULT_MAX_PER_HOST = 10;
const DEFAULT_PARALLEL = 4;

/**
 * bin/mailmigrate.js of this installation (children run the same version as the parent): the nearest directory
 * above this file holding mailmigrate's package.json. Searched, not counted: this code runs from the bundle
 * (dist/bundle/chunk-….js) and, in the tests, from dist/src/cli/commands/.
 */
export function binPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'mailmigrate') return join(dir, 'bin', 'mailmigrate.js');
    } catch {
      // no package.json here: one level up
    }
    const up = dirname(dir);
    if (up === dir) throw new ConfigError('batch', `cannot find mailmigrate's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

const out = (s: string): void => void process.stdout.write(`${s}\n`);

export function registerBatch(program: Command): Command {
  const cmd = program
    .command('batch')
    .description('Migrate many accounts from a CSV (source,user,...): here with --state-dir, or on workers with --queue')
    .argument('<accounts>', 'CSV file with a header row: source,user[,host,port,security,password_file,password_env,oauth_token_file,folder,<import option>...]')
    .option('--parallel <n>', `accounts at once on this machine (default ${DEFAULT_PARALLEL})`)
    .option('--lean-heap', LEAN_HEAP_HELP)
    .option('--max-connections-per-host <n>', `connections to one server across all accounts, each account counting its APPEND connections plus 3 sessions of its own: control, folder survey, bulk reader (default ${DEFAULT_MAX_PER_HOST})`)
    .option('--state-dir <dir>', 'per-account journal, report and log, and batch.json (required without --queue)')
    .option('--html <file>', 'also write the aggregate as a self-contained HTML page')
    .option('--json', 'print the final aggregate (batch.json) on stdout instead of the summary')
    .option('--queue <url>', 'enqueue the accounts as BullMQ jobs on redis://HOST:PORT for `mailmigrate worker` (password: env MAILMIGRATE_REDIS_PASSWORD)')
    .option('--host <host>', 'default server for rows without a host')
    .option('--port <port>', 'default port')
    .addOption(new Option('--security <mode>', 'default security').choices(['tls', 'starttls', 'plain']))
    .option('--password-file <file>', 'default password_file for rows without a credential')
    .option('--password-env <name>', 'default password_env (the NAME of an environment variable, never the password)')
    .option('--folder <prefix>', 'default folder prefix')
    .option('--connections <n>', `default APPEND connections per account (default ${DEFAULTS.connections}; lowered to fit the per-host budget)`)
    .option('--default <column=value>', 'a default for any column (repeatable), e.g. --default exclude=Trash', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--retries <n>', 'retries of an account after a transient failure (connection, throttling), with backoff (default 2)')
    .option('--account-timeout <minutes>', 'deadline for one account; then it is interrupted and resumed later (default 1440 = 24 h)')
    .option('--skip-complete', 'do not re-check accounts an earlier run completed (default: re-run them — a quick check against the server, and the cutover pass of a two-pass migration)')
    .addOption(new Option('--retry-delay <ms>', 'first retry backoff').default('5000').hideHelp())
    .action(async (accounts: string, opts: BatchCliOptions, command: Command) => {
      process.exitCode = await batchAction(accounts, opts, command);
    });

  cmd
    .command('status')
    .description('Print the aggregate of the accounts enqueued on a queue (same shape as batch.json)')
    .requiredOption('--queue <url>', 'redis://HOST:PORT')
    .option('--json', 'print the aggregate as JSON')
    .option('--html <file>', 'also write it as a self-contained HTML page')
    .action(async (opts: { queue: string; json?: boolean; html?: string }) => {
      const { queueStatus, parseQueueUrl } = await fleetQueue();
      const s = await queueStatus(parseQueueUrl(opts.queue, process.env));
      emit(s, opts, undefined);
      process.exitCode = s.accounts.failed > 0 ? EXIT_PARTIAL : s.accounts.pending + s.accounts.running > 0 ? EXIT_IN_PROGRESS : EXIT_OK;
    });
  return cmd;
}

/** The `import` flags usable as CSV columns, from the registered import command (so new flags are columns at once). */
export function importOptionSpecs(program: Command): ImportOptionSpec[] {
  const imp = program.commands.find((c) => c.name() === 'import');
  if (!imp) return [];
  return imp.options
    .filter((o) => o.long && !(o as unknown as { hidden?: boolean }).hidden)
    .map((o) => ({ column: o.long!.slice(2).replace(/-/g, '_'), flag: o.long!, takesValue: o.required || o.optional }));
}

function defaultsFrom(opts: BatchCliOptions): Record<string, string> {
  const d: Record<string, string> = {};
  for (const kv of opts.default ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new ConfigError('--default', `expected column=value, got "${kv}"`);
    d[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim();
  }
  const put = (col: string, v: string | undefined): void => {
    if (v !== undefined) d[col] = v;
  };
  put('host', opts.host);
  put('port', opts.port);
  put('security', opts.security);
  put('password_file', opts.passwordFile && resolve(opts.passwordFile));
  put('password_env', opts.passwordEnv);
  put('folder', opts.folder);
  return d;
}

function emit(s: BatchSummary, opts: { json?: boolean | undefined; html?: string | undefined }, where: string | undefined): void {
  if (opts.html !== undefined) writeFileSync(opts.html, renderBatchHtml(s), { mode: 0o600 });
  if (opts.json) out(JSON.stringify(s, null, 2));
  else out(renderBatchSummary(s, where));
}

async function batchAction(csv: string, opts: BatchCliOptions, command: Command): Promise<number> {
  let root: Command = command;
  while (root.parent) root = root.parent;
  const defaultConnections = optionalIntegerOption('--connections', opts.connections, 1, 64) ?? DEFAULTS.connections;
  const maxPerHost = optionalIntegerOption('--max-connections-per-host', opts.maxConnectionsPerHost, 2, 10_000) ?? DEFAULT_MAX_PER_HOST;
  const retries = optionalIntegerOption('--retries', opts.retries, 0, 100) ?? 2;
  const { readAccountsCsv } = await import('../../fleet/accounts-csv.js');
  const accounts: AccountSpec[] = readAccountsCsv(csv, { importOptions: importOptionSpecs(root), defaults: defaultsFrom(opts), defaultConnections });

  if (opts.queue !== undefined) {
    if (opts.stateDir !== undefined) throw new ConfigError('--state-dir', 'belongs to the workers in queue mode (`mailmigrate worker --state-dir`)');
    if (opts.leanHeap) throw new ConfigError('--lean-heap', 'belongs to the workers in queue mode, which start the imports (`mailmigrate worker --lean-heap`)');
    const { enqueueBatch, parseQueueUrl } = await fleetQueue();
    const target = parseQueueUrl(opts.queue, process.env);
    const r = await enqueueBatch(target, accounts, {
      source: resolve(csv), maxConnectionsPerHost: maxPerHost, retries, backoffMs: optionalIntegerOption('--retry-delay', opts.retryDelay, 0, 3_600_000) ?? 5000,
    });
    if (opts.json) out(JSON.stringify(r, null, 2));
    else {
      for (const q of r.queues) {
        out(`${q.host}: queue ${q.name}, ${q.added} added, ${q.retried} failed account(s) re-queued, ${q.kept} already queued or done; at most ${q.globalConcurrency} account(s) at once × ${q.connectionsPerAccount}+1 connections`);
      }
      out(`Start workers with: mailmigrate worker --queue ${opts.queue} --concurrency N --state-dir DIR; follow with: mailmigrate batch status --queue ${opts.queue}`);
    }
    return EXIT_OK;
  }

  if (opts.stateDir === undefined) throw new ConfigError('--state-dir', 'required: where each account keeps its journal, report and log, and batch.json the aggregate');
  const stateDir = resolve(opts.stateDir);
  const parallel = optionalIntegerOption('--parallel', opts.parallel, 1, 1000) ?? DEFAULT_PARALLEL;
  const timeoutMin = optionalIntegerOption('--account-timeout', opts.accountTimeout, 1, 60 * 24 * 30) ?? 1440;

  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) return;
    process.stderr.write('Interrupted: stopping the running accounts (their journals are flushed); re-run the same command to resume\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint); // a service manager stopping the batch gets the same clean stop
  const { batchJsonPath, runBatch } = await import('../../fleet/batch-run.js');
  const progress = opts.json ? undefined : createBatchProgress();
  let summary: BatchSummary;
  try {
    summary = await runBatch({
      accounts, source: resolve(csv), stateDir, parallel, maxConnectionsPerHost: maxPerHost, bin: binPath(), env: process.env,
      heap: opts.leanHeap ? LEAN_HEAP : undefined,
      accountTimeoutMs: timeoutMin * 60_000, retries, retryDelayMs: optionalIntegerOption('--retry-delay', opts.retryDelay, 0, 3_600_000) ?? 5000,
      skipComplete: opts.skipComplete === true, signal: abort.signal,
      onChange: (s) => {
        progress?.update(s);
        if (opts.html !== undefined) writeFileSync(opts.html, renderBatchHtml(s), { mode: 0o600 });
      },
    });
  } finally {
    progress?.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  emit(summary, opts, batchJsonPath(stateDir));
  if (abort.signal.aborted) return EXIT_INTERRUPTED;
  return summary.accounts.failed > 0 || summary.accounts.pending > 0 ? EXIT_PARTIAL : EXIT_OK;
}
