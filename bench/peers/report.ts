// Numbers and rendering for `npm run bench:peers`: per-client medians over the repeats, ratios to mailmigrate,
// the targets, and the plain-text table (the same text goes into the README "Performance" section).

export interface RunResult {
  readonly wallSeconds: number;
  /** The client's own login-to-logout time when it reports one. */
  readonly clientSeconds?: number | undefined;
  readonly appended: number;
  readonly verified: boolean;
  readonly verifyNote?: string | undefined;
  readonly timing?: unknown;
  readonly error?: string | undefined;
  /** The client's CPU (user + system, wait4 rusage: its threads and waited-for children included). */
  readonly clientCpuSeconds?: number | undefined;
  /** Every process of the private server instance during the run (cgroup, else /proc tree). */
  readonly serverCpuSeconds?: number | undefined;
  /** The client's peak RSS, MB (wait4). */
  readonly clientMaxRssMb?: number | undefined;
  /** mailmigrate's own report of what adaptation chose (changes and trials), so a row's settings can be read back. */
  readonly adaptation?: unknown;
}

export interface RowSummary {
  readonly client: string;
  readonly label: string;
  readonly settings?: string | undefined;
  readonly runs: RunResult[];
  /** Over the verified runs only; undefined when none verified. */
  readonly medianMsgPerSec?: number | undefined;
  readonly minMsgPerSec?: number | undefined;
  readonly maxMsgPerSec?: number | undefined;
  readonly medianMBPerSec?: number | undefined;
  readonly medianSeconds?: number | undefined;
  /** mailmigrate (defaults) median ÷ this client's median. */
  readonly ratioDefault?: number | undefined;
  /** mailmigrate (best settings) median ÷ this client's median. */
  readonly ratioBest?: number | undefined;
  readonly skipped?: string | undefined;
  /** Medians over the verified runs of CPU µs per corpus message. */
  readonly clientUsPerMsg?: number | undefined;
  readonly serverUsPerMsg?: number | undefined;
  readonly totalUsPerMsg?: number | undefined;
  /** This row ÷ mbsync's row, same server and round trip: CPU per message (lower is better) and msg/s. */
  readonly clientCpuVsMbsync?: number | undefined;
  readonly serverCpuVsMbsync?: number | undefined;
  readonly totalCpuVsMbsync?: number | undefined;
  readonly rateVsMbsync?: number | undefined;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number | undefined, d = 1): number | undefined => (x === undefined ? undefined : Math.round(x * 10 ** d) / 10 ** d);

export function summarizeRow(client: string, label: string, runs: RunResult[], messages: number, bytes: number, settings?: string): RowSummary {
  const ok = runs.filter((r) => r.verified);
  const rates = ok.map((r) => messages / r.wallSeconds);
  const secs = median(ok.map((r) => r.wallSeconds));
  const perMsg = (pick: (r: RunResult) => number | undefined): number | undefined => {
    const xs = ok.map(pick);
    return xs.every((x) => x !== undefined) ? round(median((xs as number[]).map((x) => (x * 1e6) / messages)), 0) : undefined;
  };
  return {
    clientUsPerMsg: perMsg((r) => r.clientCpuSeconds),
    serverUsPerMsg: perMsg((r) => r.serverCpuSeconds),
    totalUsPerMsg: perMsg((r) => (r.clientCpuSeconds === undefined || r.serverCpuSeconds === undefined ? undefined : r.clientCpuSeconds + r.serverCpuSeconds)),
    client,
    label,
    ...(settings ? { settings } : {}),
    runs,
    medianMsgPerSec: round(median(rates)),
    minMsgPerSec: round(rates.length ? Math.min(...rates) : undefined),
    maxMsgPerSec: round(rates.length ? Math.max(...rates) : undefined),
    medianMBPerSec: round(secs === undefined ? undefined : bytes / 1e6 / secs, 2),
    medianSeconds: round(secs, 2),
  };
}

