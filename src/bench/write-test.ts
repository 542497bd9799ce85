// doctor's write test (issue 16): a few small messages appended to a scratch folder in each way an import might
// append — split writes with Nagle on (the delayed-ACK stall probe), one at a time, pipelined, MULTIAPPEND, two
// connections into one folder — each run timed by phase, so the advice (doctor-advice.ts) comes from what this
// server did. Bounded in messages, bytes and time; the folder is created under a name of its own and deleted with
// everything in it, and a folder that could not be deleted is reported, never left silently.
import { diagnose } from '../analysis/diagnosis.js';
import { systemClock } from '../core/clock.js';
import { diffCounters, readKernelCounters } from '../core/kernel-counters.js';
import type { AppendMessage } from '../core/types.js';
import { ControlPlane } from '../mailbox/control-plane.js';
import { Connection } from '../transport/connection.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import type { DoctorOptions, DoctorTarget, WriteRun, WriteTestResult } from './doctor-types.js';

// The write test's bounds (issue 16): a few small messages, a fixed plan, a time bound. It writes only to a scratch
// folder it creates under a name of its own and deletes afterwards, with everything in it.
/** Messages per run. */
export const WRITE_TEST_RUN_MESSAGES = 8;
/** Messages appended by the whole test, at most (5 runs × 8). */
export const WRITE_TEST_MAX_MESSAGES = 40;
/** Bytes of one probe message (headers included), about a short text mail. */
export const WRITE_TEST_MESSAGE_BYTES = 4096;
/** No run starts after this long; each command is bounded by the transport's own deadlines besides. */
export const WRITE_TEST_DEADLINE_MS = 30_000;

const probeRun = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function scratchMessage(folder: string, i: number): AppendMessage {
  const head =
    `From: doctor@mailmigrate.test\r\nTo: doctor@mailmigrate.test\r\nSubject: mailmigrate doctor probe ${i}\r\n` +
    `Message-ID: <doctor-${probeRun}-${i}@mailmigrate.test>\r\n\r\n`;
  const body = 'probe '.repeat(Math.ceil(WRITE_TEST_MESSAGE_BYTES / 6)).slice(0, WRITE_TEST_MESSAGE_BYTES - head.length - 2);
  return { mailbox: folder, data: Buffer.from(`${head}${body}\r\n`), flags: [] };
}

interface RunPlan {
  readonly name: string;
  readonly connections: number;
  readonly depth: number;
  readonly batch: number;
  readonly split: boolean;
}

