// `npm run bench:transport`: the full transport matrix against a private Dovecot (issue 2), 500 messages per
// combination by default: literal sync/plus/auto × write coalesce/split × TCP_NODELAY on/off × depth 1/16 ×
// MULTIAPPEND off/on × 1/4 connections. Each run is verified (count and Message-ID set on the server) and its
// msg/s and recv-wait p50/p99 printed, with Dovecot's own per-command time for comparison.
// Options: --messages N, --quick (only the main combinations), --json FILE.
import { writeFileSync } from 'node:fs';
import { startDovecot, dovecotSkipReason } from '../test/helpers/dovecot.js';
import { appendAll } from '../test/helpers/append-run.js';
import { ControlPlane } from '../src/mailbox/control-plane.js';
import { generateMessage } from '../src/bench/corpus.js';
import { percentile } from '../src/analysis/stats.js';
import { parseDovecotTiming } from '../src/analysis/diagnosis.js';
import { derivePhases } from '../src/transport/timing.js';
import type { TransportSettings } from '../src/bench/profiles.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const N = Number(opt('--messages') ?? 500);
const quick = args.includes('--quick');

const skip = dovecotSkipReason();
if (skip) {
  console.error(`bench:transport needs Dovecot: ${skip}`);
  process.exit(1);
}

const combos: TransportSettings[] = [];
for (const literalMode of ['sync', 'plus', 'auto'] as const)
  for (const writeMode of ['coalesce', 'split'] as const)
    for (const noDelay of [true, false])
      for (const pipelineDepth of [1, 16])
        for (const batch of [1, 50])
          for (const connections of [1, 4]) combos.push({ literalMode, writeMode, noDelay, pipelineDepth, batch, connections });
const main = (s: TransportSettings): boolean =>
  (s.literalMode === 'sync' && s.writeMode === 'split' && !s.noDelay && s.pipelineDepth === 1 && s.batch === 1 && s.connections === 1) ||
  (s.literalMode !== 'sync' && s.writeMode === 'coalesce' && s.noDelay);
const selected = quick ? combos.filter(main) : combos;

const d = await startDovecot({ maxUserIpConnections: 64 });
const cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
const messages = Array.from({ length: N }, (_, i) => generateMessage(i, { seed: 3 }));
const bytes = messages.reduce((a, m) => a + m.length, 0);
console.log(`Dovecot ${d.version} on ${d.host}:${d.port}, ${N} messages (${(bytes / 1e6).toFixed(1)} MB, realistic mix), ${selected.length} combinations`);
const rows: Array<Record<string, unknown>> = [];
const fmt = (x: number | undefined) => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(0));
console.log(['literal', 'write', 'nodelay', 'depth', 'batch', 'conns', 'msg/s', 'rw p50', 'rw p99', 'dovecot p50', 'verified'].join('\t'));
try {
  let n = 0;
  for (const s of selected) {
    const box = `bench${n++}`;
    const run = await appendAll({ host: d.host, port: d.port, user: d.user, password: d.password }, s, box, messages);
    const ok = run.outcomes.filter((o) => o.status === 'appended').length;
    const onServer = await cp.listMessages(box);
    const ids = new Set(onServer.map((m) => m.messageId));
    const verified = ok === N && onServer.length === N && ids.size === N;
    const appends = run.records.filter((r) => r.verb === 'APPEND' && r.outcome?.status === 'OK');
    const rw = appends.map((r) => derivePhases(r).recvWaitMs!).filter((x) => x !== undefined);
    const dv = appends.map((r) => parseDovecotTiming(r.outcome?.text ?? '')).filter((x): x is number => x !== undefined);
    const row = { ...s, msgsPerSec: (ok * 1000) / run.elapsedMs, recvWaitP50: percentile(rw, 50), recvWaitP99: percentile(rw, 99), dovecotP50: percentile(dv, 50), verified };
    rows.push(row);
    console.log([s.literalMode, s.writeMode, s.noDelay ? 'on' : 'off', s.pipelineDepth, s.batch, s.connections, fmt(row.msgsPerSec), fmt(row.recvWaitP50), fmt(row.recvWaitP99), fmt(row.dovecotP50), verified ? 'yes' : 'NO'].join('\t'));
    await cp.deleteFolder(box);
  }
} finally {
  await cp.close().catch(() => undefined);
  await d.stop();
}
const json = opt('--json');
if (json) writeFileSync(json, JSON.stringify({ dovecot: d.version, messages: N, bytes, rows }, null, 2));
if (rows.some((r) => !r.verified)) process.exitCode = 1;
