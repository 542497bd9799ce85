import { hostname } from 'node:os';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job, type JobType } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigError, MailmigrateError } from '../core/errors.js';
import type { ChildHeap } from '../core/settings.js';
import { hostKey, safeName, serverKeys, type AccountSpec } from './account.js';
import { runAccount, type AccountOutcome } from './account-runner.js';
import { applyOutcome, newEntry, summarize, type AccountEntry, type BatchSummary } from './batch-state.js';
import { CONTROL_CONNECTIONS } from './host-budget.js';

// Fleet migrations beyond one machine (issue 15), on BullMQ over Redis — an existing distributed job engine, not a
// home-made queue. What it gives us, and how we use it:
// - One queue per target server ("mailmigrate.<host>_<port>"), whose *global concurrency* (BullMQ counts active
//   jobs across every worker) is --max-connections-per-host divided by one account's connections: the server's
//   cap holds however many workers run on however many machines.
// - Job ids are the accounts' ids, so enqueueing the same CSV twice adds nothing; a failed account is retried.
// - Retries with exponential backoff for transient failures (failure-class.ts); permanent ones throw BullMQ's
//   UnrecoverableError, which fails the job at once with the reason.
// - Stalled-job recovery: a worker holds a lock on its job and renews it; a worker killed with SIGKILL stops
//   renewing, and after the lock expires another worker's stalled check moves the job back to wait, where any
//   worker takes it and resumes the account (its import reconciles with the server). The import of the dead
//   worker is stopped by child-guard.ts when its parent dies, so the two never run at once.
// - Jobs carry no secrets: the account holds a password *file path* or an environment variable *name*, resolved
//   by the worker that runs it. The Redis password, if any, comes from MAILMIGRATE_REDIS_PASSWORD, never argv.
//
// Workers discover queues through one Redis set (REGISTRY_KEY) that `batch --queue` fills.

export const REGISTRY_KEY = 'mailmigrate:fleet:queues';
const JOB_NAME = 'account';

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** `redis://HOST[:PORT][/DB]`; a password in the URL is refused (argv is world-readable), take it from env. */
export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('--queue', `"${url}" is not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:') throw new ConfigError('--queue', `expected redis://HOST:PORT, got ${u.protocol}//`);
  if (u.password) throw new ConfigError('--queue', 'holds a password; command lines are visible to every user (ps): set MAILMIGRATE_REDIS_PASSWORD instead');
  if (!u.hostname) throw new ConfigError('--queue', 'has no host');
  const port = u.port ? Number(u.port) : 6379;
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError('--queue', `database "${dbText}" is not a number`);
  const password = env['MAILMIGRATE_REDIS_PASSWORD'];
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, db, username: u.username || undefined, password: password || undefined };
}

function connection(t: RedisTarget): Record<string, unknown> {
  // maxRetriesPerRequest null: BullMQ workers block on Redis and require it; connectTimeout bounds the first wait.
  return { host: t.host, port: t.port, db: t.db, username: t.username, password: t.password, maxRetriesPerRequest: null, connectTimeout: 10_000 };
}

