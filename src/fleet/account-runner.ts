import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { safeName, type AccountSpec } from './account.js';
import type { ImportRunReport } from '../migrate/import-report.js';
import { isTransient } from './failure-class.js';
import type { ChildHeap } from '../core/settings.js';

// Runs one account: `mailmigrate import` as a child process of the real CLI, under child-guard.js.
//
// Why a process per account and not a function call: isolation. One account's crash, runaway memory or hung
// socket cannot take the other accounts (or the worker holding their jobs) down, and the OS reclaims everything
// an account held when it ends. It is also how imapsync users run fleets (one imapsync per line, GNU parallel), so
// the behaviour of one account in a batch is exactly the behaviour of `mailmigrate import` run by hand — same
// journal, same report, same exit codes — and an admin can re-run a failed account with the command in its log.
//
// Per account, under <stateDir>/accounts/<user@host_port>/: journal.jsonl, report.json (the child's --report),
// import.log (its stdout and stderr, appended per attempt, headed by the command line — which holds no secret).
//
// Secrets: the password reaches the child through --password-file (a path) or MAILMIGRATE_PASSWORD in the
// child's environment only, read from the variable the row names; the fleet's own MAILMIGRATE_* variables are
// removed so an account never logs in with a password meant for another.

export interface AccountFiles {
  readonly dir: string;
  readonly journal: string;
  readonly report: string;
  readonly log: string;
}

export function accountFiles(stateDir: string, id: string): AccountFiles {
  const dir = join(stateDir, 'accounts', safeName(id));
  return { dir, journal: join(dir, 'journal.jsonl'), report: join(dir, 'report.json'), log: join(dir, 'import.log') };
}

export interface RunAccountOptions {
  /** bin/mailmigrate.js of this installation. */
  readonly bin: string;
  readonly stateDir: string;
  /** APPEND connections granted by the host budget (may be below what the account asked for). */
  readonly connections: number;
  /** Deadline for the whole account; then it is interrupted (and counted transient: a re-run resumes it). */
  readonly timeoutMs: number;
  /** Aborting interrupts the import gracefully (SIGINT: in-flight commands finish, the journal is flushed). */
  readonly signal?: AbortSignal | undefined;
  /** The environment of this machine (password_env is looked up here). */
  readonly env: NodeJS.ProcessEnv;
  /** Called with the child's pid once it runs (tests, progress). */
  readonly onStart?: ((pid: number) => void) | undefined;
  /** How the child's process starts (LEAN_HEAP with --lean-heap, settings.ts); undefined: plain `node`. */
  readonly heap?: ChildHeap | undefined;
}

export interface AccountError {
  readonly code: string;
  readonly message: string;
  /** Worth retrying after a pause (failure-class.ts). */
  readonly transient: boolean;
}

/** The counts an account's import reports (its --report JSON, ImportRunReport): one definition for both. */
export type ReportCounts = Pick<ImportRunReport, 'total' | 'appended' | 'skipped' | 'failed' | 'bytes'>;

export interface AccountOutcome extends ReportCounts {
  readonly status: 'complete' | 'failed';
  readonly exitCode: number | null;
  /** Wall time of the child process, all of it (start-up and connecting included), not the report's. */
  readonly elapsedMs: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly connections: number;
  readonly error?: AccountError | undefined;
}

const GUARD = join(dirname(fileURLToPath(import.meta.url)), 'child-guard.js');
/** Bytes of the log's tail searched for the child's final error line. */
const LOG_TAIL_BYTES = 64 * 1024;
/** Largest report.json read (a report lists failures; 16 MiB is far above any real one). */
const MAX_REPORT_BYTES = 16 * 1024 * 1024;

/** The argv of the child import (after the node binary). Pure; holds no secret. */
export function importArgv(a: AccountSpec, files: AccountFiles, connections: number): string[] {
  const args = ['import', a.source, `--host=${a.host}`, `--user=${a.user}`];
  if (a.port !== undefined) args.push(`--port=${a.port}`);
  if (a.security) args.push(`--${a.security}`);
  if (a.passwordFile) args.push(`--password-file=${a.passwordFile}`);
  if (a.oauthTokenFile) args.push(`--oauth-token-file=${a.oauthTokenFile}`);
  args.push(`--journal=${files.journal}`, `--report=${files.report}`, '--quiet', `--connections=${connections}`);
  // Parallelism in a fleet comes from accounts; reader threads per account would only multiply memory. A row can
  // still ask for them with a read_threads column.
  if (!a.importArgs.some((x) => x.startsWith('--read-threads'))) args.push('--read-threads=0');
  args.push(...a.importArgs);
  return args;
}

/**
 * The child's environment: this machine's, without the fleet's own credentials, plus the account's password, plus
 * `defaults` where this machine sets no value of its own (the heap setting's variables: an admin's own value wins).
 * `added` lists the defaults that were set, for the log's command line.
 */
export function childEnv(
  a: AccountSpec,
  env: NodeJS.ProcessEnv,
  defaults: Readonly<Record<string, string>> = {},
): { env: NodeJS.ProcessEnv; added: Array<[string, string]> } | { error: AccountError } {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('MAILMIGRATE_') || k === a.passwordEnv) continue;
    out[k] = v;
  }
  const added = Object.entries(defaults).filter(([k]) => out[k] === undefined);
  for (const [k, v] of added) out[k] = v;
  if (a.passwordEnv !== undefined) {
    const pw = env[a.passwordEnv];
    if (pw === undefined || pw === '') {
      return { error: { code: 'E_CONFIG', message: `password_env: the environment variable ${a.passwordEnv} is not set on this machine`, transient: false } };
    }
    out['MAILMIGRATE_PASSWORD'] = pw;
  }
  return { env: out, added };
}

