import { DELAYED_ACK_WINDOW_MS } from '../analysis/diagnosis.js';
import { ratioToFirst, type BenchReport, type BenchRun } from './report.js';
import type { Bucket } from '../analysis/stats.js';

// One self-contained HTML page for `mailmigrate bench --html FILE`: inline CSS and inline SVG only — no scripts,
// no fonts, no images from anywhere — so the file reads the same offline, attached to an issue, or years later.
// Charts are drawn by hand as SVG because the page must carry no charting library; they are simple (bars on a
// linear or log10 axis). Every piece of text from the report goes through esc(): profile names, settings and
// diagnosis messages can hold anything.

const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '–';
  if (digits !== undefined) return n.toFixed(digits);
  const a = Math.abs(n);
  return a >= 100 ? Math.round(n).toLocaleString('en-US') : a >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** Milliseconds for humans: 0.071 ms, 44.2 ms, 2.05 s. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${num(ms / 1000)} s`;
  if (ms > 0 && ms < 1) return `${ms.toFixed(3)} ms`;
  return `${num(ms)} ms`;
}

function decadeLabel(exp: number): string {
  const ms = 10 ** exp;
  return ms >= 1000 ? `${ms / 1000} s` : `${exp < 0 ? ms.toFixed(-exp) : ms} ms`;
}

const color = (i: number): string => PALETTE[i % PALETTE.length]!;

/** A "nice" upper bound and tick step for a linear axis. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function throughputChart(runs: readonly BenchRun[]): string {
  const W = 960;
  const left = 210;
  const right = 90;
  const rowH = 34;
  const top = 16;
  const plotH = rowH * runs.length;
  const H = top + plotH + 48;
  const { top: xMax, step } = niceScale(Math.max(0, ...runs.map((r) => r.msgsPerSec)));
  const x = (v: number): number => left + ((W - left - right) * v) / xMax;
  const parts: string[] = [];
  for (let v = 0; v <= xMax + step / 2; v += step) {
    parts.push(`<line class="grid" x1="${x(v)}" x2="${x(v)}" y1="${top}" y2="${top + plotH}"/>`);
    parts.push(`<text class="tick" x="${x(v)}" y="${top + plotH + 16}" text-anchor="middle">${esc(step >= 1 ? num(v, 0) : num(v))}</text>`);
  }
  runs.forEach((r, i) => {
    const y = top + i * rowH + 6;
    const label = r.profile.length > 28 ? `${r.profile.slice(0, 27)}…` : r.profile;
    const w = Math.max(0, x(r.msgsPerSec) - left);
    parts.push(`<text class="label" x="${left - 8}" y="${y + 15}" text-anchor="end"><title>${esc(r.profile)}</title>${esc(label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${w}" height="${rowH - 12}" fill="${color(i)}"><title>${esc(r.profile)}: ${esc(num(r.msgsPerSec))} msg/s</title></rect>`);
    parts.push(`<text class="value" x="${left + w + 6}" y="${y + 15}">${esc(num(r.msgsPerSec))} msg/s${r.stoppedEarly ? ' (stopped early)' : ''}</text>`);
  });
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/>`);
  parts.push(`<text class="axis-label" x="${(left + W - right) / 2}" y="${H - 8}" text-anchor="middle">throughput (messages per second, higher is better)</text>`);
  return `<svg class="chart" role="img" aria-label="Throughput per profile" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

/** The decade range [lo, hi] (exponents of 10 ms) shared by every histogram, so profiles compare by eye. */
function sharedDecades(runs: readonly BenchRun[]): [number, number] {
  const froms = runs.flatMap((r) => r.histogram.map((b) => (b.fromMs > 0 ? b.fromMs : b.toMs / 10)));
  const tos = runs.flatMap((r) => r.histogram.map((b) => b.toMs));
  if (froms.length === 0) return [-2, 2];
  let lo = Math.floor(Math.log10(Math.min(...froms)) + 1e-9);
  let hi = Math.ceil(Math.log10(Math.max(...tos)) - 1e-9);
  if (hi - lo < 2) hi = lo + 2;
  lo = Math.max(lo, -3);
  return [lo, hi];
}