export function withRatios(rows: RowSummary[]): RowSummary[] {
  const def = rows.find((r) => r.client === 'mailmigrate')?.medianMsgPerSec;
  const best = rows.find((r) => r.client === 'mailmigrate-best')?.medianMsgPerSec;
  const mb = rows.find((r) => r.client === 'mbsync');
  const over = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b ? round(a / b, 2) : undefined);
  return rows.map((r) => ({
    ...r,
    clientCpuVsMbsync: over(r.clientUsPerMsg, mb?.clientUsPerMsg),
    serverCpuVsMbsync: over(r.serverUsPerMsg, mb?.serverUsPerMsg),
    totalCpuVsMbsync: over(r.totalUsPerMsg, mb?.totalUsPerMsg),
    rateVsMbsync: over(r.medianMsgPerSec, mb?.medianMsgPerSec),
    ratioDefault: def && r.medianMsgPerSec ? round(def / r.medianMsgPerSec, 2) : undefined,
    ratioBest: best && r.medianMsgPerSec ? round(best / r.medianMsgPerSec, 2) : undefined,
  }));
}

export interface TargetCheck {
  readonly target: string;
  readonly required: number;
  readonly measured: number | undefined;
  readonly met: boolean | undefined;
}

/** The targets (medians, same run, stock Dovecot, fsync never): mailmigrate defaults over each peer. */
export function checkTargets(rows: readonly RowSummary[]): TargetCheck[] {
  const want: Array<[string, number]> = [
    ['mbsync', 3.5],
    ['doveadm-import', 1.5],
    ['imaplib', 7],
    ['perl', 7],
    ['imapflow-1', 7],
    ['imapflow-4', 7],
  ];
  return want.map(([client, required]) => {
    const measured = rows.find((r) => r.client === client)?.ratioDefault;
    return { target: `mailmigrate ≥ ${required}× ${client}`, required, measured, met: measured === undefined ? undefined : measured >= required };
  });
}

/** The peers an import is compared with (issue 16: "≥ 1.5× the best peer on every server"). */
export const PEERS: readonly string[] = ['perl', 'mbsync', 'imaplib', 'imaplib-nodelay', 'imapflow-1', 'imapflow-4'];

/**
 * Issue 16's targets on every server and path: the defaults (adaptation on) ≥ 1.5× the best peer measured in the
 * same run, and within 10 % of the best fixed setting (the sweep's winner, run with --no-adapt).
 */
export function checkAdaptTargets(rows: readonly RowSummary[]): TargetCheck[] {
  const mm = rows.find((r) => r.client === 'mailmigrate')?.medianMsgPerSec;
  const peers = rows.filter((r) => PEERS.includes(r.client) && r.medianMsgPerSec !== undefined);
  const bestPeer = peers.reduce<RowSummary | undefined>((a, r) => (a === undefined || r.medianMsgPerSec! > a.medianMsgPerSec! ? r : a), undefined);
  const best = rows.find((r) => r.client === 'mailmigrate-best')?.medianMsgPerSec;
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100);
  const vsPeer = ratio(mm, bestPeer?.medianMsgPerSec);
  const vsBest = ratio(mm, best);
  return [
    { target: `defaults ≥ 1.5× the best peer (${bestPeer?.client ?? 'none measured'})`, required: 1.5, measured: vsPeer, met: vsPeer === undefined ? undefined : vsPeer >= 1.5 },
    { target: 'defaults (adaptive) ≥ 0.9× the best fixed setting', required: 0.9, measured: vsBest, met: vsBest === undefined ? undefined : vsBest >= 0.9 },
  ];
}

const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n) : s.padEnd(n));
const f = (x: number | undefined, d = 0): string => (x === undefined ? '–' : x.toFixed(d));