/** Appends WRITE_TEST_RUN_MESSAGES messages the way `plan` says and measures it. */
async function appendRun(t: DoctorTarget, folder: string, plan: RunPlan, first: number, timeoutMs: number): Promise<{ run: WriteRun; records: TimingRecord[]; bytes: number }> {
  const records: TimingRecord[] = [];
  const conns: Connection[] = [];
  try {
    for (let c = 0; c < plan.connections; c++) {
      conns.push(await Connection.open({
        ...t,
        noDelay: !plan.split,
        writeMode: plan.split ? 'split' : 'coalesce',
        pipelineDepth: plan.depth,
        // A synchronizing literal where the server offers nothing else: its continuation wait is measured too.
        literalMode: 'auto',
        timeouts: { connectMs: timeoutMs, greetingMs: timeoutMs },
        onRecord: (r) => {
          if (r.verb === 'APPEND') records.push(r);
        },
      }));
    }
    const n = WRITE_TEST_RUN_MESSAGES;
    const messages = Array.from({ length: n }, (_, i) => scratchMessage(folder, first + i));
    const bytes = messages.reduce((x, m) => x + m.data.length, 0);
    // Messages dealt to connections in turn, then cut into commands of `batch`; each connection gets all its commands
    // at once and its send-gate keeps `depth` in flight.
    const started = systemClock.now();
    await Promise.all(conns.map(async (conn, c) => {
      const mine = messages.filter((_, i) => i % conns.length === c);
      const commands: AppendMessage[][] = [];
      for (let i = 0; i < mine.length; i += plan.batch) commands.push(mine.slice(i, i + plan.batch));
      await Promise.all(commands.map((cmd) => conn.append(folder, cmd)));
    }));
    const wallMs = systemClock.now() - started;
    const phases = records.map((r) => derivePhases(r));
    const run: WriteRun = {
      ...plan,
      messages: n,
      perMessageMs: wallMs / n,
      continuationWaitP50Ms: median(phases.map((p) => p.continuationWaitMs)),
      serverWaitP50Ms: median(phases.map((p) => p.recvWaitMs).filter((x): x is number => x !== undefined)),
      totalP50Ms: median(phases.map((p) => p.totalMs).filter((x): x is number => x !== undefined)),
    };
    return { run, records, bytes };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

/**
 * The runs, in order: the split-write stall probe, then the candidate settings an import chooses between — one
 * command at a time, two pipelined (a server without LITERAL+ may stall the second one's continuation, issue 16),
 * MULTIAPPEND batches where offered, and two connections into one folder (a folder lock serialises them on Courier).
 */
function writePlans(multiappend: boolean, sessionCap: number | null): RunPlan[] {
  const plans: RunPlan[] = [
    { name: 'split writes, Nagle on', connections: 1, depth: 1, batch: 1, split: true },
    { name: 'one at a time', connections: 1, depth: 1, batch: 1, split: false },
    { name: 'pipelined, depth 2', connections: 1, depth: 2, batch: 1, split: false },
  ];
  if (multiappend) plans.push({ name: `MULTIAPPEND of ${WRITE_TEST_RUN_MESSAGES / 2}`, connections: 1, depth: 1, batch: WRITE_TEST_RUN_MESSAGES / 2, split: false });
  if (sessionCap === null || sessionCap > 2) plans.push({ name: '2 connections, one at a time', connections: 2, depth: 1, batch: 1, split: false });
  return plans;
}

export async function writeTest(o: DoctorOptions, caps: Connection['capabilities'], sessionCap: number | null, timeoutMs: number): Promise<WriteTestResult> {
  if (!o.controlPlane) throw new Error('the write test needs control-plane options');
  const cp = await ControlPlane.connect(o.controlPlane);
  let folder = '';
  let deleted = false;
  const runs: WriteRun[] = [];
  const skippedRuns: string[] = [];
  let messages = 0;
  let bytes = 0;
  try {
    folder = await cp.ensureFolder([`mailmigrate-doctor-${probeRun}`], undefined, false);
    const loopback = /^(127\.|localhost$|::1$)/.test(o.target.host);
    const started = systemClock.now();
    let split: TimingRecord[] = [];
    let before: ReturnType<typeof readKernelCounters> | undefined;
    let after: ReturnType<typeof readKernelCounters> | undefined;
    for (const plan of writePlans(caps.multiappend, sessionCap)) {
      if (systemClock.now() - started > WRITE_TEST_DEADLINE_MS || messages + WRITE_TEST_RUN_MESSAGES > WRITE_TEST_MAX_MESSAGES) {
        skippedRuns.push(plan.name);
        continue;
      }
      if (plan.split && loopback) before = readKernelCounters();
      const r = await appendRun(o.target, folder, plan, messages, timeoutMs);
      if (plan.split) {
        if (loopback) after = readKernelCounters();
        split = r.records;
      }
      runs.push(r.run);
      messages += r.run.messages;
      bytes += r.bytes;
    }
    // Kernel counters witness only what happens in this kernel: used when the server is on this machine.
    const diagnosis = diagnose({ records: split, ...(before && after ? { counters: diffCounters(before, after) } : {}) });
    const byName = (split: boolean): WriteRun | undefined => runs.find((r) => r.split === split && r.connections === 1 && r.depth === 1 && r.batch === 1);
    return {
      folder, messages, bytes, runs, skippedRuns,
      splitP50Ms: byName(true)?.serverWaitP50Ms,
      coalesceP50Ms: byName(false)?.serverWaitP50Ms,
      stalls: diagnosis.some((d) => d.code === 'delayed-ack-stall'),
      diagnosis,
      deleted: true,
    };
  } finally {
    if (folder) {
      try {
        await cp.deleteFolder(folder);
        deleted = true;
      } catch {
        deleted = false;
      }
    }
    await cp.close();
    // A scratch folder left on the admin's server must be reported even when the probe failed: it is the one thing
    // doctor leaves behind.
    // eslint-disable-next-line no-unsafe-finally
    if (!deleted && folder) throw new Error(`could not delete the scratch folder ${folder} (${messages} probe messages in it); delete it by hand`);
  }
}
