#!/usr/bin/env node
// The floor of a Node client on a server without LITERAL+ or MULTIAPPEND (issue 16: Courier, where every message is
// one APPEND with a synchronizing literal and client and server take turns). A private server from the test harness
// (dist/test/helpers, so `npm run build` first), a generated realistic Maildir, then N runs of the child below: one
// connection, LOGIN, and for each file only what the protocol needs — read it, `APPEND INBOX {n}`, wait for "+", the
// literal, wait for the tagged reply. No journal, no timing records, no fingerprint, no adaptation. Prints the child's
// CPU per message (process.cpuUsage over the loop) and its whole process CPU (/usr/bin/time), to set against
// `bench:peers`' client µs/msg for mailmigrate on the same server.
//   node scripts/append-floor.mjs [--server courier] [--messages 1000] [--runs 2]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeMaildir } from '../dist/src/bench/corpus.js';
import { realServers } from '../dist/test/helpers/imap-servers.js';

const CHILD = `
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const [port, user, dir] = process.argv.slice(1);
const pass = process.env.FLOOR_PASSWORD;
const files = readdirSync(join(dir, 'cur')).map((f) => join(dir, 'cur', f));
const s = net.connect(Number(port), '127.0.0.1');
s.setNoDelay(true);
let buf = '';
let waiter;
const check = () => { if (waiter && waiter.re.test(buf)) { const w = waiter; waiter = undefined; buf = ''; w.resolve(); } };
s.on('data', (d) => { buf += d.toString('latin1'); check(); });
const wait = (re) => new Promise((resolve) => { waiter = { re, resolve }; check(); });
await wait(/^\\* OK/m);
s.write('a LOGIN ' + user + ' ' + pass + '\\r\\n');
await wait(/^a OK/m);
const t0 = process.cpuUsage();
let n = 0;
for (const f of files) {
  const raw = readFileSync(f);
  const msg = raw.includes('\\r\\n') ? raw : Buffer.from(raw.toString('latin1').replace(/\\r?\\n/g, '\\r\\n'), 'latin1');
  const tag = 't' + ++n;
  s.write(tag + ' APPEND INBOX {' + msg.length + '}\\r\\n');
  await wait(/^\\+/m);
  s.write(msg);
  s.write('\\r\\n');
  await wait(new RegExp('^' + tag + ' (OK|NO|BAD)', 'm'));
}
const c = process.cpuUsage(t0);
console.log(JSON.stringify({ messages: n, loopCpuUsPerMsg: Math.round((c.user + c.system) / n) }));
s.end('z LOGOUT\\r\\n');
`;

const { values: opt } = parseArgs({ options: { server: { type: 'string', default: 'courier' }, messages: { type: 'string', default: '1000' }, runs: { type: 'string', default: '2' } } });
const server = realServers.find((s) => s.name === opt.server);
if (!server) throw new Error(`--server: one of ${realServers.map((s) => s.name).join(', ')}`);
const skip = server.skipReason();
if (skip) throw new Error(`${opt.server} cannot run here: ${skip}`);
const work = mkdtempSync(join(tmpdir(), 'mm-append-floor-'));
const s = await server.start();
try {
  const u = s.users[0];
  await writeMaildir(join(work, 'M'), Number(opt.messages), { seed: 1 });
  for (let i = 0; i < Number(opt.runs); i++) {
    // A fresh folder state per run is not needed: the floor is the client's CPU, and the server's own cost shows in
    // bench:peers. The password goes in the environment, never on the command line.
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S %e', process.execPath, '--input-type=module', '-e', CHILD, String(s.port), u.name, join(work, 'M')], {
      encoding: 'utf8', env: { PATH: process.env.PATH, FLOOR_PASSWORD: u.password },
    });
    if (r.status !== 0) throw new Error(`the floor client failed: ${r.stderr}`);
    const [user, sys, wall] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    const loop = JSON.parse(r.stdout.trim());
    console.log(JSON.stringify({ server: opt.server, run: i + 1, ...loop, processCpuS: Math.round((user + sys) * 100) / 100, wallS: wall }));
  }
} finally {
  await s.stop();
  rmSync(work, { recursive: true, force: true });
}
