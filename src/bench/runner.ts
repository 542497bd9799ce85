import { systemClock } from '../core/clock.js';
import { toMailmigrateError } from '../core/errors.js';
import type { AppendMessage } from '../core/types.js';
import { diffCounters, readKernelCounters } from '../core/kernel-counters.js';
import { encodeMailbox } from '../imap/compiler.js';
import { Connection, type Credentials, type TlsMode } from '../transport/connection.js';
import { boundsFor } from '../core/settings.js';
import { AdaptiveController } from '../migrate/adaptive-run.js';
import { Pool, type PoolEvent } from '../transport/pool.js';
import type { TimingRecord } from '../transport/timing.js';
import { derivePhases } from '../transport/timing.js';
import { generateMessage } from './corpus.js';
import { diagnose, parseDovecotTiming } from '../analysis/diagnosis.js';
import type { Profile } from './profiles.js';
import { rates, type BenchRun } from './report.js';
import { LatencyStats } from '../analysis/stats.js';

export interface BenchTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly auth: Credentials;
  readonly ca?: Buffer | undefined;
  readonly rejectUnauthorized?: boolean | undefined;
}

/**
 * The messages a bench sends: generated once, before any clock starts, so generation never counts as
 * transport time. Up to `maxBytes` distinct messages are kept; a longer run cycles through them (the
 * Message-IDs then repeat, which a bench mailbox does not mind).
 */
export class BenchCorpus {
  private readonly messages: Buffer[] = [];
  readonly bytes: number;
  constructor(
    readonly count: number,
    readonly options: { seed: number; size?: number | undefined },
    maxBytes = 256 * 1024 * 1024,
  ) {
    let bytes = 0;
    for (let i = 0; i < count && bytes < maxBytes; i++) {
      const m = generateMessage(i, options);
      this.messages.push(m);
      bytes += m.length;
    }
    let total = 0;
    for (let i = 0; i < count; i++) total += this.get(i).length;
    this.bytes = total;
  }
  get(i: number): Buffer {
    return this.messages[i % this.messages.length]!;
  }
}

export interface RunOptions {
  /** Stop after this long even if the corpus is not done; the rate is still honest (messages / elapsed). */
  readonly durationMs: number;
  /** Mailbox for this run; deleted afterwards unless keep. */
  readonly mailbox: string;
  readonly keep?: boolean;
  readonly onProgress?: (done: number) => void;
  readonly onRecord?: (r: TimingRecord) => void;
}

const SAMPLE = 20_000;