export async function runAccount(a: AccountSpec, o: RunAccountOptions): Promise<AccountOutcome> {
  const files = accountFiles(o.stateDir, a.id);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const startedAt = new Date();
  const base = { exitCode: null, total: 0, appended: 0, skipped: 0, failed: 0, bytes: 0, elapsedMs: 0, connections: o.connections, startedAt: startedAt.toISOString() };
  const resolved = childEnv(a, o.env, o.heap?.env);
  if ('error' in resolved) {
    return { ...base, status: 'failed', finishedAt: new Date().toISOString(), error: resolved.error };
  }
  // A report left by an earlier attempt must not be mistaken for this one's.
  rmSync(files.report, { force: true });
  const argv = importArgv(a, files, o.connections);
  const logFd = openSync(files.log, 'a', 0o600);
  const logStart = fstatSync(logFd).size;
  const nodeFlags = o.heap?.nodeFlags ?? [];
  // The command line to re-run the account by hand: with the variables added and node's flags, when there are any.
  const program = nodeFlags.length ? ['node', ...nodeFlags, '$(command -v mailmigrate)'] : ['mailmigrate'];
  const how = [...resolved.added.map(([k, v]) => `${k}=${v}`), ...program].join(' ');
  writeSync(logFd, `=== ${startedAt.toISOString()} ${how} ${argv.join(' ')}\n`);

  const exit = await new Promise<{ code: number | null; spawnError?: Error }>((resolve) => {
    const child = spawn(process.execPath, [GUARD, process.execPath, ...nodeFlags, o.bin, ...argv], {
      env: resolved.env,
      stdio: ['pipe', logFd, logFd],
    });
    const stop = (): void => void child.stdin?.end();
    const timer = setTimeout(stop, o.timeoutMs);
    timer.unref();
    o.signal?.addEventListener('abort', stop, { once: true });
    child.stdin?.on('error', () => undefined);
    child.once('spawn', () => child.pid !== undefined && o.onStart?.(child.pid));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, spawnError: err });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', stop);
      resolve({ code });
    });
  });
  closeSync(logFd);
  const finishedAt = new Date();
  const elapsedMs = finishedAt.getTime() - startedAt.getTime();
  const done = { ...base, exitCode: exit.code, elapsedMs, finishedAt: finishedAt.toISOString() };
  if (exit.spawnError) {
    return { ...done, status: 'failed', error: { code: 'E_SPAWN', message: `cannot start the import: ${exit.spawnError.message}`, transient: false } };
  }

  const report = readReport(files.report);
  const counts = report ? { total: report.total, appended: report.appended, skipped: report.skipped, failed: report.failed, bytes: report.bytes } : {};
  if (exit.code === 0 && report) return { ...done, ...counts, status: 'complete' };
  if (exit.code === 2 && report) {
    const codes = [...new Set(report.failures.map((f) => f.code))];
    const first = report.failures[0];
    const message = `${report.failed} message(s) failed${first ? ` (first: ${first.code} ${first.reason})` : ''}; see ${files.report}`;
    return { ...done, ...counts, status: 'failed', error: { code: codes[0] ?? 'E_PARTIAL', message, transient: codes.length > 0 && codes.every(isTransient) } };
  }
  if (exit.code !== null && exit.code >= 128) {
    return { ...done, ...counts, status: 'failed', error: { code: 'E_INTERRUPTED', message: `the import was stopped (exit ${exit.code}); a re-run resumes it`, transient: true } };
  }
  const last = lastErrorLine(files.log, logStart);
  if (last) return { ...done, ...counts, status: 'failed', error: { ...last, transient: isTransient(last.code) } };
  return {
    ...done,
    ...counts,
    status: 'failed',
    error: { code: 'E_NO_REPORT', message: `the import exited with ${exit.code ?? 'a signal'} without a report; see ${files.log}`, transient: true },
  };
}

interface ChildReport extends ReportCounts {
  readonly failures: Array<Pick<ImportRunReport['failures'][number], 'code' | 'reason'>>;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The child's --report JSON, or undefined when it wrote none (or something unreadable). */
export function readReport(path: string): ChildReport | undefined {
  try {
    if (statSync(path).size > MAX_REPORT_BYTES) return undefined;
    const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const failures = Array.isArray(j['failures']) ? (j['failures'] as Array<Record<string, unknown>>) : [];
    return {
      total: num(j['total']),
      appended: num(j['appended']),
      skipped: num(j['skipped']),
      failed: num(j['failed']),
      bytes: num(j['bytes']),
      failures: failures.map((f) => ({ code: String(f['code'] ?? 'E_UNKNOWN'), reason: String(f['reason'] ?? '') })),
    };
  } catch {
    return undefined;
  }
}

/** The last `mailmigrate: <message> (E_CODE)` line the child printed in this attempt (program.ts prints it). */
export function lastErrorLine(log: string, from: number): { code: string; message: string } | undefined {
  let text: string;
  try {
    const fd = openSync(log, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(from, size - LOG_TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const lines = text.split('\n').reverse();
  for (const line of lines) {
    const m = /^mailmigrate: (.*) \((E_[A-Z0-9_]+)\)\s*$/.exec(line);
    if (m) return { code: m[2]!, message: m[1]! };
  }
  // commander's usage errors ("error: unknown option '--x'") carry no code.
  const usage = lines.find((l) => l.startsWith('error: '));
  return usage ? { code: 'E_CONFIG', message: usage.slice('error: '.length) } : undefined;
}
