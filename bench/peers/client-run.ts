// One run of one client against the private server: empty the account, run the client (through the delay relay for a
// round trip), measure both sides' CPU, check the server holds exactly the corpus, and log one line.
import { execFileSync } from 'node:child_process';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type BenchServer } from './bench-server.js';
import { type Command, type RunContext, runChild } from './clients.js';
import { type CpuMeter } from './cpu-meter.js';
import { type DelayRelay } from './delay-relay.js';
import { type RunResult } from './report.js';
import { type CorpusIds, verify } from './verification.js';

const log = (s: string): void => void process.stderr.write(s + '\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server's CPU once it has finished the session: a server still answers LOGOUT and updates its indexes after
 *  the client exited. Reads until two reads 100 ms apart differ by under 2 ms of CPU (at most 1.5 s). */
async function settledCpu(meter: CpuMeter): Promise<number> {
  let last = meter.read();
  for (let i = 0; i < 15; i++) {
    await sleep(100);
    const now = meter.read();
    if (now - last < 0.002) return now;
    last = now;
  }
  return last;
}

/** Numbers that run on over the whole benchmark: scratch copies, and runs (which also name the CPU meters' cgroups). */
export interface RunCounters {
  scratch: number;
  run: number;
}

export interface ClientRunEnv {
  readonly server: BenchServer;
  readonly meter: CpuMeter;
  /** Round trip (ms) → the relay that delays it. */
  readonly relays: ReadonlyMap<number, DelayRelay>;
  readonly corpusDir: string;
  readonly corpus: CorpusIds;
  readonly work: string;
  readonly stateDir: string;
  readonly timeoutMs: number;
  readonly pin: boolean;
  readonly counters: RunCounters;
}

/** Runs `makeCmd`'s client once at round trip `ph` (undefined: straight to the server) and returns what it measured. */
export type RunOnce = (label: string, ph: number | undefined, makeCmd: (ctx: RunContext) => Promise<Command>) => Promise<RunResult>;

export function clientRunner(env: ClientRunEnv): RunOnce {
  const { server: d, meter, relays, corpusDir, corpus, work, stateDir, timeoutMs, counters } = env;
  const ctxFor = (ph: number | undefined): RunContext => ({
    host: d.host,
    port: ph === undefined ? d.port : relays.get(ph)!.port,
    user: d.user,
    password: d.password,
    maildir: corpusDir,
    dovecotConfig: d.dovecotConfig,
    folderPrefix: d.folderPrefix,
    tree: corpus.folders.size > 1,
    workDir: work,
    stateDir,
    timeoutMs,
    scratch: async () => {
      // A hard-linked copy: mbsync renames near files to record UIDs, doveadm writes a uidlist beside them.
      const dir = join(work, `scratch-${++counters.scratch}`);
      await mkdir(dir, { mode: 0o755 });
      const copy = join(dir, 'maildir');
      execFileSync('cp', ['-al', corpusDir, copy]);
      if (process.getuid?.() === 0) {
        // doveadm's mail process runs as nobody and writes a uidlist beside the messages: every directory is its.
        const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
        const folders = [...corpus.folders.keys()].map((f) => (f ? `.${f}` : ''));
        for (const f of folders) for (const sub of ['', 'cur', 'new', 'tmp']) await chown(join(copy, f, sub), nobody, nobody).catch(() => undefined);
      }
      return copy;
    },
  });
  return async (label, ph, makeCmd) => {
    await d.emptyAccount();
    const cmd = await makeCmd(ctxFor(ph));
    const rusageFile = join(work, `rusage-${++counters.run}.json`);
    const cpu0 = meter.read();
    const r = await runChild(cmd, d.password, timeoutMs, { cpu: env.pin ? 0 : undefined, rusageFile });
    const serverCpu = (await settledCpu(meter)) - cpu0;
    await rm(rusageFile, { force: true });
    await rm(join(work, 'scratch-' + counters.scratch), { recursive: true, force: true }).catch(() => undefined);
    const v = await verify(d, corpus).catch((e: unknown) => ({ ok: false, note: `verify failed: ${String(e)}`, count: 0 }));
    const j: Record<string, unknown> = { ...r.json };
    if (cmd.report) {
      // mailmigrate's own report: its elapsed time (source scan to last reply) and counts.
      const rep = JSON.parse(await readFile(cmd.report, 'utf8').catch(() => '{}')) as Record<string, unknown>;
      if (typeof rep['elapsedMs'] === 'number') j['seconds'] = rep['elapsedMs'] / 1000;
      if (rep['adaptation']) j['adaptation'] = rep['adaptation'];
      if (rep['failed']) j['error'] = `${String(rep['failed'])} failed: ${JSON.stringify(rep['failures']).slice(0, 300)}`;
      await rm(cmd.report, { force: true });
    }
    const err = r.code !== 0 ? `exit ${r.code}: ${String(j['error'] ?? r.stderr.trim().split('\n').slice(-3).join(' | ')).slice(0, 400)}` : undefined;
    const res: RunResult = {
      wallSeconds: r.wallSeconds,
      clientSeconds: typeof j['seconds'] === 'number' ? (j['seconds'] as number) : undefined,
      appended: v.count,
      verified: v.ok && r.code === 0,
      clientCpuSeconds: r.cpuSeconds,
      serverCpuSeconds: serverCpu,
      clientMaxRssMb: r.maxRssMb,
      ...(v.note ? { verifyNote: v.note } : {}),
      ...(j['timing'] ? { timing: j['timing'] } : {}),
      ...(j['adaptation'] ? { adaptation: j['adaptation'] } : {}),
      ...(err ? { error: err } : {}),
    };
    const us = (x: number | undefined): string => (x === undefined ? '–' : ((x * 1e6) / corpus.count).toFixed(0));
    const where = ph === undefined ? '' : ` @${ph} ms`;
    log(
      `  ${(label + where).padEnd(40)} ${(corpus.count / r.wallSeconds).toFixed(0).padStart(6)} msg/s  ${r.wallSeconds.toFixed(2)} s  ` +
        `CPU µs/msg client ${us(r.cpuSeconds)} server ${us(serverCpu)}  RSS ${r.maxRssMb === undefined ? '–' : r.maxRssMb.toFixed(0)} MB  ${res.verified ? 'verified' : `NOT verified: ${v.note ?? ''} ${err ?? ''}`}`,
    );
    return res;
  };
}
