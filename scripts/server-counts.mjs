// Pass/fail/skip counts per real IMAP server, from the spec report `npm test` writes (dist/test-report.spec.txt).
// A test counts for a server when its name, or the name of a suite it is in, names that server ("on cyrus-slash",
// "courier: ..."): the integration suites put the server in their titles (test/helpers/imap-servers.ts).
//   node scripts/server-counts.mjs [dist/test-report.spec.txt]   → a table, and one JSON line
import { readFileSync } from 'node:fs';

const SERVERS = ['dovecot', 'cyrus-dot', 'cyrus-slash', 'courier'];
const file = process.argv[2] ?? 'dist/test-report.spec.txt';
const plain = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');
const lines = plain(readFileSync(file, 'utf8')).split('\n');
const end = lines.findIndex((l) => /^\S*\s*(failing tests:|ℹ tests)/.test(l));
const counts = Object.fromEntries(SERVERS.map((s) => [s, { pass: 0, fail: 0, skip: 0, todo: 0 }]));
const stack = []; // [indent, name] of the suites above the current line
const suites = new Set();
// The lowercase id as a word ("on cyrus-slash", "courier: ..."), or "a private/real Dovecot|Cyrus|Courier" (the
// helpers' own tests and the Dovecot suites that predate the multi-server titles); "Courier's stall" in a unit test
// of the diagnosis is not a run against that server.
const namesOf = (text) =>
  SERVERS.filter((s) => {
    const word = new RegExp(`(^|[^A-Za-z-])${s}([^A-Za-z-]|$)`).test(text);
    const proper = s.split('-')[0][0].toUpperCase() + s.split('-')[0].slice(1);
    const privateOne = !s.includes('-') && new RegExp(`\\b(private|real) ${proper}\\b`).test(text);
    return word || privateOne;
  });
for (const raw of end >= 0 ? lines.slice(0, end) : lines) {
  const m = /^( *)(\S+) (.*)$/.exec(raw);
  if (!m) continue;
  const [, pad, mark, name] = m;
  const indent = pad.length;
  while (stack.length && stack[stack.length - 1][0] >= indent) stack.pop();
  if (mark === '▶') {
    stack.push([indent, name]);
    suites.add(`${indent}:${name}`);
    continue;
  }
  // A suite's own result line repeats its name with a duration: not a test.
  if (suites.has(`${indent}:${name.replace(/ \([\d.]+ms\)$/, '')}`)) continue;
  const kind = mark === '✔' ? (/# SKIP/.test(name) ? 'skip' : /# TODO/.test(name) ? 'todo' : 'pass') : mark === '✖' ? 'fail' : mark === '﹣' ? 'skip' : undefined;
  if (!kind) continue;
  const servers = new Set([...namesOf(name), ...stack.flatMap(([, n]) => namesOf(n))]);
  for (const s of servers) counts[s][kind]++;
}
console.log('server        pass  fail  skip  todo');
for (const s of SERVERS) {
  const c = counts[s];
  console.log(`${s.padEnd(12)} ${String(c.pass).padStart(5)} ${String(c.fail).padStart(5)} ${String(c.skip).padStart(5)} ${String(c.todo).padStart(5)}`);
}
console.log(JSON.stringify(counts));
