import type { VerifyResult } from '../../migrate/verify.js';
import { printable as p } from '../../core/printable.js';
import { fmtMs, fmtRate, renderTable } from './table.js';

// The final summary of `import` (and the verify listing): plain text built from the same report object that
// --report writes as JSON, so the two can never disagree. Everything that came from outside (file and folder
// names, Message-IDs, flags, server texts) goes through p() = printable(): no control character reaches the terminal.

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ImportSettings {
  readonly connections: number;
  readonly pipeline: number;
  readonly batch: number;
  readonly noDelay: boolean;
  readonly literal: string;
  readonly write: string;
  readonly tls: string;
  readonly folderPrefix: string | null;
}

export interface ImportReport {
  readonly version: 1;
  readonly target: string;
  readonly embedded: boolean;
  readonly sources: string[];
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  readonly total: number;
  readonly appended: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
  readonly settings: ImportSettings;
  /** recv-wait (last byte flushed → tagged reply) per command verb, ms. */
  readonly latency: Record<string, LatencySummary>;
  readonly diagnosis: Array<{ code: string; message: string }>;
  readonly failures: Array<{ source: string; code: string; reason: string }>;
  readonly flagsDropped: Record<string, number>;
  readonly foldersCreated: string[];
  readonly repairs: string[];
  readonly resumed: { found: number; resent: number };
  readonly unknownResolved: number;
  readonly connections: { opened: number; cap: number | null };
  readonly journal: string | null;
  readonly exitCode: number;
}

const FAILURES_SHOWN = 20;

/** Source errors already start with their path; the report lists the path apart, so drop the repeat. */
export function reasonWithoutSource(source: string, reason: string): string {
  return reason.startsWith(`${source}: `) ? reason.slice(source.length + 2) : reason;
}

export function renderImportSummary(r: ImportReport): string {
  const lines: string[] = [];
  const s = (n: number): string => n.toLocaleString('en-US');
  const head = r.interrupted ? 'Interrupted' : r.failed > 0 ? 'Finished with failures' : 'Done';
  lines.push(
    `${head}: ${s(r.appended)} appended, ${s(r.skipped)} skipped (already on the server), ${s(r.failed)} failed, ${s(r.total)} seen` +
      ` in ${(r.elapsedMs / 1000).toFixed(1)} s — ${fmtRate(r.msgsPerSec)} msg/s, ${r.mbPerSec.toFixed(2)} MB/s (${(r.bytes / 1e6).toFixed(1)} MB)`,
  );
  const st = r.settings;
  lines.push(
    `Settings: ${st.connections} connection(s) (opened ${r.connections.opened}${r.connections.cap !== null ? `, server cap ${r.connections.cap}` : ''}), ` +
      `pipeline ${st.pipeline}, batch ${st.batch}, nodelay ${st.noDelay ? 'on' : 'off'}, literal ${st.literal}, write ${st.write}, tls ${st.tls}`,
  );
  const verbs = Object.entries(r.latency).sort(([a], [b]) => (a === 'APPEND' ? -1 : b === 'APPEND' ? 1 : a.localeCompare(b)));
  if (verbs.length) {
    lines.push('', 'recv-wait per command (ms, last byte sent → tagged reply):');
    lines.push(
      renderTable(verbs, [
        { header: 'command', value: ([v]) => v },
        { header: 'count', value: ([, x]) => s(x.count), align: 'right' },
        { header: 'p50', value: ([, x]) => fmtMs(x.p50), align: 'right' },
        { header: 'p90', value: ([, x]) => fmtMs(x.p90), align: 'right' },
        { header: 'p99', value: ([, x]) => fmtMs(x.p99), align: 'right' },
        { header: 'max', value: ([, x]) => fmtMs(x.max), align: 'right' },
      ]),
    );
  }
  if (r.diagnosis.length) {
    lines.push('', 'Diagnosis:');
    for (const d of r.diagnosis) lines.push(`  [${d.code}] ${p(d.message)}`);
  }
  if (r.foldersCreated.length) lines.push('', `Folders created: ${p(r.foldersCreated.join(', '))}`);
  const dropped = Object.entries(r.flagsDropped);
  if (dropped.length) {
    lines.push(`Flags the server does not keep (dropped, not failures): ${p(dropped.map(([f, n]) => `${f} ×${n}`).join(', '))}`);
  }
  for (const rep of r.repairs) lines.push(`Folder name repaired: ${p(rep)}`);
  if (r.resumed.found || r.resumed.resent) {
    lines.push(`Resume: ${r.resumed.found} message(s) of an interrupted run found on the server, ${r.resumed.resent} sent again`);
  }
  if (r.unknownResolved) lines.push(`Unanswered APPENDs found on the server after a lost connection: ${r.unknownResolved}`);
  if (r.failures.length) {
    lines.push('', `Failed (${r.failures.length}):`);
    for (const f of r.failures.slice(0, FAILURES_SHOWN)) lines.push(`  ${p(f.source)}: ${p(f.reason)} (${f.code})`);
    if (r.failures.length > FAILURES_SHOWN) lines.push(`  … ${r.failures.length - FAILURES_SHOWN} more (see --report FILE for all)`);
  }
  if (r.journal) lines.push('', `Journal: ${p(r.journal)}${r.interrupted ? ' (re-run the same command to resume)' : ''}`);
  return lines.join('\n');
}