/** A Markdown table (readable as plain text too). */
export function renderTable(rows: readonly RowSummary[]): string {
  const head = ['client', 'msg/s (median)', 'min–max', 'MB/s', 's', '× mm default', '× mm best', 'verified'];
  const body = rows.map((r) => {
    if (r.skipped) return [r.label, '–', '–', '–', '–', '–', '–', `skipped: ${r.skipped}`];
    const name = r.settings ? `${r.label} (${r.settings})` : r.label;
    const verified = `${r.runs.filter((x) => x.verified).length}/${r.runs.length}`;
    return [
      name,
      f(r.medianMsgPerSec),
      r.minMsgPerSec === undefined ? '–' : `${f(r.minMsgPerSec)}–${f(r.maxMsgPerSec)}`,
      f(r.medianMBPerSec, 2),
      f(r.medianSeconds, 1),
      r.ratioDefault === undefined ? '–' : r.ratioDefault.toFixed(2),
      r.ratioBest === undefined ? '–' : r.ratioBest.toFixed(2),
      verified,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => pad(c, widths[i]!, i > 0 && i < 7)).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i > 0 && i < 7 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(head), sep, ...body.map(line)].join('\n');
}

/** CPU per message and the ratios to mbsync (issue 14's targets: client and total ≤ 0.5× mbsync's). */
export function renderCpuTable(rows: readonly RowSummary[]): string {
  const head = ['client', 'client µs/msg', 'server µs/msg', 'total µs/msg', 'client × mbsync', 'server × mbsync', 'total × mbsync', 'msg/s × mbsync'];
  const r2 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
  const body = rows
    .filter((r) => !r.skipped)
    .map((r) => [
      r.settings ? `${r.label} (${r.settings})` : r.label,
      f(r.clientUsPerMsg),
      f(r.serverUsPerMsg),
      f(r.totalUsPerMsg),
      r2(r.clientCpuVsMbsync),
      r2(r.serverCpuVsMbsync),
      r2(r.totalCpuVsMbsync),
      r2(r.rateVsMbsync),
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => pad(c, widths[i]!, i > 0)).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i > 0 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(head), sep, ...body.map(line)].join('\n');
}

export interface RttRatios {
  /** each client's median msg/s at the round trip ÷ its own at 0 ms through the same relay */
  readonly keep: Record<string, number | undefined>;
  /** mailmigrate defaults ÷ mbsync, at 0 ms and at the round trip */
  readonly defaultsVsMbsync: { readonly at0: number | undefined; readonly atRtt: number | undefined };
  readonly lines: string[];
}

/** --rtt: how much of its speed each client keeps over the delay, and the defaults against mbsync at both. Issue 16's
 *  targets: defaults keep ≥ 0.8× of their 0 ms msg/s, and run ≥ 3× mbsync at 40 ms. */
export function rttRatios(sections: ReadonlyArray<{ rttMs: number | undefined; rows: readonly RowSummary[] }>, rtt: number): RttRatios {
  const at0 = sections.find((s) => s.rttMs === 0)?.rows ?? [];
  const atR = sections.find((s) => s.rttMs === rtt)?.rows ?? [];
  const keep: Record<string, number | undefined> = {};
  const lines: string[] = [];
  for (const r of atR) {
    if (r.skipped) continue;
    const base = at0.find((x) => x.client === r.client)?.medianMsgPerSec;
    keep[r.client] = base && r.medianMsgPerSec ? round(r.medianMsgPerSec / base, 2) : undefined;
    lines.push(`${r.label}: ${f(r.medianMsgPerSec)} msg/s at ${rtt} ms, ${f(base)} at 0 ms → keeps ${keep[r.client] === undefined ? '–' : keep[r.client]!.toFixed(2)}×`);
  }
  const vs = (rows: readonly RowSummary[]): number | undefined => rows.find((r) => r.client === 'mailmigrate')?.rateVsMbsync;
  const defaultsVsMbsync = { at0: vs(at0), atRtt: vs(atR) };
  const x = (v: number | undefined): string => (v === undefined ? '–' : `${v.toFixed(2)}×`);
  lines.push(`mailmigrate defaults ÷ mbsync: ${x(defaultsVsMbsync.at0)} at 0 ms, ${x(defaultsVsMbsync.atRtt)} at ${rtt} ms`);
  return { keep, defaultsVsMbsync, lines };
}
