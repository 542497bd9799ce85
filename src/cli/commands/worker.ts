import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { EXIT_OK } from '../exit-code.js';
import { accountLine } from '../render/batch.js';
import { newEntry, applyOutcome } from '../../fleet/batch-state.js';
import { binPath, LEAN_HEAP_HELP } from './batch.js';
import { optionalIntegerOption } from '../integer-option.js';
import { LEAN_HEAP } from '../../core/settings.js';

// `mailmigrate worker --queue redis://HOST:PORT` (issue 15): takes account jobs enqueued by `batch --queue` and
// runs each as a child `mailmigrate import`, exactly as `batch` does on one machine. Run one per machine (or
// several); stop with Ctrl-C or SIGTERM: running accounts are interrupted (their journals flushed) and their jobs
// go back to the queue for another worker.

interface WorkerCliOptions {
  queue: string;
  concurrency?: string;
  stateDir?: string;
  accountTimeout?: string;
  lockMs?: string;
  leanHeap?: boolean;
}

function defaultStateDir(): string {
  const base = process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'mailmigrate', 'fleet');
}

export function registerWorker(program: Command): Command {
  return program
    .command('worker')
    .description('Take account jobs from a BullMQ queue (see `batch --queue`) and import them; run on any number of machines')
    .requiredOption('--queue <url>', 'redis://HOST:PORT (password: env MAILMIGRATE_REDIS_PASSWORD)')
    .option('--concurrency <n>', 'accounts at once per target server on this worker (default 2); the queue caps the total across workers')
    .option('--state-dir <dir>', 'per-account journal, report and log on this machine (default $XDG_STATE_HOME/mailmigrate/fleet)')
    .option('--account-timeout <minutes>', 'deadline for one account; then it is interrupted and retried (default 1440 = 24 h)')
    .option('--lean-heap', LEAN_HEAP_HELP)
    .addOption(new Option('--lock-ms <ms>', 'BullMQ lock duration: how soon a dead worker\'s account is handed to another').default('30000').hideHelp())
    .action(async (opts: WorkerCliOptions) => {
      // Loaded here, not at program start: see batch.ts.
      const { parseQueueUrl, runWorker } = await import('../../fleet/queue.js');
      const target = parseQueueUrl(opts.queue, process.env);
      const stateDir = resolve(opts.stateDir ?? defaultStateDir());
      const abort = new AbortController();
      const stop = (): void => {
        if (abort.signal.aborted) return;
        process.stderr.write('Stopping: interrupting running accounts; their jobs return to the queue\n');
        abort.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const log = (s: string): void => void process.stdout.write(`${s}\n`);
      let done = 0;
      try {
        log(`Worker ${process.pid}: state in ${stateDir}`);
        await runWorker(target, {
          concurrency: optionalIntegerOption('--concurrency', opts.concurrency, 1, 1000) ?? 2,
          stateDir,
          bin: binPath(),
          env: process.env,
          heap: opts.leanHeap ? LEAN_HEAP : undefined,
          accountTimeoutMs: (optionalIntegerOption('--account-timeout', opts.accountTimeout, 1, 60 * 24 * 30) ?? 1440) * 60_000,
          lockMs: optionalIntegerOption('--lock-ms', opts.lockMs, 1000, 3_600_000) ?? 30_000,
          signal: abort.signal,
          onEvent: (e) => {
            if (e.kind === 'queue') log(`Listening on ${e.queue}`);
            else if (e.kind === 'start') log(`${e.account}: started (attempt ${e.attempt})`);
            else {
              const entry = newEntry({ id: e.account, line: 0, user: '', host: '', source: '' });
              applyOutcome(entry, e.outcome);
              if (e.willRetry) entry.status = 'pending';
              entry.attempts = 1;
              log(accountLine(entry, ++done, done));
            }
          },
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      process.exitCode = EXIT_OK;
    });
}
