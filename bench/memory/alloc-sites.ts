// Sums a sampling heap profile (alloc-sampler.ts) by function: bytes allocated per message, biggest first.
//   node dist/bench/memory/alloc-sites.js PROFILE.heap.json MESSAGES [TOP=40]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const [file, messagesText, topText = '40'] = process.argv.slice(2);
const messages = Number(messagesText);
if (!file || !(messages > 0)) {
  process.stderr.write('usage: node dist/bench/memory/alloc-sites.js PROFILE.heap.json MESSAGES [TOP]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
const bySite = new Map<string, number>();
let total = 0;
const stack: ProfileNode[] = [profile.head];
while (stack.length) {
  const n = stack.pop()!;
  if (n.selfSize > 0) {
    const f = n.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    total += n.selfSize;
  }
  stack.push(...n.children);
}
process.stdout.write(`${(total / 1e6).toFixed(1)} MB sampled, ${(total / messages).toFixed(0)} bytes per message\n`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(topText))) {
  process.stdout.write(`${(bytes / messages).toFixed(0).padStart(7)} B/msg  ${site}\n`);
}
