import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml, esc, fmtMs } from '../../src/bench/report-html.js';
import { rates, ratioToFirst, describeMachine, type BenchReport, type BenchRun } from '../../src/bench/report.js';
import { sampleReport } from './sample-report.js';

const count = (s: string, sub: string): number => s.split(sub).length - 1;

test('esc escapes the five HTML-significant characters', () => {
  assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(esc(42), '42');
});

test('the page is one self-contained document: no scripts, no links, no external URLs or fonts', () => {
  const html = renderHtml(sampleReport());
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.equal(count(html, '<html'), 1);
  assert.ok(html.trimEnd().endsWith('</html>'));
  for (const banned of ['<script', '<link', '<img', '<iframe', 'http://', 'https://', '@import', 'url(', '@font-face', 'src=']) {
    assert.ok(!html.includes(banned), `must not contain ${banned}`);
  }
  assert.ok(html.includes('<meta charset="utf-8">'));
  assert.ok(html.includes('<style>'));
});

test('the page has a throughput chart, one histogram per profile, the summary table and every diagnosis', () => {
  const report = sampleReport();
  const html = renderHtml(report);
  assert.equal(count(html, '<svg'), 1 + report.runs.length);
  assert.equal(count(html, 'aria-label="Throughput per profile"'), 1);
  assert.equal(count(html, '<section class="run"'), report.runs.length);
  assert.match(html, /messages per second/);
  assert.match(html, /ms, log scale/);
  assert.match(html, /recv-wait p50/);
  assert.match(html, /ratio to first/);
  // The stalled profile carries its diagnosis in the page, with the fix; the clean ones say so.
  assert.ok(report.runs[0]!.diagnosis.some((d) => d.code === 'delayed-ack-stall'));
  assert.ok(html.includes(esc(report.runs[0]!.diagnosis[0]!.message)));
  assert.match(html, /TCP_NODELAY/);
  assert.equal(count(html, 'No problems found'), report.runs.filter((r) => r.diagnosis.length === 0).length);
  // Settings per profile.
  assert.match(html, /<th scope="row">writeMode<\/th><td><code>split<\/code>/);
  assert.match(html, /<th scope="row">batch<\/th><td><code>50<\/code>/);
});

test('all report text is escaped: a hostile profile, setting or diagnosis cannot inject markup', () => {
  const base = sampleReport();
  const evil = '<script>alert(1)</script>"onload="x';
  const run: BenchRun = {
    ...base.runs[0]!,
    profile: evil,
    description: `<img src=x onerror=alert(1)>`,
    settings: { [`<b>key</b>`]: `<i>value</i>`, nested: { a: '</code><script>' } },
    diagnosis: [{ code: 'delayed-ack-stall', message: `seen <b>bold</b> & "quoted"`, evidence: {} }],
  };
  const html = renderHtml({ ...base, target: '<u>host</u>', runs: [run] });
  assert.ok(!html.includes('<script'));
  assert.ok(!html.includes('<img'));
  assert.ok(!html.includes('<b>'));
  assert.ok(!html.includes('<i>'));
  assert.ok(!html.includes('<u>'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=&quot;x'));
  assert.ok(html.includes('seen &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;'));
  assert.ok(html.includes('&lt;/code&gt;&lt;script&gt;'));
});

test('a report with no runs, or a run with no samples, still renders a valid page', () => {
  const base = sampleReport();
  const empty = renderHtml({ ...base, runs: [] });
  assert.match(empty, /No runs\./);
  assert.equal(count(empty, '<svg'), 0);
  const noSamples: BenchRun = {
    ...base.runs[0]!,
    messages: 0,
    msgsPerSec: 0,
    mbPerSec: 0,
    latency: { APPEND: { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 } },
    histogram: [],
    diagnosis: [],
    stoppedEarly: true,
  };
  const html = renderHtml({ ...base, runs: [noSamples] });
  assert.match(html, /no latency samples/);
  assert.match(html, /stopped early/);
  assert.ok(!html.includes('NaN'));
  assert.ok(!html.includes('Infinity'));
});

test('no NaN or Infinity reaches the page from the sample report', () => {
  const html = renderHtml(sampleReport());
  assert.ok(!html.includes('NaN'));
  assert.ok(!html.includes('Infinity'));
});

test('the histogram draws one bar per non-empty bucket', () => {
  const base = sampleReport();
  const run = base.runs[1]!;
  const html = renderHtml({ ...base, runs: [run] });
  const histogram = html.slice(html.indexOf('<section class="run"'));
  const bars = count(histogram, ' commands</title></rect>');
  assert.equal(bars, run.histogram.filter((b) => b.count > 0).length);
});

test('fmtMs prints sub-millisecond, millisecond and second latencies readably', () => {
  assert.equal(fmtMs(0.071), '0.071 ms');
  assert.equal(fmtMs(44.23), '44.2 ms');
  assert.equal(fmtMs(2050), '2.05 s');
  assert.equal(fmtMs(Number.NaN), '–');
});

test('rates and ratioToFirst compute msg/s, MB/s and the table ratio, guarding zero', () => {
  assert.deepEqual(rates(1000, 21_500_000, 2000), { msgsPerSec: 500, mbPerSec: 10.75 });
  assert.deepEqual(rates(10, 10, 0), { msgsPerSec: 0, mbPerSec: 0 });
  const runs = sampleReport().runs;
  assert.equal(ratioToFirst(runs, 0), 1);
  assert.ok(ratioToFirst(runs, 1)! > 10);
  assert.equal(ratioToFirst([{ ...runs[0]!, msgsPerSec: 0 }, runs[1]!], 1), undefined);
});

test('describeMachine reports the platform without a hostname', () => {
  const m = describeMachine();
  assert.equal(m.platform, process.platform);
  assert.ok(m.cpus >= 1);
  assert.equal(m.node, process.version);
  const report: BenchReport = { machine: m, startedAt: new Date(0).toISOString(), runs: [] };
  assert.ok(!JSON.stringify(report).includes(`"hostname"`));
});
