import type cliProgressModule from 'cli-progress';
import { byAttention, type AccountEntry, type BatchSummary } from '../../fleet/batch-state.js';
import { cliProgress, fmtEta } from './progress.js';


// Rendering of a fleet batch: the live progress (one overall bar plus one line per running account on a TTY,
// plain lines otherwise) and the closing summary, shared by `batch` and `batch status`.

const mb = (b: number): string => (b / 1e6).toFixed(1);

/** The closing text: totals, then every failed account with its reason. Pure. */
export function renderBatchSummary(s: BatchSummary, where?: string): string {
  const a = s.accounts;
  const lines = [
    `Accounts: ${a.complete} complete, ${a.failed} failed, ${a.running} running, ${a.pending} pending (of ${a.total})`,
    `Messages: ${s.messages.appended} appended, ${s.messages.skipped} skipped, ${s.messages.failed} failed; ${mb(s.bytes)} MB; ${s.msgsPerSec} msg/s over ${(s.elapsedMs / 1000).toFixed(1)} s`,
  ];
  const rechecked = s.list.filter((e) => e.wasComplete && e.attempts > 0).length;
  if (rechecked) lines.push(`Re-checked against the server: ${rechecked} account(s) complete in an earlier run`);
  const failed = byAttention(s.list).filter((e) => e.status === 'failed');
  if (failed.length) {
    lines.push('Failed accounts:');
    for (const e of failed) lines.push(`  line ${e.line} ${e.id}: ${e.error ? `${e.error.message} (${e.error.code})` : 'failed'}${e.dir ? `\n    log: ${e.dir}/import.log` : ''}`);
  }
  if (where) lines.push(`State: ${where}`);
  return lines.join('\n');
}

/** The plain line for one account that ended. Pure. */
export function accountLine(e: AccountEntry, done: number, total: number): string {
  const head = `[${done}/${total}] ${e.id}`;
  if (e.status === 'complete') return `${head}: complete, ${e.appended} appended, ${e.skipped} skipped (${(e.elapsedMs / 1000).toFixed(1)} s)`;
  if (e.status === 'failed') return `${head}: FAILED ${e.error ? `${e.error.message} (${e.error.code})` : ''}`;
  return `${head}: ${e.status}${e.error ? ` — will retry: ${e.error.message} (${e.error.code})` : ''}`;
}

export interface BatchProgress {
  update(s: BatchSummary): void;
  stop(): void;
}

/** Live progress. On a TTY: cli-progress MultiBar; otherwise a line per account that ends. */
export function createBatchProgress(stream: NodeJS.WriteStream = process.stderr, tty = stream.isTTY === true): BatchProgress {
  const finished = new Set<string>();
  const announce = (s: BatchSummary, log: (line: string) => void): void => {
    const doneCount = s.accounts.complete + s.accounts.failed;
    for (const e of s.list) {
      const key = `${e.id}#${e.attempts}`;
      if (e.status === 'running' || e.attempts === 0 || finished.has(key)) continue;
      if (e.status === 'pending' && !e.error) continue;
      finished.add(key);
      log(accountLine(e, doneCount, s.accounts.total));
    }
  };
  if (!tty) {
    return { update: (s) => announce(s, (l) => void stream.write(`${l}\n`)), stop: () => undefined };
  }
  const multi = new (cliProgress().MultiBar)(
    { stream, hideCursor: true, clearOnComplete: true, fps: 5, format: '{text}', autopadding: true },
    cliProgress().Presets.shades_classic,
  );
  const overall = multi.create(1, 0, { text: '' }, { format: ' {bar} {value}/{total} accounts | {text}' });
  const lines = new Map<string, cliProgressModule.SingleBar>();
  const started = Date.now();
  return {
    update: (s) => {
      announce(s, (l) => multi.log(`${l}\n`));
      const done = s.accounts.complete + s.accounts.failed;
      const rate = done / Math.max(1, Date.now() - started);
      overall.setTotal(Math.max(1, s.accounts.total));
      overall.update(done, {
        text: `${s.accounts.failed} failed | ${s.messages.appended} msgs | ${mb(s.bytes)} MB | ETA ${fmtEta(rate > 0 ? (s.accounts.total - done) / rate / 1000 : undefined)}`,
      });
      const running = new Set(s.list.filter((e) => e.status === 'running').map((e) => e.id));
      for (const [id, bar] of lines) {
        if (!running.has(id)) {
          multi.remove(bar);
          lines.delete(id);
        }
      }
      for (const e of s.list) {
        if (e.status !== 'running') continue;
        const text = `   ${e.id}: running since ${e.startedAt ? new Date(e.startedAt).toISOString().slice(11, 19) : 'now'}, attempt ${e.attempts}, ${e.connections ?? '?'} connection(s)`;
        const bar = lines.get(e.id);
        if (bar) bar.update(0, { text });
        else lines.set(e.id, multi.create(1, 0, { text }));
      }
    },
    stop: () => multi.stop(),
  };
}
