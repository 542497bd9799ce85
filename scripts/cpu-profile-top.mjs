// Sums the self time per function of V8 CPU profiles (node --cpu-prof), over every file given, and prints the top.
// --samples counts samples instead (each ~1 ms at the default interval): a sample's time delta is wall time, so on a
// loaded machine one descheduled moment lands whole on whatever function ran then — one 169 ms delta made imapflow's
// 127-character `excludeChars` look like a 42 ms cost per run (docs/measurements.md "Start-up"). Counting samples
// caps each at the interval.
//   node scripts/cpu-profile-top.mjs [--top 40] [--samples] FILE.cpuprofile…
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals: files } = parseArgs({ options: { top: { type: 'string', default: '40' }, samples: { type: 'boolean', default: false } }, allowPositionals: true });
const self = new Map();
let total = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // timeDeltas[i] is the time before samples[i]: attribute it to that sample's node.
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const dt = opt.samples ? 1000 : (p.timeDeltas[i] ?? 0);
    const cf = n.callFrame;
    const where = cf.url ? `${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.top));
console.log(`total sampled ${(total / 1000).toFixed(0)} ms over ${files.length} profile(s)`);
for (const [k, us] of rows) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
