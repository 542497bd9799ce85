import { type Command } from 'commander';
import { parseIntegerOption } from '../integer-option.js';
import { type DoctorReport, runDoctor } from '../../bench/doctor.js';
import { startServer, type ImapServer } from '../../server/server.js';
import { addConnectionOptions, type ConnectionCliOptions, controlPlaneOptions, describeTarget, processIo, resolveTarget, transportOptions } from '../connection-options.js';
import { EXIT_CANNOT_RUN, EXIT_OK } from '../exit-code.js';
import { printable } from '../../core/printable.js';
import { writeJsonFile } from '../render/json.js';
import { fmtMs } from '../render/table.js';

// `mailmigrate doctor` (issue 8): the same connection options as import; prints what src/bench/doctor.ts found
// and the import settings it recommends. Without --host it examines the embedded server (a demonstration, with
// Dovecot's default cap of 10 sessions per user). Exit 0 when nothing blocks an import, 1 when something does.
// The write test runs by default (it is what the recommendation is measured from); --no-write-test skips it.

interface DoctorCliOptions extends ConnectionCliOptions {
  writeTest?: boolean;
  maxSessions: string;
  json?: string;
}

export function registerDoctor(program: Command): Command {
  const cmd = program
    .command('doctor')
    .description('Examine a server and this machine: connect/TLS/login times, capabilities, connection cap, limits; recommend import settings');
  addConnectionOptions(cmd)
    .option('--no-write-test', 'skip the write test (by default doctor appends at most 40 small messages to a scratch folder it creates and then deletes, to measure how this server takes appends)')
    .option('--max-sessions <n>', 'open at most this many sessions when probing the connection cap', '20')
    .option('--json <file>', 'write the report as JSON')
    .action(async (opts: DoctorCliOptions) => {
      process.exitCode = await doctorAction(opts);
    });
  return cmd;
}

async function doctorAction(opts: DoctorCliOptions): Promise<number> {
  const maxSessions = parseIntegerOption('--max-sessions', opts.maxSessions, 1, 1000);
  const target = await resolveTarget(opts, processIo());
  let server: ImapServer | undefined;
  try {
    let report: DoctorReport;
    if (target) {
      process.stderr.write(`mailmigrate doctor: ${describeTarget(target)}\n`);
      report = await runDoctor({ target: transportOptions(target), controlPlane: controlPlaneOptions(target), writeTest: opts.writeTest !== false, maxSessions });
    } else {
      server = await startServer({ maxConnectionsPerUser: 10 });
      process.stderr.write(`mailmigrate doctor: no --host, examining the embedded server on ${server.host}:${server.port}\n`);
      const t = { host: server.host, port: server.port, tls: 'none' as const, auth: { user: 'test', password: 'test' } };
      report = await runDoctor({
        target: t,
        controlPlane: { host: t.host, port: t.port, secure: false, starttls: 'off', user: 'test', password: 'test' },
        writeTest: opts.writeTest !== false,
        maxSessions,
      });
    }
    // Findings quote server texts (a BYE greeting, error replies): no control character reaches the terminal.
    process.stdout.write(printable(renderDoctor(report), { keepNewlines: true }));
    if (opts.json) writeJsonFile(opts.json, report, '--json');
    return report.findings.some((f) => f.severity === 'error') ? EXIT_CANNOT_RUN : EXIT_OK;
  } finally {
    await server?.close();
  }
}

export function renderDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const ms = (x: number | undefined): string => (x === undefined ? '-' : `${fmtMs(x)} ms`);
  lines.push(`server     ${r.target.host}:${r.target.port} (${r.target.tls})${r.addresses.length ? ` → ${r.addresses.join(', ')}` : ''}`);
  lines.push(`timings    DNS ${ms(r.dnsMs)} · TCP connect ${ms(r.connectMs)} · TLS ${ms(r.tlsMs)} · greeting ${ms(r.greetingMs)} · login ${ms(r.loginMs)}`);
  const caps = Object.entries(r.importCapabilities).map(([k, v]) => `${k} ${v === true ? 'yes' : v === false ? 'no' : v}`);
  lines.push(`import     ${caps.length ? caps.join(' · ') : '-'}`);
  lines.push(`sessions   ${r.connectionCap === null ? `≥ ${r.connectionCapBound} accepted (probe bound)` : `cap ${r.connectionCap} per user`}`);
  if (r.writeTest) {
    const w = r.writeTest;
    lines.push(`write test appended ${w.messages} probe message(s), ${w.bytes} bytes, to the scratch folder ${w.folder}; ` +
      (w.deleted ? 'then deleted the folder and every message in it' : `the folder could NOT be deleted: delete ${w.folder} by hand`));
    for (const run of w.runs) {
      lines.push(`           ${run.name.padEnd(30)} ${fmtMs(run.perMessageMs).padStart(8)} ms/message · continuation wait p50 ${ms(run.continuationWaitP50Ms)} · server wait p50 ${ms(run.serverWaitP50Ms)}`);
    }
    if (w.skippedRuns.length) lines.push(`           not run (time bound reached): ${w.skippedRuns.join(', ')}`);
  }
  const fd = r.limits.fd;
  const p = r.limits.ports;
  lines.push(`local      open files ${fd ? `${fd.soft} (hard ${fd.hard})` : '-'} · ephemeral ports ${p ? `${p.low}–${p.high} (${p.count})` : '-'}`);
  lines.push('');
  for (const f of r.findings) lines.push(`${f.severity.padEnd(5)} [${f.code}] ${f.message}`);
  lines.push('');
  if (r.recommended) {
    lines.push(`recommended: mailmigrate import ${r.recommended.flags}`);
    for (const [k, v] of Object.entries(r.recommended.reasons)) lines.push(`  ${k}: ${v}`);
  } else lines.push('no recommended settings: doctor could not log in to the server, so it measured nothing to base them on');
  return `${lines.join('\n')}\n`;
}
