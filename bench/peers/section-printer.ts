// What bench:peers prints on stdout: per server and round trip, the title, the rate and CPU tables and the targets;
// with --rtt, each client's rate at the round trip against its own at 0 ms.
import { renderCpuTable, renderTable, type RowSummary, type TargetCheck } from './report.js';

function printTargets(targets: readonly TargetCheck[]): void {
  for (const t of targets) {
    process.stdout.write(`  ${t.met === undefined ? '?' : t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured === undefined ? 'not measured' : `${t.measured}×`}\n`);
  }
}

/** One section: `adaptTargets` always, `targets` (issue 6's) only for stock Dovecot without a round trip. */
export function printSection(title: string, rows: readonly RowSummary[], meterKind: string, adaptTargets: readonly TargetCheck[], targets: readonly TargetCheck[] | undefined): void {
  process.stdout.write(`\n${title}\n\n${renderTable(rows)}\n\nCPU per message (server: ${meterKind})\n\n${renderCpuTable(rows)}\n`);
  printTargets(adaptTargets);
  if (targets) printTargets(targets);
}

export function printRttRatios(rtt: number, lines: readonly string[]): void {
  process.stdout.write(`\nRound trip ${rtt} ms against 0 ms through the same relay, same run:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