function histogramChart(run: BenchRun, index: number, [lo, hi]: [number, number]): string {
  const W = 960;
  const H = 230;
  const left = 64;
  const right = 44;
  const top = 18;
  const bottom = 52;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const xOf = (ms: number): number => {
    const e = Math.min(hi, Math.max(lo, Math.log10(Math.max(ms, 10 ** lo))));
    return left + (plotW * (e - lo)) / (hi - lo);
  };
  const buckets: readonly Bucket[] = run.histogram;
  const { top: yMax, step } = niceScale(Math.max(0, ...buckets.map((b) => b.count)), 4);
  const yOf = (c: number): number => top + plotH - (plotH * c) / yMax;
  const parts: string[] = [];
  // The delayed-ACK band (docs/measurements.md: 40–51 ms here) is drawn so a stall cluster is recognisable at a glance.
  const [dLo, dHi] = DELAYED_ACK_WINDOW_MS;
  if (10 ** lo < dHi && 10 ** hi > dLo) {
    parts.push(`<rect class="band" x="${xOf(dLo)}" y="${top}" width="${xOf(dHi) - xOf(dLo)}" height="${plotH}"><title>delayed-ACK timeout window, ${dLo}–${dHi} ms</title></rect>`);
    // Label outside the band, on whichever side has room.
    const roomRight = W - right - xOf(dHi) > 130;
    parts.push(`<text class="band-label" x="${roomRight ? xOf(dHi) + 4 : xOf(dLo) - 4}" y="${top + 11}" text-anchor="${roomRight ? 'start' : 'end'}">delayed-ACK window ${dLo}–${dHi} ms</text>`);
  }
  for (let c = 0; c <= yMax + step / 2; c += step) {
    parts.push(`<line class="grid" x1="${left}" x2="${W - right}" y1="${yOf(c)}" y2="${yOf(c)}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${yOf(c) + 4}" text-anchor="end">${esc(num(c, 0))}</text>`);
  }
  for (let e = lo; e <= hi; e++) {
    parts.push(`<line class="grid" x1="${xOf(10 ** e)}" x2="${xOf(10 ** e)}" y1="${top}" y2="${top + plotH}"/>`);
    parts.push(`<text class="tick" x="${xOf(10 ** e)}" y="${top + plotH + 16}" text-anchor="middle">${esc(decadeLabel(e))}</text>`);
  }
  for (const b of buckets) {
    if (b.count === 0) continue;
    const x0 = xOf(b.fromMs > 0 ? b.fromMs : 10 ** lo);
    const x1 = xOf(b.toMs);
    // A bar is at least 2 px tall: one slow command among thousands must stay visible.
    const h = Math.max(2, top + plotH - yOf(b.count));
    parts.push(
      `<rect x="${x0 + 0.5}" y="${top + plotH - h}" width="${Math.max(1, x1 - x0 - 1)}" height="${h}" fill="${color(index)}">` +
        `<title>${esc(fmtMs(b.fromMs))} – ${esc(fmtMs(b.toMs))}: ${b.count} commands</title></rect>`,
    );
  }
  const s = run.latency.APPEND;
  if (s.count > 0) {
    for (const [name, v] of [['p50', s.p50], ['p99', s.p99]] as const) {
      const xv = xOf(v);
      parts.push(`<line class="marker" x1="${xv}" x2="${xv}" y1="${top}" y2="${top + plotH}"/>`);
      const nearRight = W - right - xv < 90;
      parts.push(`<text class="marker-label" x="${nearRight ? xv - 3 : xv + 3}" y="${name === 'p50' ? top + 28 : top + 44}" text-anchor="${nearRight ? 'end' : 'start'}">${name} ${esc(fmtMs(v))}</text>`);
    }
  }
  parts.push(`<line class="axis" x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}"/>`);
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/>`);
  parts.push(`<text class="axis-label" x="${left + plotW / 2}" y="${H - 12}" text-anchor="middle">APPEND recv-wait: last byte sent → tagged reply (ms, log scale)</text>`);
  parts.push(`<text class="axis-label" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">commands</text>`);
  if (buckets.length === 0) parts.push(`<text class="empty" x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle">no latency samples</text>`);
  return `<svg class="chart" role="img" aria-label="${esc(`Recv-wait histogram for ${run.profile}`)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

function summaryTable(runs: readonly BenchRun[]): string {
  const rows = runs.map((r, i) => {
    const a = r.latency.APPEND;
    const ratio = ratioToFirst(runs, i);
    return (
      `<tr><th scope="row"><span class="swatch" style="background:${color(i)}"></span>${esc(r.profile)}${r.stoppedEarly ? ' <span class="warn">stopped early</span>' : ''}</th>` +
      `<td>${esc(num(r.messages, 0))}</td><td>${esc(num(r.msgsPerSec))}</td><td>${esc(num(r.mbPerSec))}</td>` +
      `<td>${esc(fmtMs(a.p50))}</td><td>${esc(fmtMs(a.p99))}</td><td>${esc(fmtMs(a.max))}</td>` +
      `<td>${ratio === undefined ? '–' : `${esc(num(ratio))}×`}</td><td>${r.diagnosis.length === 0 ? '<span class="ok">none</span>' : r.diagnosis.map((d) => `<code>${esc(d.code)}</code>`).join(' ')}</td></tr>`
    );
  });
  return (
    '<table class="summary"><thead><tr><th scope="col">profile</th><th scope="col">messages</th><th scope="col">msg/s</th>' +
    '<th scope="col">MB/s</th><th scope="col">recv-wait p50</th><th scope="col">p99</th><th scope="col">max</th>' +
    `<th scope="col">ratio to first</th><th scope="col">diagnosis</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function settingsTable(settings: Record<string, unknown>): string {
  const keys = Object.keys(settings);
  if (keys.length === 0) return '<p class="muted">No settings recorded.</p>';
  const value = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));
  return `<table class="settings"><tbody>${keys.map((k) => `<tr><th scope="row">${esc(k)}</th><td><code>${esc(value(settings[k]))}</code></td></tr>`).join('')}</tbody></table>`;
}

