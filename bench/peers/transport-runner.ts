// The mailmigrate rows of `npm run bench:peers` while the `import` command is not there yet: the same path the
// importer takes (Maildir source → readAhead → MULTIAPPEND batches over the Pool), without the journal.
//
//     node dist/bench/peers/transport-runner.js HOST PORT USER MAILDIR [--connections C] [--pipeline D] [--batch B]
//          [--trace FILE]                                                   (password in MM_BENCH_PASSWORD)
//
// Prints one JSON line {"appended", "failed", "bytes", "seconds", "settings", "timing"}; "timing" summarizes every
// APPEND's timing record (queue wait, recv-wait, and Dovecot's own "(running + io-wait [+ after-run] secs)" from the
// tagged OK; see parseDovecotTimingParts), which is how the peers benchmark shows where mailmigrate's time goes. --trace writes one compact
// NDJSON line per command for a closer look.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_SETTINGS } from '../../src/bench/profiles.js';
import { parseDovecotTimingParts } from '../../src/analysis/diagnosis.js';
import { percentile } from '../../src/analysis/stats.js';
import type { AppendMessage } from '../../src/core/types.js';
import { MaildirSource, readAhead } from '../../src/sources/index.js';
import { Pool } from '../../src/transport/pool.js';
import { derivePhases, type TimingRecord } from '../../src/transport/timing.js';

export interface TimingSummary {
  readonly commands: number;
  readonly messagesPerCommand: number;
  /** Medians (ms) per command. */
  readonly queueWaitMs: number;
  readonly writeMs: number;
  readonly recvWaitMs: number;
  /** Dovecot's own numbers (ms, each rounded UP to a whole ms by Dovecot): the command's code running; the process
   *  waiting in its event loop while the command was active (the rest of a literal, output to drain); time after
   *  the last run before the reply. Lock waits are not in the reply. */
  readonly dovecotRunningMs: number;
  readonly dovecotIoWaitMs: number;
  readonly dovecotAfterRunMs: number;
  /** Sums over the run (ms), to set against the wall time × connections. */
  readonly sums: { recvWaitMs: number; dovecotRunningMs: number; dovecotIoWaitMs: number; queueWaitMs: number };
  readonly meanDepthAtSend: number;
}

export function summarizeTiming(records: readonly TimingRecord[]): TimingSummary {
  const q: number[] = [];
  const w: number[] = [];
  const rw: number[] = [];
  const run: number[] = [];
  const io: number[] = [];
  const after: number[] = [];
  let msgs = 0;
  let depth = 0;
  for (const r of records) {
    const p = derivePhases(r);
    msgs += r.messages;
    depth += r.depthAtSend;
    if (p.queueWaitMs !== undefined) q.push(p.queueWaitMs);
    if (p.writeMs !== undefined) w.push(p.writeMs);
    if (p.recvWaitMs !== undefined) rw.push(p.recvWaitMs);
    const d = r.outcome?.text ? parseDovecotTimingParts(r.outcome.text) : undefined;
    if (d) {
      run.push(d.runningMs);
      io.push(d.ioWaitMs);
      if (d.afterRunMs !== undefined) after.push(d.afterRunMs);
    }
  }
  const med = (xs: number[]): number => Math.round((percentile(xs, 50) ?? 0) * 1000) / 1000;
  const sum = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0));
  const n = records.length;
  return {
    commands: n,
    messagesPerCommand: n ? msgs / n : 0,
    queueWaitMs: med(q),
    writeMs: med(w),
    recvWaitMs: med(rw),
    dovecotRunningMs: med(run),
    dovecotIoWaitMs: med(io),
    dovecotAfterRunMs: med(after),
    sums: { recvWaitMs: sum(rw), dovecotRunningMs: sum(run), dovecotIoWaitMs: sum(io), queueWaitMs: sum(q) },
    meanDepthAtSend: n ? depth / n : 0,
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      connections: { type: 'string', default: String(DEFAULT_SETTINGS.connections) },
      pipeline: { type: 'string', default: String(DEFAULT_SETTINGS.pipelineDepth) },
      batch: { type: 'string', default: String(DEFAULT_SETTINGS.batch) },
      trace: { type: 'string' },
    },
  });
  const [host, portText, user, maildir] = positionals;
  if (!host || !portText || !user || !maildir) throw new Error('usage: transport-runner HOST PORT USER MAILDIR [options]');
  const password = process.env['MM_BENCH_PASSWORD'];
  if (!password) throw new Error('MM_BENCH_PASSWORD is not set');
  const settings = {
    ...DEFAULT_SETTINGS,
    connections: Number(values.connections),
    pipelineDepth: Number(values.pipeline),
    batch: Number(values.batch),
  };
  const records: TimingRecord[] = [];
  const t0 = performance.now();
  const pool = await Pool.open({
    host,
    port: Number(portText),
    tls: 'none',
    auth: { user, password },
    ...settings,
    onRecord: (r) => {
      if (r.verb === 'APPEND') records.push(r);
    },
  });
  let appended = 0;
  let failed = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const inflight = new Set<Promise<void>>();
  const send = async (group: AppendMessage[]): Promise<void> => {
    await pool.whenWritable();
    const p = pool.append('INBOX', group).then((outs) =>
      outs.forEach((o, k) => {
        if (o.status === 'appended') {
          appended++;
          bytes += group[k]!.data.length;
        } else {
          failed++;
          firstError ??= o.error.message;
        }
      }),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  try {
    let group: AppendMessage[] = [];
    for await (const item of readAhead(new MaildirSource(maildir, 'maildir').items())) {
      if (item.kind === 'skipped') continue;
      if (item.kind !== 'message') {
        failed++;
        firstError ??= item.error.message;
        continue;
      }
      group.push({ mailbox: 'INBOX', flags: item.message.flags, internalDate: item.message.internalDate, data: item.normalized.data });
      if (group.length >= settings.batch) {
        await send(group);
        group = [];
      }
    }
    if (group.length) await send(group);
    await Promise.all(inflight);
  } finally {
    await pool.close().catch(() => undefined);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (values.trace) {
    const lines = records.map((r) => {
      const p = derivePhases(r);
      return JSON.stringify({ c: r.connectionId, n: r.messages, bytes: r.literalBytes, depth: r.depthAtSend, ...p, ok: r.outcome?.text });
    });
    await writeFile(values.trace, lines.join('\n') + '\n');
  }
  const out = { appended, failed, bytes, seconds, settings, timing: summarizeTiming(records), ...(firstError ? { error: firstError } : {}) };
  process.stdout.write(JSON.stringify(out) + '\n');
  if (failed) process.exitCode = 1;
}

// Runs only as a script, so peers.ts can import summarizeTiming without starting a run.
if (process.argv[1] && /transport-runner\.(js|ts)$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stdout.write(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n');
    process.exitCode = 1;
  });
}