/** The plan printed by --dry-run: folders with message counts and bytes, and what could not be read. */
export function renderPlan(plan: {
  folders: Array<{ path: string; messages: number; bytes: number; create: boolean }>;
  failures: Array<{ source: string; code: string; reason: string }>;
  total: number;
}): string {
  const lines: string[] = [];
  lines.push(
    renderTable(plan.folders, [
      { header: 'folder', value: (f) => f.path },
      { header: 'messages', value: (f) => f.messages.toLocaleString('en-US'), align: 'right' },
      { header: 'MB', value: (f) => (f.bytes / 1e6).toFixed(2), align: 'right' },
      { header: 'action', value: (f) => (f.create ? 'create' : 'exists') },
    ]),
  );
  const msgs = plan.folders.reduce((a, f) => a + f.messages, 0);
  const bytes = plan.folders.reduce((a, f) => a + f.bytes, 0);
  lines.push('', `Dry run: ${msgs} message(s), ${(bytes / 1e6).toFixed(2)} MB in ${plan.folders.length} folder(s) would be imported; ${plan.failures.length} unreadable; nothing was sent.`);
  for (const f of plan.failures) lines.push(`  ${p(f.source)}: ${p(reasonWithoutSource(f.source, f.reason))} (${f.code})`);
  return lines.join('\n');
}

const LISTED = 20;

export function renderVerify(r: VerifyResult): string {
  const lines: string[] = [];
  lines.push(
    renderTable(r.folders, [
      { header: 'folder', value: (f) => f.path },
      { header: 'source', value: (f) => String(f.sourceCount), align: 'right' },
      { header: 'server', value: (f) => (f.absent ? 'absent' : String(f.serverCount)), align: 'right' },
      { header: 'missing', value: (f) => String(f.missing.length), align: 'right' },
      { header: 'extra', value: (f) => String(f.extra.length), align: 'right' },
      { header: 'size differs', value: (f) => String(f.sizeMismatch.length), align: 'right' },
      { header: '', value: (f) => (f.missing.length || f.extra.length || f.sizeMismatch.length ? 'MISMATCH' : 'ok') },
    ]),
  );
  for (const f of r.folders) {
    for (const m of f.missing.slice(0, LISTED)) lines.push(`missing in ${p(f.path)}: ${p(m.origin)} ${p(m.messageId ?? '(no Message-ID)')} ${m.size} bytes`);
    if (f.missing.length > LISTED) lines.push(`missing in ${p(f.path)}: … ${f.missing.length - LISTED} more`);
    for (const e of f.extra.slice(0, LISTED)) lines.push(`extra in ${p(f.path)}: UID ${e.uid} ${p(e.messageId ?? '(no Message-ID)')} ${e.size} bytes`);
    if (f.extra.length > LISTED) lines.push(`extra in ${p(f.path)}: … ${f.extra.length - LISTED} more`);
    for (const d of f.sizeMismatch.slice(0, LISTED)) {
      lines.push(`size differs in ${p(f.path)}: ${p(String(d.source.messageId))} source ${d.source.size} bytes, server UID ${d.server.uid} ${d.server.size} bytes`);
    }
  }
  for (const u of r.unreadable.slice(0, LISTED)) lines.push(`unreadable in source (not compared): ${p(u.source)}: ${p(reasonWithoutSource(u.source, u.reason))} (${u.code})`);
  const t = r.totals;
  lines.push(
    '',
    r.ok
      ? `Verified: ${t.matched} message(s) in ${r.folders.length} folder(s) match.`
      : `MISMATCH: ${t.missing} missing, ${t.extra} extra, ${t.sizeMismatch} with a different size (${t.matched} of ${t.source} source messages match).`,
  );
  return lines.join('\n');
}