/** Runs one profile against the target and returns its measured row. */
export async function runProfile(target: BenchTarget, profile: Profile, corpus: BenchCorpus, options: RunOptions): Promise<BenchRun> {
  const s = profile.settings;
  const byVerb = new Map<string, LatencyStats>();
  const sample: TimingRecord[] = [];
  let seen = 0;
  const serverMs: number[] = [];
  const connectMs: number[] = [];
  const onRecord = (r: TimingRecord): void => {
    options.onRecord?.(r);
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined && r.outcome?.status === 'OK') {
      let st = byVerb.get(r.verb);
      if (!st) byVerb.set(r.verb, (st = new LatencyStats()));
      st.record(w);
    }
    const dovecot = r.outcome?.text ? parseDovecotTiming(r.outcome.text) : undefined;
    if (dovecot !== undefined && serverMs.length < SAMPLE) serverMs.push(dovecot);
    // Reservoir sample (algorithm R) so diagnosis sees the whole run in bounded memory.
    seen++;
    if (sample.length < SAMPLE) sample.push(r);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < SAMPLE) sample[j] = r;
    }
  };
  const events: PoolEvent[] = [];
  const bounds = boundsFor(s);
  const controller = profile.adaptive
    ? new AdaptiveController(
        { enabled: true, literalMode: s.literalMode, batch: s.batch, bounds },
        { pipelineDepth: s.pipelineDepth, connections: s.connections, connectionsPerFolder: undefined },
      )
    : undefined;
  const before = readKernelCounters();
  const pool = await Pool.open({
    host: target.host,
    port: target.port,
    tls: target.tls,
    ca: target.ca,
    rejectUnauthorized: target.rejectUnauthorized,
    auth: target.auth,
    noDelay: s.noDelay,
    writeMode: s.writeMode,
    literalMode: s.literalMode,
    pipelineDepth: s.pipelineDepth,
    connections: s.connections,
    ...(controller ? { observer: controller, maxPipelineDepth: bounds.maxPipelineDepth } : {}),
    onRecord,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'connected') connectMs.push(e.connectMs);
    },
  });
  const batch = pool.capabilities?.multiappend ? Math.max(1, s.batch) : 1;
  const clock = systemClock;
  let appended = 0;
  let failed = 0;
  let bytes = 0;
  let firstError: string | undefined;
  let stoppedEarly = false;
  const pending = new Set<Promise<void>>();
  const start = clock.now();
  try {
    // The first APPEND to the new mailbox draws NO [TRYCREATE] and a CREATE: part of any real import, one round trip.
    for (let i = 0, n = batch; i < corpus.count; i += n) {
      if (clock.now() - start > options.durationMs) {
        stoppedEarly = true;
        break;
      }
      await pool.whenWritable();
      // An adapted batch size applies from the next batch (as the importer's dispatch should read it).
      n = pool.capabilities?.multiappend ? Math.max(1, pool.batchSize ?? batch) : 1;
      const msgs: AppendMessage[] = [];
      for (let j = i; j < Math.min(corpus.count, i + n); j++) msgs.push({ mailbox: options.mailbox, flags: [], data: corpus.get(j) });
      const p = pool.append(options.mailbox, msgs).then((outs) => {
        outs.forEach((o, k) => {
          if (o.status === 'appended') {
            appended++;
            bytes += msgs[k]!.data.length;
          } else {
            failed++;
            firstError ??= o.error.message;
          }
        });
        options.onProgress?.(appended);
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
      if (failed > 100 && appended === 0) break;
    }
    await Promise.all(pending);
  } finally {
    await pool.close().catch(() => undefined);
  }
  const elapsedMs = clock.now() - start;
  const after = readKernelCounters();
  if (appended === 0 && failed > 0) {
    throw toMailmigrateError(new Error(`profile ${profile.name}: every APPEND failed: ${firstError}`));
  }
  if (!options.keep) await deleteMailbox(target, options.mailbox).catch(() => undefined);
  const counters = before && after ? diffCounters(before, after) : undefined;
  const append = byVerb.get('APPEND') ?? new LatencyStats();
  const latency: Record<string, ReturnType<LatencyStats['summary']>> = { APPEND: append.summary() };
  for (const [verb, st] of byVerb) latency[verb] = st.summary();
  return {
    profile: profile.name,
    description: profile.description,
    settings: { ...s, batch },
    messages: appended,
    bytes,
    elapsedMs,
    ...rates(appended, bytes, elapsedMs),
    latency: latency as BenchRun['latency'],
    histogram: append.buckets(),
    diagnosis: diagnose({
      records: sample,
      ...(counters ? { counters } : {}),
      connectMs,
      connections: { opened: connectMs.length, needed: s.connections },
      serverMs,
    }),
    ...(stoppedEarly ? { stoppedEarly } : {}),
    ...(controller ? { adaptation: controller.report() } : {}),
    ...(failed ? { failed } : {}),
  } as BenchRun;
}

async function deleteMailbox(target: BenchTarget, mailbox: string): Promise<void> {
  if (mailbox.toUpperCase() === 'INBOX') return;
  const c = await Connection.open({ ...target, timeouts: { connectMs: 5000, greetingMs: 5000, replyMs: 30_000 } });
  try {
    await c.command('DELETE', [{ atom: encodeMailbox(mailbox) }]);
  } finally {
    await c.close();
  }
}
