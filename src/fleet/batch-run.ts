import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostKey, serverKeys, type AccountSpec } from './account.js';
import { accountFiles, runAccount, type AccountOutcome, type RunAccountOptions } from './account-runner.js';
import { applyOutcome, newEntry, readSummary, summarize, writeJsonAtomic, type AccountEntry, type BatchSummary } from './batch-state.js';
import { HostBudget } from './host-budget.js';
import type { Resolver } from '../migrate/account.js';
import type { ChildHeap } from '../core/settings.js';

// `mailmigrate batch` on one machine (issue 15): every account of the CSV, `parallel` at a time, each server's
// connections under one budget, the aggregate in <state-dir>/batch.json after every change.
//
// Scheduling: a slot frees → scan the pending accounts in CSV order and start the first whose server has its
// share free. Not a p-limit queue: with a limiter, an account waiting for its server's budget would sit in a slot
// while accounts of another server that could run wait behind it. Per server the order stays first come, first
// served (once an account of a server cannot start, later accounts of that server wait too), so a large account
// is not starved by small ones.
//
// Re-runs: accounts that completed before are run again, not skipped. Re-running a complete account's import is
// the quick server check — its journal is validated against the server (one STATUS per folder) and only what is
// missing moves — and it is what makes the classic two-pass migration work: the bulk copy days ahead, then the
// same batch at cutover picks up the mail that arrived since. Trusting batch.json alone would report "complete"
// for a mailbox someone wiped. `skipComplete` is there for an admin who knows the targets are untouched.
//
// Transient failures (failure-class.ts) are retried `retries` times after 5 s, 10 s, 20 s ...; permanent ones are
// reported at once with their reason.

export interface BatchRunOptions {
  readonly accounts: readonly AccountSpec[];
  /** The accounts CSV, for the record. */
  readonly source: string;
  readonly stateDir: string;
  readonly parallel: number;
  readonly maxConnectionsPerHost: number;
  /** bin/mailmigrate.js */
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
  /** How each import's process starts (RunAccountOptions.heap). */
  readonly heap?: ChildHeap | undefined;
  readonly accountTimeoutMs: number;
  readonly retries: number;
  /** First backoff; doubles per attempt. */
  readonly retryDelayMs?: number;
  /** Skip accounts a previous run completed, without asking the server. */
  readonly skipComplete?: boolean;
  readonly signal?: AbortSignal | undefined;
  /** After every change (start or end of an account), with the new aggregate (already written to batch.json). */
  readonly onChange?: ((s: BatchSummary) => void) | undefined;
  /** Runs one account; tests and the benchmark may wrap it. */
  readonly run?: ((a: AccountSpec, o: RunAccountOptions) => Promise<AccountOutcome>) | undefined;
  /** Host name resolution for the per-server budget (tests give a fixed table). */
  readonly resolve?: Resolver | undefined;
}

export function batchJsonPath(stateDir: string): string {
  return join(stateDir, 'batch.json');
}

export async function runBatch(o: BatchRunOptions): Promise<BatchSummary> {
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  const budget = new HostBudget(o.maxConnectionsPerHost);
  const budgetKey = await serverKeys(o.accounts, o.resolve);
  const file = batchJsonPath(o.stateDir);
  const previous = new Map((readSummary(file)?.list ?? []).map((e) => [e.id, e]));
  const startedAt = new Date();
  const run = o.run ?? runAccount;
  const retryDelayMs = o.retryDelayMs ?? 5000;

  const entries: AccountEntry[] = [];
  const pending: Array<{ a: AccountSpec; e: AccountEntry; notBefore: number }> = [];
  for (const a of o.accounts) {
    const e = newEntry({ id: a.id, line: a.line, user: a.user, host: hostKey(a), source: a.source });
    e.dir = accountFiles(o.stateDir, a.id).dir;
    const before = previous.get(a.id);
    if (before?.status === 'complete') {
      e.wasComplete = true;
      if (o.skipComplete) {
        Object.assign(e, { ...before, wasComplete: true, attempts: 0 });
        entries.push(e);
        continue;
      }
    }
    entries.push(e);
    pending.push({ a, e, notBefore: 0 });
  }

  let finished = false;
  const publish = (): BatchSummary => {
    const s = summarize(entries, {
      mode: 'local', source: o.source, startedAt, now: new Date(), finished,
      maxConnectionsPerHost: o.maxConnectionsPerHost, peakConnections: budget.peak,
    });
    writeJsonAtomic(file, s);
    o.onChange?.(s);
    return s;
  };
  publish();

  let running = 0;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => wake?.();
  o.signal?.addEventListener('abort', onAbort);

  const startable = (): void => {
    const blocked = new Set<string>();
    const now = Date.now();
    for (let i = 0; i < pending.length && running < o.parallel; i++) {
      const p = pending[i]!;
      const host = budgetKey.get(p.a)!;
      if (blocked.has(host) || p.notBefore > now) continue;
      const connections = budget.appendConnections(p.a.connections);
      const release = budget.tryAcquire(host, connections);
      if (!release) {
        blocked.add(host);
        continue;
      }
      pending.splice(i--, 1);
      running++;
      p.e.status = 'running';
      p.e.attempts++;
      p.e.connections = connections;
      p.e.startedAt = new Date().toISOString();
      delete p.e.error;
      publish();
      void run(p.a, { bin: o.bin, stateDir: o.stateDir, connections, timeoutMs: o.accountTimeoutMs, signal: o.signal, env: o.env, heap: o.heap })
        .catch((err: unknown): AccountOutcome => {
          const t = new Date().toISOString();
          return {
            status: 'failed', exitCode: null, total: 0, appended: 0, skipped: 0, failed: 0, bytes: 0, elapsedMs: 0, startedAt: t, finishedAt: t, connections,
            error: { code: 'E_INTERNAL', message: `running the account failed: ${(err as Error)?.message ?? String(err)}`, transient: false },
          };
        })
        .then((outcome) => {
          release();
          running--;
          applyOutcome(p.e, outcome);
          if (outcome.status === 'failed' && o.signal?.aborted && outcome.error?.code === 'E_INTERRUPTED') {
            p.e.status = 'pending'; // stopped by the user: resumable, not a failure of the account
          } else if (outcome.status === 'failed' && outcome.error?.transient && p.e.attempts <= o.retries && !o.signal?.aborted) {
            p.e.status = 'pending';
            pending.push({ ...p, notBefore: Date.now() + retryDelayMs * 2 ** (p.e.attempts - 1) });
          }
          publish();
          wake?.();
        });
    }
  };

  while (!o.signal?.aborted && (pending.length > 0 || running > 0)) {
    startable();
    if (running === 0 && pending.length > 0) {
      // Only backoffs are waiting: sleep until the earliest.
      const next = Math.min(...pending.map((p) => p.notBefore));
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.max(0, next - Date.now()));
      });
    } else {
      await new Promise<void>((resolve) => {
        wake = resolve;
        // Backoffs may end while others run.
        timer = setTimeout(resolve, 1000);
      });
    }
    clearTimeout(timer);
  }
  // Aborted: the running imports were sent SIGINT through the same signal; wait for them to flush their journals.
  while (running > 0) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, 1000);
    });
    clearTimeout(timer);
  }
  o.signal?.removeEventListener('abort', onAbort);
  finished = true;
  return publish();
}
