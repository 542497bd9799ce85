import { byAttention, type BatchSummary } from './batch-state.js';

// `batch --html FILE`: batch.json as one self-contained page — no external script, style or font, so it opens
// from a mail attachment or an air-gapped admin host. The table starts with failures (what a person must act on)
// and sorts by any column on a click (a few lines of inline script; numbers sort as numbers). Every value from
// the CSV or a server is HTML-escaped: an account name or error text is data, never markup.

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const mb = (b: number): string => (b / 1e6).toFixed(1);
const secs = (ms: number): string => (ms / 1000).toFixed(1);

export function renderBatchHtml(s: BatchSummary): string {
  const a = s.accounts;
  const rows = byAttention(s.list)
    .map((e) => {
      const err = e.error ? `${e.error.code}: ${e.error.message}` : '';
      return (
        `<tr class="${esc(e.status)}">` +
        `<td data-v="${e.line}">${e.line}</td>` +
        `<td>${esc(e.status)}${e.wasComplete ? ' (re-checked)' : ''}</td>` +
        `<td>${esc(e.user)}</td><td>${esc(e.host)}</td>` +
        `<td data-v="${e.appended}">${e.appended}</td><td data-v="${e.skipped}">${e.skipped}</td><td data-v="${e.failed}">${e.failed}</td>` +
        `<td data-v="${e.bytes}">${mb(e.bytes)}</td><td data-v="${e.elapsedMs}">${secs(e.elapsedMs)}</td>` +
        `<td data-v="${e.attempts}">${e.attempts}</td>` +
        `<td class="err">${esc(err)}</td><td class="src">${esc(e.source)}</td></tr>`
      );
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mailmigrate batch: ${a.complete}/${a.total} complete, ${a.failed} failed</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}
.totals span{display:inline-block;margin-right:1.5em}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{cursor:pointer;background:#f4f4f4;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
td[data-v]{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fde8e8}
tr.running td{background:#eef5fd}
tr.pending td{color:#777}
td.err{max-width:40em;word-break:break-word}
td.src{color:#555;font-size:.9em;word-break:break-all}
</style></head><body>
<h1>mailmigrate batch</h1>
<p class="totals">
<span><b>${a.complete}</b> / ${a.total} accounts complete</span>
<span class="f"><b>${a.failed}</b> failed</span>
<span><b>${a.running}</b> running</span>
<span><b>${a.pending}</b> pending</span>
<span><b>${s.messages.appended}</b> messages appended, ${s.messages.skipped} skipped, ${s.messages.failed} failed</span>
<span><b>${mb(s.bytes)}</b> MB</span>
<span><b>${s.msgsPerSec}</b> msg/s</span>
</p>
<p>Accounts file: ${esc(s.source)} · ${esc(s.mode)} · started ${esc(s.startedAt)} · ${s.finishedAt ? `finished ${esc(s.finishedAt)}` : `updated ${esc(s.updatedAt)}`}${s.maxConnectionsPerHost !== null ? ` · at most ${s.maxConnectionsPerHost} connections per host` : ''}</p>
<table id="accounts">
<thead><tr><th>Line</th><th>Status</th><th>User</th><th>Host</th><th>Appended</th><th>Skipped</th><th>Failed</th><th>MB</th><th>Seconds</th><th>Attempts</th><th>Error</th><th>Source</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<script>
(function(){
  var table=document.getElementById('accounts');
  var ths=table.tHead.rows[0].cells;
  function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.toLowerCase():Number(v);}
  Array.prototype.forEach.call(ths,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(ths,function(t){t.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var body=table.tBodies[0];
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
</script>
</body></html>
`;
}
