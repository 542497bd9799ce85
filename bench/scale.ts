// `npm run bench:scale` (issue 8): the connection-scale benches at full size against the embedded server, with the
// figures printed — 10,000 sessions held (lean and full-transport holders), a storm of 1,500 connects against
// backlog 511 vs 2048 (docs/measurements.md's experiment) and 128 vs 2048, and 10,000 messages with churn vs persistent.
// Environment knobs for a smaller or larger machine: SCALE_SESSIONS, SCALE_STORM, SCALE_CHURN.
// Writes bench/results/scale.json (the numbers the note quotes).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChurn } from '../src/bench/churn.js';
import type { ConnectionsBenchResult } from '../src/bench/connections.js';
import { runStorm } from '../src/bench/storm.js';
import { printChurn, printStorm } from '../src/cli/commands/bench-scale.js';

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};
const sessions = num('SCALE_SESSIONS', 10_000);
const storm = num('SCALE_STORM', 1_500);
const churn = num('SCALE_CHURN', 10_000);
const say = (s: string): void => void process.stdout.write(`${s}\n`);

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'mm-scale-'));

// Each connections run in a fresh process through the CLI: RSS never shrinks back after a run, so a second
// measurement in the same process would reuse the first one's pages and report almost nothing per session.
function connections(n: number, holder: string, holdS: number): ConnectionsBenchResult {
  const file = join(tmp, `connections-${holder}.json`);
  const r = spawnSync(process.execPath, [join(root, 'bin', 'mailmigrate.js'), 'bench', 'connections', '--sessions', String(n), '--holder', holder, '--noop', '5000', '--hold', String(holdS), '--json', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0 && r.status !== 2) throw new Error(`bench connections exited with ${r.status}`);
  return JSON.parse(readFileSync(file, 'utf8')) as ConnectionsBenchResult;
}

say(`## bench connections: ${sessions} sessions, lean holder, NOOP every 5 s, held 10 s`);
const lean = connections(sessions, 'lean', 10);
const fullN = Math.min(sessions, 2_000);
say(`\n## bench connections: ${fullN} sessions, full transport Connection (for comparison)`);
const full = connections(fullN, 'connection', 5);
say(`\n## bench connections: ${fullN} sessions, lean holder (same count as the full one)`);
const leanSmall = connections(fullN, 'lean', 5);
rmSync(tmp, { recursive: true, force: true });
const target = 6 * 1024;
say(`\ntarget ≤ 6 KB client RSS per session at ${sessions}: ${lean.rssPerSessionBytes <= target ? 'met' : 'NOT met'} (${(lean.rssPerSessionBytes / 1024).toFixed(1)} KB)`);

say(`\n## bench storm: ${storm} clients at once, server busy 1.5 s`);
const st = await runStorm({ clients: storm, backlogs: [128, 511, 2048], busyMs: 1500, timeoutMs: 15_000 });
printStorm(st);

say(`\n## bench churn: ${churn} messages, one at a time`);
const ch = await runChurn({ messages: churn });
printChurn(ch);
const p = ch.runs.find((r) => r.mode === 'persistent');
const n = ch.runs.find((r) => r.mode === 'new-connection');
if (p && n) say(`\npersistent ${Math.round(p.msgsPerSec)} msg/s vs new connection per message ${Math.round(n.msgsPerSec)} msg/s (${(p.msgsPerSec / n.msgsPerSec).toFixed(1)}×)`);

const out = join(root, 'bench', 'results', 'scale.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), connections: { lean, full, leanSmall }, storm: st, churn: ch }, null, 2)}\n`);
say(`\nJSON: ${out}`);