function runSection(run: BenchRun, index: number, decades: [number, number]): string {
  const a = run.latency.APPEND;
  const diag =
    run.diagnosis.length === 0
      ? '<p class="ok">No problems found: no delayed-ACK stalls, SYN retransmits, accept-queue overflows or connection churn.</p>'
      : `<ul class="diagnosis">${run.diagnosis.map((d) => `<li><code>${esc(d.code)}</code> ${esc(d.message)}</li>`).join('')}</ul>`;
  return (
    `<section class="run" id="run-${index}"><h2><span class="swatch" style="background:${color(index)}"></span>${esc(run.profile)}</h2>` +
    `<p class="desc">${esc(run.description)}</p>` +
    `<p class="facts">${esc(num(run.messages, 0))} messages, ${esc(num(run.bytes / 1e6))} MB in ${esc(fmtMs(run.elapsedMs))} · ` +
    `${esc(num(run.msgsPerSec))} msg/s · ${esc(num(run.mbPerSec))} MB/s · recv-wait p50 ${esc(fmtMs(a.p50))}, p90 ${esc(fmtMs(a.p90))}, ` +
    `p99 ${esc(fmtMs(a.p99))}, max ${esc(fmtMs(a.max))} over ${esc(num(a.count, 0))} commands</p>` +
    histogramChart(run, index, decades) +
    `<h3>Diagnosis</h3>${diag}<h3>Settings</h3>${settingsTable(run.settings)}</section>`
  );
}

const CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111827;background:#fff;margin:0;padding:24px 32px;max-width:1010px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px}h3{font-size:14px;margin:14px 0 4px}
.muted,.meta,.desc{color:#4b5563}.meta{margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:right;vertical-align:top}
td,thead th{white-space:nowrap}th[scope=row],thead th:first-child{text-align:left}thead th{font-weight:600;border-bottom:2px solid #9ca3af}
.summary td:last-child{text-align:left}.settings th,.settings td{text-align:left}
code{font:12px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.ok{color:#047857}.warn{color:#b45309;font-size:12px}
.diagnosis{padding-left:18px}.diagnosis li{margin:4px 0}.diagnosis code{background:#fee2e2;color:#991b1b}
.chart{display:block;max-width:100%;height:auto;margin:6px 0}
.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#374151}
.chart .label{font-size:13px;fill:#111827}.chart .value{font-weight:600}.chart .axis-label{fill:#4b5563}
.chart .grid{stroke:#e5e7eb;stroke-width:1}.chart .axis{stroke:#6b7280;stroke-width:1}
.chart .band{fill:#fde68a;opacity:.5}.chart .band-label{fill:#92400e;font-size:11px}
.chart .marker{stroke:#111827;stroke-dasharray:4 3;stroke-width:1}
.chart .marker-label,.chart .band-label,.chart .value{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.chart .marker-label{font-size:11px;fill:#111827}
.chart .empty{fill:#9ca3af}
footer{margin-top:32px;color:#6b7280;font-size:12px}
`;

/** Renders the whole report as one self-contained HTML page. */
export function renderHtml(report: BenchReport): string {
  const m = report.machine;
  const decades = sharedDecades(report.runs);
  const corpus = report.corpus
    ? ` · corpus ${esc(num(report.corpus.messages, 0))} messages, ${esc(num(report.corpus.bytes / 1e6))} MB` +
      (report.corpus.seed !== undefined ? `, seed ${esc(report.corpus.seed)}` : '') +
      (report.corpus.fixedSize !== undefined ? `, every message ${esc(report.corpus.fixedSize)} bytes` : '')
    : '';
  const body =
    `<h1>mailmigrate bench</h1>` +
    `<p class="meta">Started ${esc(report.startedAt)}${report.target ? ` · target ${esc(report.target)}` : ''}${corpus}<br>` +
    `${esc(m.platform)} ${esc(m.kernel)} ${esc(m.arch)} · ${esc(m.cpus)} × ${esc(m.cpuModel)} · ${esc(num(m.memoryMB / 1024))} GiB RAM · Node ${esc(m.node)}</p>` +
    (report.runs.length === 0
      ? '<p class="muted">No runs.</p>'
      : `<h2>Throughput</h2>${throughputChart(report.runs)}${summaryTable(report.runs)}` +
        report.runs.map((r, i) => runSection(r, i, decades)).join(''));
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>mailmigrate bench — ${esc(report.startedAt)}</title><style>${CSS}</style></head><body>${body}` +
    '<footer>Recv-wait is the time from the last byte of a command handed to the kernel to its tagged reply: server ' +
    'time plus network plus any TCP stall. Histograms share one log-scale axis so profiles compare by eye. ' +
    'MB = 10<sup>6</sup> bytes.</footer></body></html>\n'
  );
}
