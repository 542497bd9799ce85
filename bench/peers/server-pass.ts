// One server variant of a bench:peers run: start the private instance (pinned, metered, behind the delay relays),
// find mailmigrate's best fixed settings, run every client for every repeat and round trip (interleaved), print and
// record a section per round trip, then the time probe.
import { type BenchServer, pinTree, startBenchServer } from './bench-server.js';
import { type ClientDef, mailmigrateCommand, type MailmigrateSettings, settingsName } from './clients.js';
import { clientRunner, type RunCounters } from './client-run.js';
import { CpuMeter } from './cpu-meter.js';
import { DelayRelay } from './delay-relay.js';
import { type PeersArgs } from './options.js';
import { checkAdaptTargets, checkTargets, renderCpuTable, renderTable, type RowSummary, rttRatios, type RunResult, summarizeRow, withRatios } from './report.js';
import { PROBE, type RunPlan, SWEEP } from './run-plan.js';
import { printRttRatios, printSection } from './section-printer.js';
import { type CorpusIds } from './verification.js';

const log = (s: string): void => void process.stderr.write(s + '\n');

export interface ServerPassInput {
  readonly opt: PeersArgs;
  readonly plan: RunPlan;
  readonly variant: string;
  /** The quick-ACK shim for the noquickack variant. */
  readonly preload: string | undefined;
  readonly corpusDir: string;
  readonly corpus: CorpusIds;
  readonly work: string;
  readonly stateDir: string;
  readonly timeoutMs: number;
  readonly counters: RunCounters;
  /** The results file's `servers` list: one entry per round trip is appended. */
  readonly sections: Array<Record<string, unknown>>;
  /** The results file, for `bestSettings`. */
  readonly report: Record<string, unknown>;
  /** --best, or the sweep's winner on an earlier variant. */
  readonly best: MailmigrateSettings | undefined;
}

