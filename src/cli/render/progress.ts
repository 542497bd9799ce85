import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';
import { printable } from '../../core/printable.js';

// cli-progress is loaded on the first bar drawn, not at start-up: off a TTY (CI, a batch's child imports) it is
// never needed (docs/measurements.md "Start-up"). It is CommonJS, so a synchronous require keeps this API sync.
let cliProgressLoaded: typeof cliProgressModule | undefined;
export const cliProgress = (): typeof cliProgressModule => (cliProgressLoaded ??= createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule);

// Live progress of an import or a verify. On a TTY: one cli-progress bar (messages, MB, msg/s, ETA) on stderr,
// redrawn at most 10×/s. Otherwise (CI logs, pipes): one plain line every `intervalMs`, so a log shows that the run
// is alive without a carriage-return mess. The total is often unknown at the start (sources stream and are counted
// in the background), so the bar starts open-ended and setTotal() fills it in.

export interface ProgressSnapshot {
  readonly appended: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytes: number;
  readonly seen: number;
}

export interface ProgressRenderer {
  update(p: ProgressSnapshot): void;
  setTotal(messages: number): void;
  /** Prints a line above the bar (or as a plain line). */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  readonly stream?: NodeJS.WriteStream;
  readonly tty?: boolean;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/** msg/s and ETA from counts and elapsed time; pure so it is tested without a terminal. */
export function rateAndEta(done: number, total: number | undefined, elapsedMs: number): { rate: number; etaS: number | undefined } {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  if (total === undefined || rate <= 0) return { rate, etaS: undefined };
  return { rate, etaS: Math.max(0, (total - done) / rate) };
}

export function fmtEta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** The plain line used off a TTY. */
export function plainLine(p: ProgressSnapshot, total: number | undefined, elapsedMs: number): string {
  const done = p.appended + p.skipped + p.failed;
  const { rate, etaS } = rateAndEta(done, total, elapsedMs);
  const of = total !== undefined ? `/${total}` : '';
  return `progress: ${done}${of} messages (${p.appended} appended, ${p.skipped} skipped, ${p.failed} failed), ${mb(p.bytes)} MB, ${rate.toFixed(0)} msg/s, ETA ${fmtEta(etaS)}`;
}

export function createProgress(options: ProgressOptions = {}): ProgressRenderer {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let total: number | undefined;
  let last: ProgressSnapshot = { appended: 0, skipped: 0, failed: 0, bytes: 0, seen: 0 };

  if (!tty) {
    const intervalMs = options.intervalMs ?? 5000;
    let printed = '';
    const tick = (): void => {
      const line = plainLine(last, total, now() - started);
      if (line !== printed) stream.write(`${line}\n`);
      printed = line;
    };
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    return {
      update: (p) => void (last = { ...p }),
      setTotal: (n) => void (total = n),
      log: (line) => void stream.write(`${printable(line)}\n`),
      stop: () => clearInterval(timer),
    };
  }

  const bar = new (cliProgress().SingleBar)(
    {
      stream,
      format: ' {bar} {done}/{totalText} msgs | {mb} MB | {rate} msg/s | ETA {etaText} | {failed} failed',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
      etaBuffer: 50,
    },
    cliProgress().Presets.shades_classic,
  );
  const payload = (): Record<string, string | number> => {
    const done = last.appended + last.skipped + last.failed;
    const { rate, etaS } = rateAndEta(done, total, now() - started);
    return { done, totalText: total ?? '?', mb: mb(last.bytes), rate: rate.toFixed(0), etaText: fmtEta(etaS), failed: last.failed };
  };
  bar.start(1, 0, payload());
  let stopped = false;
  return {
    update: (p) => {
      last = { ...p };
      const done = p.appended + p.skipped + p.failed;
      if (total === undefined) bar.setTotal(Math.max(done + 1, 1));
      bar.update(Math.min(done, total ?? done), payload());
    },
    setTotal: (n) => {
      total = n;
      bar.setTotal(Math.max(1, n));
      bar.update(payload());
    },
    log: (line) => {
      // cli-progress has no "print above the bar" for a SingleBar: clear the line, print, let the next redraw
      // bring the bar back.
      stream.write(`\r\x1b[2K${printable(line)}\n`);
      bar.update(payload());
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
