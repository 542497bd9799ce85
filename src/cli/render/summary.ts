import type { FolderReport } from '../../migrate/folder-runs.js';
import { type ImportReport, reasonWithoutSource } from '../../migrate/import-report.js';
import type { VerifyResult } from '../../migrate/verify.js';
import { printable as p } from '../../core/printable.js';
import { fmtMs, fmtRate, groupDigits, renderTable } from './table.js';

export { type ImportReport, type ImportSettings, type LatencySummary, reasonWithoutSource } from '../../migrate/import-report.js';

// The final summary of `import` (and the verify listing): plain text built from the same report object that
// --report writes as JSON, so the two can never disagree. Everything that came from outside (file and folder
// names, Message-IDs, flags, server texts) goes through p() = printable(): no control character reaches the terminal.

const FAILURES_SHOWN = 20;

/** Identical failures (same code and reason, the path aside) as one line with a count: 18 × "NO [LIMIT] …" is one
 *  problem to fix, not 18. The report keeps every failure. Largest groups first. */
export function groupFailures(failures: ReadonlyArray<{ source: string; code: string; reason: string }>): Array<{ code: string; reason: string; count: number; first: string }> {
  const groups = new Map<string, { code: string; reason: string; count: number; first: string }>();
  for (const f of failures) {
    const k = `${f.code}\u0000${f.reason}`;
    const g = groups.get(k);
    if (g) g.count++;
    else groups.set(k, { code: f.code, reason: f.reason, count: 1, first: f.source });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/** One row per target folder: source folder(s) → target, and what happened to their messages. */
export function renderFolderTable(folders: readonly FolderReport[], dryRun: boolean): string {
  const s = groupDigits;
  return renderTable(folders, [
    { header: 'source', value: (f) => f.sources.join(', ') },
    { header: '', value: () => '→' },
    { header: 'target', value: (f) => f.target + (f.created ? (dryRun ? ' (would create)' : ' (created)') : '') },
    { header: 'messages', value: (f) => s(f.messages), align: 'right' },
    { header: dryRun ? 'would append' : 'appended', value: (f) => s(f.appended), align: 'right' },
    { header: 'already there', value: (f) => s(f.journal + f.checked), align: 'right' },
    { header: dryRun ? 'would update flags' : 'flags updated', value: (f) => s(f.flagsUpdated), align: 'right' },
    { header: 'deleted', value: (f) => s(f.deleted), align: 'right' },
    { header: 'failed', value: (f) => s(f.failed), align: 'right' },
    { header: 'checked by', value: (f) => (f.check === 'trusted' ? 'journal + STATUS' : `server (${f.check})`) },
  ]);
}

/** Diagnoses that only describe where the time went (not a problem to fix): shown with --verbose. */
const INFORMATIONAL = new Set(['server-bound']);

/**
 * The admin's summary: the per-folder table first, then totals and what needs attention. Transport detail (settings,
 * recv-wait percentiles, informational diagnoses) only with `verbose`; a diagnosis naming a real problem always.
 */
export function renderImportSummary(r: ImportReport, options: { verbose?: boolean } = {}): string {
  const verbose = options.verbose === true;
  const lines: string[] = [];
  const s = groupDigits;
  if (r.folders.length) lines.push(renderFolderTable(r.folders, r.dryRun), '');
  const skipped =
    `${s(r.skippedBy.journal)} already imported (journal), ${s(r.skippedBy.checked)} already on the server (checked)` +
    (r.skippedBy.deleted ? `, ${s(r.skippedBy.deleted)} deleted in the source (skipped; --include-deleted imports them)` : '') +
    (r.skippedBy.excluded ? `, ${s(r.skippedBy.excluded)} in excluded folders` : '') +
    (r.skippedBy.foldersOnly ? `, ${s(r.skippedBy.foldersOnly)} not sent (--folders-only)` : '');
  if (r.dryRun) {
    const head = r.interrupted ? 'Dry run interrupted' : r.failed > 0 ? 'Dry run: some messages would be left out' : 'Dry run';
    lines.push(
      `${head}: ${s(r.appended)} would be appended (${(r.bytes / 1e6).toFixed(1)} MB), ${skipped}, ${s(r.flagsUpdated)} would get flag updates, ` +
        `${s(r.failed)} unreadable, ${s(r.total)} seen; nothing was sent.`,
    );
  } else {
    const head = r.interrupted ? 'Interrupted' : r.failed > 0 ? 'Finished with failures' : 'Done';
    lines.push(
      `${head}: ${s(r.appended)} appended, ${skipped}, ${s(r.flagsUpdated)} flags updated, ${s(r.failed)} failed, ${s(r.total)} seen` +
        ` in ${(r.elapsedMs / 1000).toFixed(1)} s — ${fmtRate(r.msgsPerSec)} msg/s, ${r.mbPerSec.toFixed(2)} MB/s (${(r.bytes / 1e6).toFixed(1)} MB)`,
    );
  }
  const st = r.settings;
  if (verbose) lines.push(
    `Settings: ${st.connections} connection(s) (opened ${r.connections.opened}${r.connections.cap !== null ? `, server cap ${r.connections.cap}` : ''}), ` +
      `${r.foldersAtOnce} folder(s) at once, ` +
      `pipeline ${st.pipeline}, batch ${st.batch}, nodelay ${st.noDelay ? 'on' : 'off'}, literal ${st.literal}, write ${st.write}, tls ${st.tls}`,
  );
  const verbs = Object.entries(r.latency).sort(([a], [b]) => (a === 'APPEND' ? -1 : b === 'APPEND' ? 1 : a.localeCompare(b)));
  if (verbose && verbs.length) {
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
  const diagnosis = r.diagnosis.filter((d) => verbose || !INFORMATIONAL.has(d.code));
  if (diagnosis.length) {
    lines.push('', 'Diagnosis:');
    for (const d of diagnosis) lines.push(`  [${d.code}] ${p(d.message)}`);
  }
  const a = r.adaptation;
  if (a && a.changes.length) {
    // What adaptation changed (or, under --no-adapt, would change), each with its measured reason (issue 16).
    lines.push('', a.outcome === 'advice' ? 'Adaptation (not applied, --no-adapt):' : `Adapted to the server after ${s(a.atMessages)} message(s):`);
    // An unset setting has no value of its own: connectionsPerFolder undefined is "no limit" (printed "undefined" before).
    const v = (x: number | string | undefined): string => (x === undefined ? 'no limit' : p(String(x)));
    for (const c of a.changes) lines.push(`  ${c.setting} ${v(c.from)} → ${v(c.to)}: ${p(c.reason)}`);
  }
  if (r.foldersCreated.length) lines.push('', `Folders created: ${p(r.foldersCreated.join(', '))}`);
  for (const e of r.excluded) lines.push(`Left out: ${p(e.source)} (${s(e.messages)} message(s)): ${p(e.rule)}`);
  const reasons = Object.entries(r.skippedPaths.byReason);
  if (reasons.length) {
    lines.push(`Not imported, not failures: ${reasons.map(([k, n]) => `${s(n)} ${k}`).join(', ')} (each path with its reason in --report)`);
  }
  for (const n of r.sourceNotes) lines.push(`Note: ${p(n)}`);
  for (const a of r.alerts) lines.push(`Server alert: ${p(a)}`);
  for (const f of r.folders) {
    if (f.sources.length > 1) lines.push(`Merged: ${p(f.sources.join(' + '))} → ${p(f.target)} (${s(f.messages)} message(s))`);
  }
  const dropped = Object.entries(r.flagsDropped);
  if (dropped.length) {
    lines.push(`Flags the server does not keep (dropped, not failures): ${p(dropped.map(([f, n]) => `${f} ×${n}`).join(', '))}`);
  }
  for (const rep of r.repairs) lines.push(`Folder name repaired: ${p(rep)}`);
  if (r.unknownResolved) lines.push(`Unanswered APPENDs found on the server after a lost connection: ${r.unknownResolved}`);
  if (r.failures.length) {
    lines.push('', `Failed (${r.failures.length}):`);
    const groups = groupFailures(r.failures);
    for (const g of groups.slice(0, FAILURES_SHOWN)) {
      lines.push(g.count === 1 ? `  ${p(g.first)}: ${p(g.reason)} (${g.code})` : `  ${g.count} × ${p(g.reason)} (${g.code}), e.g. ${p(g.first)}`);
    }
    if (groups.length > FAILURES_SHOWN) lines.push(`  … ${groups.length - FAILURES_SHOWN} more kinds (see --report FILE for every message)`);
  }
  if (r.journal) lines.push('', `Journal: ${p(r.journal)}${r.interrupted ? ' (re-run the same command to resume)' : ''}`);
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
      { header: 'found', value: (f) => String(f.matched), align: 'right' },
      { header: 'changed by server', value: (f) => String(f.changedByServer), align: 'right' },
      { header: 'missing', value: (f) => String(f.missing.length), align: 'right' },
      { header: 'extra', value: (f) => String(f.extra.length), align: 'right' },
      { header: 'deleted in source', value: (f) => String(f.deleted), align: 'right' },
      { header: '', value: (f) => (f.missing.length ? 'MISSING' : 'ok') },
    ]),
  );
  for (const f of r.folders) {
    for (const m of f.missing.slice(0, LISTED)) lines.push(`missing in ${p(f.path)}: ${p(m.origin)} ${p(m.messageId ?? '(no Message-ID)')} ${m.size} bytes`);
    if (f.missing.length > LISTED) lines.push(`missing in ${p(f.path)}: … ${f.missing.length - LISTED} more`);
    for (const e of f.extra.slice(0, LISTED)) lines.push(`extra in ${p(f.path)} (on the server, not in the source): UID ${e.uid} ${p(e.messageId ?? '(no Message-ID)')} ${e.size} bytes`);
    if (f.extra.length > LISTED) lines.push(`extra in ${p(f.path)}: … ${f.extra.length - LISTED} more`);
  }
  for (const u of r.notCompared.slice(0, LISTED)) lines.push(`not compared: ${p(u.source)}: ${p(reasonWithoutSource(u.source, u.reason))} (${u.code})`);
  if (r.notCompared.length > LISTED) lines.push(`not compared: … ${r.notCompared.length - LISTED} more`);
  const t = r.totals;
  if (r.ok) {
    lines.push('', `Verified: all ${t.matched} source message(s) in ${r.folders.length} folder(s) are on the server` + (t.changedByServer ? ` (${t.changedByServer} stored changed by the server)` : '') + (t.extra ? `; ${t.extra} other message(s) on the server` : '') + '.');
  } else {
    lines.push(
      '',
      `NOT VERIFIED: ${t.missing} missing, ${t.notCompared} not compared (${t.matched} of ${t.source} source messages found).` +
        (t.missing ? ' Fix with the same import command plus --recheck: it reconciles every folder and appends only what is missing.' : ''),
    );
  }
  return lines.join('\n');
}