/** Runs one server variant; returns the best fixed settings (found by the sweep here, or as given). */
export async function runServerPass(input: ServerPassInput): Promise<MailmigrateSettings | undefined> {
  const { opt, plan, variant, preload, corpus, counters, report } = input;
  const { kind, fsync, phases, repeats, rtt, wanted, all, missing } = plan;
  let best = input.best;
  const d: BenchServer = await startBenchServer(kind, { fsync, ...(preload ? { preload } : {}) });
  const meter = CpuMeter.attach(d.rootPid, `mailmigrate-bench-${process.pid}-${counters.run}`);
  const pinned = opt.pin ? pinTree(d.rootPid, 1) : 0;
  const serverLabel = `${d.title}${kind === 'dovecot' ? `, ${variant === 'stock' ? 'stock' : 'TCP_QUICKACK disabled (LD_PRELOAD shim)'}, mail_fsync=${fsync}` : ''}`;
  log(`\n== ${serverLabel} — server CPU by ${meter.kind}${meter.fallbackReason ? ` (${meter.fallbackReason})` : ''}${opt.pin ? `; pinned: client CPU 0, server CPU 1 (${pinned} processes)` : ''} ==`);
  const relays = new Map<number, DelayRelay>();
  try {
    for (const ph of phases) if (ph !== undefined) relays.set(ph, await DelayRelay.start({ targetPort: d.port, oneWayMs: ph / 2 }));
    const once = clientRunner({ server: d, meter, relays, corpusDir: input.corpusDir, corpus, work: input.work, stateDir: input.stateDir, timeoutMs: input.timeoutMs, pin: Boolean(opt.pin), counters });

    const base: Record<string, unknown> = { name: variant, server: kind, title: d.title, version: d.version, fsync: kind === 'dovecot' ? fsync : undefined, quickAckDisabled: Boolean(preload), cpuMeter: meter.kind, cpuMeterFallback: meter.fallbackReason, pinned: Boolean(opt.pin) };
    if (wanted.includes('mailmigrate-best') && !best && !opt['no-sweep']) {
      log('  sweep for mailmigrate best settings (1 run each):');
      const sweep: Array<{ settings: string; msgPerSec: number | undefined }> = [];
      let top = 0;
      for (const st of SWEEP) {
        const r = await once(`mailmigrate ${settingsName(st)}`, phases[phases.length - 1], async (c) => mailmigrateCommand(c, st, false, undefined, true));
        const rate = r.verified ? corpus.count / r.wallSeconds : undefined;
        sweep.push({ settings: settingsName(st), msgPerSec: rate && Math.round(rate) });
        if (rate && rate > top) {
          top = rate;
          best = st;
        }
      }
      base['sweep'] = sweep;
      report['bestSettings'] = best && settingsName(best);
    }
    const defs: Array<ClientDef & { settings?: string }> = all.filter((c) => wanted.includes(c.name));
    if (wanted.includes('mailmigrate-best') && best) {
      const st = best;
      defs.push({ name: 'mailmigrate-best', label: 'mailmigrate import (best fixed, --no-adapt)', settings: settingsName(st), packages: [], missing: () => undefined, trees: true, command: async (c) => mailmigrateCommand(c, st, false, undefined, true) });
    }
    const runs = new Map<string, RunResult[]>(phases.flatMap((ph) => defs.map((c) => [`${c.name}@${ph}`, []] as [string, RunResult[]])));
    for (let rep = 1; rep <= repeats; rep++) {
      log(`  repeat ${rep}/${repeats}:`);
      for (const ph of phases) {
        // The clients' order turns each repeat: a run right after another client's measured differently from the first
        // of a round for the same code (bench:tree-path found ~0.2 s at 40 ms; here mailmigrate always ran before the
        // --compare build, which came out 3–4 % faster at 0 ms in three runs with overlapping ranges).
        const turn = (rep - 1) % defs.length;
        for (const c of [...defs.slice(turn), ...defs.slice(0, turn)]) {
          if (missing.has(c.name)) continue;
          runs.get(`${c.name}@${ph}`)!.push(await once(c.name, ph, c.command));
        }
      }
    }
    const sections: Array<{ rttMs: number | undefined; rows: RowSummary[] }> = [];
    for (const ph of phases) {
      const rows: RowSummary[] = withRatios(
        defs.map((c) =>
          missing.has(c.name)
            ? { client: c.name, label: c.label, runs: [], skipped: missing.get(c.name) }
            : summarizeRow(c.name, c.label, runs.get(`${c.name}@${ph}`)!, corpus.count, corpus.bytes, c.settings),
        ),
      );
      sections.push({ rttMs: ph, rows });
      const sectionReport: Record<string, unknown> = { ...base, rttMs: ph, rows };
      const targets = kind === 'dovecot' && variant === 'stock' && ph === undefined ? checkTargets(rows) : undefined;
      if (targets) sectionReport['targets'] = targets;
      const adaptTargets = checkAdaptTargets(rows);
      sectionReport['adaptTargets'] = adaptTargets;
      const title =
        `${serverLabel}${ph === undefined ? '' : `, through the delay relay at ${ph} ms round trip`}` +
        `${opt.pin ? ', client and server pinned to separate CPUs' : ''}, ${corpus.count} messages (${(corpus.bytes / 1e6).toFixed(1)} MB), median of ${repeats}`;
      sectionReport['title'] = title;
      sectionReport['table'] = renderTable(rows);
      sectionReport['cpuTable'] = renderCpuTable(rows);
      printSection(title, rows, meter.kind, adaptTargets, targets);
      input.sections.push(sectionReport);
    }
    if (rtt !== undefined) {
      const rttReport = rttRatios(sections, rtt);
      input.sections.at(-1)!['rttRatios'] = rttReport;
      printRttRatios(rtt, rttReport.lines);
    }
    if (kind === 'dovecot' && variant === 'stock' && rtt === undefined && !opt['no-probe']) {
      log('  where mailmigrate spends its time (transport-runner, timing records, 1 run each):');
      const probe: unknown[] = [];
      for (const p of PROBE) {
        const r = await once(`${p.name} (${settingsName(p.settings)})`, undefined, async (c) => mailmigrateCommand(c, p.settings, true));
        probe.push({ name: p.name, settings: settingsName(p.settings), msgPerSec: Math.round(corpus.count / r.wallSeconds), verified: r.verified, timing: r.timing });
      }
      input.sections.at(-1)!['probe'] = probe;
    }
    if (relays.size) {
      const stats = Object.fromEntries([...relays].map(([ph, r]) => [`${ph} ms`, r.stats]));
      for (const sec of input.sections.slice(-phases.length)) sec['relay'] = stats;
    }
  } finally {
    for (const r of relays.values()) await r.close();
    await d.stop();
    meter.close();
  }
  return best;
}