async function withRedis<T>(t: RedisTarget, fn: (r: Redis) => Promise<T>): Promise<T> {
  // No reconnect loop for these short look-ups: an unreachable Redis is reported at once, with its reason.
  const r = new Redis({ ...connection(t), maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  let lastError: (Error & { code?: string }) | undefined;
  r.on('error', (err: Error) => void (lastError = err));
  try {
    try {
      await r.connect();
    } catch (err) {
      const e = lastError ?? (err as Error & { code?: string });
      throw new MailmigrateError('E_QUEUE_UNREACHABLE', `cannot reach Redis at ${t.host}:${t.port}: ${e.code ?? e.message}`, 'later', { cause: err });
    }
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export function queueName(host: string): string {
  return `mailmigrate.${host.replace(/[^A-Za-z0-9.-]/g, '_')}`;
}

/** What a job carries: the account (references to secrets only) and its share of the server's budget. */
export interface AccountJobData {
  readonly v: 1;
  readonly account: AccountSpec;
  readonly connections: number;
  /** The accounts file it came from, for the aggregate. */
  readonly source: string;
  /** The last attempt's outcome, written by the worker before it reports a failure. */
  readonly outcome?: AccountOutcome;
  readonly worker?: string;
}

export interface EnqueueOptions {
  readonly source: string;
  readonly maxConnectionsPerHost: number;
  /** Tries per account for transient failures (BullMQ attempts = retries + 1). */
  readonly retries: number;
  readonly backoffMs: number;
}

export interface EnqueueResult {
  readonly queues: Array<{ name: string; host: string; globalConcurrency: number; connectionsPerAccount: number; added: number; retried: number; kept: number }>;
}

export async function enqueueBatch(t: RedisTarget, accounts: readonly AccountSpec[], o: EnqueueOptions): Promise<EnqueueResult> {
  if (o.maxConnectionsPerHost < 1 + CONTROL_CONNECTIONS) {
    throw new ConfigError('--max-connections-per-host', `must be at least ${1 + CONTROL_CONNECTIONS} (per account: the control session, the folder survey, the bulk reader and one APPEND connection)`);
  }
  await withRedis(t, (r) => r.ping()); // fail fast, before BullMQ's own connections start retrying
  // One queue per server, however its name is spelled: the queue's global concurrency is the server's budget.
  const keys = await serverKeys(accounts);
  const byHost = new Map<string, AccountSpec[]>();
  for (const a of accounts) byHost.set(keys.get(a)!, [...(byHost.get(keys.get(a)!) ?? []), a]);
  const result: EnqueueResult = { queues: [] };
  for (const [host, list] of byHost) {
    const name = queueName(host);
    // Every account of the server gets the same share, so concurrency × share never exceeds the cap.
    const share = Math.max(1, Math.min(Math.max(...list.map((a) => a.connections)), o.maxConnectionsPerHost - CONTROL_CONNECTIONS));
    const globalConcurrency = Math.max(1, Math.floor(o.maxConnectionsPerHost / (share + CONTROL_CONNECTIONS)));
    const queue = new Queue<AccountJobData>(name, { connection: connection(t) });
    queue.on('error', () => undefined);
    let added = 0;
    let retried = 0;
    let kept = 0;
    try {
      await queue.setGlobalConcurrency(globalConcurrency);
      await withRedis(t, (r) => r.sadd(REGISTRY_KEY, name));
      for (const a of list) {
        const jobId = safeName(a.id);
        const existing = await queue.getJob(jobId);
        if (existing) {
          if (await existing.isFailed()) {
            await existing.updateData({ v: 1, account: a, connections: share, source: o.source });
            // A fresh set of tries: the earlier ones were spent on what the admin has fixed since (a password, a path).
            await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
            retried++;
          } else kept++;
          continue;
        }
        await queue.add(JOB_NAME, { v: 1, account: a, connections: share, source: o.source }, {
          jobId,
          attempts: o.retries + 1,
          backoff: { type: 'exponential', delay: o.backoffMs },
          removeOnComplete: false,
          removeOnFail: false,
        });
        added++;
      }
    } finally {
      await queue.close();
    }
    result.queues.push({ name, host, globalConcurrency, connectionsPerAccount: share, added, retried, kept });
  }
  return result;
}

export interface WorkerOptions {
  readonly concurrency: number;
  readonly stateDir: string;
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
  /** How each import's process starts (RunAccountOptions.heap). */
  readonly heap?: ChildHeap | undefined;
  readonly accountTimeoutMs: number;
  /** BullMQ lock duration: how long a dead worker's job waits before another takes it (default 30 s). */
  readonly lockMs: number;
  /** How often the registry is re-read for queues added after the worker started. */
  readonly discoverMs?: number;
  readonly signal: AbortSignal;
  readonly onEvent?: ((e: WorkerEvent) => void) | undefined;
}

export type WorkerEvent =
  | { kind: 'queue'; queue: string }
  | { kind: 'start'; queue: string; account: string; attempt: number }
  | { kind: 'end'; queue: string; account: string; outcome: AccountOutcome; willRetry: boolean };

/** Takes account jobs from every registered queue until `signal` aborts; then interrupts running imports and closes. */
export async function runWorker(t: RedisTarget, o: WorkerOptions): Promise<void> {
  const name = `${hostname()}:${process.pid}`;
  const workers = new Map<string, Worker<AccountJobData, AccountOutcome>>();
  const imports = new AbortController();
  const processJob = async (job: Job<AccountJobData, AccountOutcome>, token?: string): Promise<AccountOutcome> => {
    const { account, connections } = job.data;
    o.onEvent?.({ kind: 'start', queue: job.queueName, account: account.id, attempt: job.attemptsMade + 1 });
    const outcome = await runAccount(account, {
      bin: o.bin, stateDir: o.stateDir, connections, timeoutMs: o.accountTimeoutMs, signal: imports.signal, env: o.env, heap: o.heap,
    });
    if (imports.signal.aborted && outcome.error?.code === 'E_INTERRUPTED') {
      // This worker is stopping (SIGTERM, Ctrl-C): the account goes back to the queue without spending one of its
      // tries — restarting workers for an upgrade must not fail accounts.
      o.onEvent?.({ kind: 'end', queue: job.queueName, account: account.id, outcome, willRetry: true });
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const maxAttempts = job.opts.attempts ?? 1;
    const willRetry = outcome.status === 'failed' && outcome.error?.transient === true && job.attemptsMade + 1 < maxAttempts;
    o.onEvent?.({ kind: 'end', queue: job.queueName, account: account.id, outcome, willRetry });
    if (outcome.status === 'complete') return outcome;
    await job.updateData({ ...job.data, outcome, worker: name });
    const reason = `${outcome.error?.code ?? 'E_FAILED'}: ${outcome.error?.message ?? 'failed'}`;
    if (outcome.error?.transient) throw new Error(reason);
    throw new UnrecoverableError(reason);
  };

  const discover = async (): Promise<void> => {
    const names = await withRedis(t, (r) => r.smembers(REGISTRY_KEY));
    for (const q of names.sort()) {
      if (workers.has(q) || o.signal.aborted) continue;
      const w = new Worker<AccountJobData, AccountOutcome>(q, processJob, {
        connection: connection(t),
        concurrency: o.concurrency,
        name,
        lockDuration: o.lockMs,
        stalledInterval: Math.max(1000, Math.floor(o.lockMs / 2)),
        // A job whose worker died twice still gets a third chance; beyond that something is wrong with it.
        maxStalledCount: 2,
      });
      w.on('error', () => undefined); // connection blips: BullMQ reconnects; a lost lock shows as a stalled job
      workers.set(q, w);
      o.onEvent?.({ kind: 'queue', queue: q });
    }
  };

  await discover();
  const discoverMs = o.discoverMs ?? 5000;
  while (!o.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, discoverMs);
      o.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (!o.signal.aborted) await discover().catch(() => undefined);
  }
  // Stop taking jobs, interrupt running imports (they flush their journals; their jobs are retried elsewhere).
  imports.abort();
  await Promise.all([...workers.values()].map((w) => w.close()));
}

const STATES: ReadonlyArray<readonly [JobType, AccountEntry['status']]> = [
  // 'waiting' is BullMQ's 'wait' list (asking for both would list each waiting job twice).
  ['active', 'running'], ['waiting', 'pending'], ['prioritized', 'pending'], ['delayed', 'pending'],
  ['waiting-children', 'pending'], ['completed', 'complete'], ['failed', 'failed'],
];

/** The aggregate of every registered queue, in the shape of batch.json (per-account files are on the workers). */
export async function queueStatus(t: RedisTarget, now = new Date()): Promise<BatchSummary> {
  const names = await withRedis(t, (r) => r.smembers(REGISTRY_KEY));
  const entries: AccountEntry[] = [];
  let startedAt = now;
  let source = '';
  const PAGE = 500;
  for (const name of names.sort()) {
    const queue = new Queue<AccountJobData>(name, { connection: connection(t) });
    queue.on('error', () => undefined);
    try {
      for (const [type, status] of STATES) {
        for (let start = 0; ; start += PAGE) {
          const jobs = (await queue.getJobs(type, start, start + PAGE - 1, true)) as unknown as Array<Job<AccountJobData, AccountOutcome> | undefined>;
          for (const job of jobs) {
            if (!job?.data?.account) continue;
            const a = job.data.account;
            const e = newEntry({ id: a.id, line: a.line, user: a.user, host: hostKey(a), source: a.source });
            source ||= job.data.source;
            if (job.timestamp && job.timestamp < startedAt.getTime()) startedAt = new Date(job.timestamp);
            const outcome = status === 'complete' ? job.returnvalue : job.data.outcome;
            if (outcome) applyOutcome(e, outcome);
            e.status = status;
            e.attempts = job.attemptsMade + (status === 'running' ? 1 : 0);
            if (status === 'failed' && !e.error) {
              e.error = { code: /^(E_[A-Z0-9_]+):/.exec(job.failedReason ?? '')?.[1] ?? 'E_FAILED', message: job.failedReason ?? 'failed', transient: false };
            }
            const worker = job.processedBy ?? job.data.worker;
            if (worker) e.worker = worker;
            entries.push(e);
          }
          if (jobs.length < PAGE) break;
        }
      }
    } finally {
      await queue.close();
    }
  }
  entries.sort((x, y) => x.line - y.line || x.id.localeCompare(y.id));
  const finished = entries.length > 0 && entries.every((e) => e.status === 'complete' || e.status === 'failed');
  return summarize(entries, { mode: 'queue', source, startedAt, now, finished, maxConnectionsPerHost: null });
}
