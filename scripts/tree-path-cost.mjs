#!/usr/bin/env node
// A tree of folders over a path (issue 16, "adapt to the path"; docs/adaptation.md "A tree of folders over a path"):
// wall time of `mailmigrate import` into an empty account, of the same import again with a fresh journal (every
// folder reconciled against the server), and of `verify`, through the delay relay of bench:peers in front of a
// private Dovecot, at each round trip given. Builds given as several checkouts run alternately (A B A B …), so a busy
// minute falls on all of them alike. The corpus is the realistic seeded one (src/bench/corpus.ts) dealt round-robin
// into --folders Maildir++ folders; the Dovecot instance and the corpus live under --tmp (tmpfs by default), client
// state too. Every import must leave exactly --messages messages on the server, or the run stops.
//   npm run bench:tree-path -- [--messages 5000] [--folders 50] [--inbox 0] [--rtt 0,40] [--repeats 3]
//                                                   [--tmp /dev/shm] [CHECKOUT …]      (default: this checkout)
// --inbox N: N % of the messages stay in INBOX (the top level), the rest are dealt into the folders: an account's
// INBOX usually holds a good share.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const here = resolve(new URL('..', import.meta.url).pathname);
const { values: opt, positionals } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    folders: { type: 'string', default: '50' },
    inbox: { type: 'string', default: '0' },
    rtt: { type: 'string', default: '0,40' },
    repeats: { type: 'string', default: '3' },
    tmp: { type: 'string', default: '/dev/shm' },
  },
  allowPositionals: true,
});
const builds = (positionals.length ? positionals : [here]).map((b) => resolve(b));
const count = Number(opt.messages);
const nFolders = Number(opt.folders);
process.env.TMPDIR = opt.tmp; // the test helper's Dovecot keeps its config and mail store there
const { writeMaildir } = await import(join(here, 'dist/src/bench/corpus.js'));
const { startDovecot } = await import(join(here, 'dist/test/helpers/dovecot.js'));
const { DelayRelay } = await import(join(here, 'dist/bench/peers/delay-relay.js'));

const work = mkdtempSync(join(opt.tmp, 'mailmigrate-tree-path-'));
const corpus = join(work, 'tree');
await writeMaildir(corpus, count, { seed: 1 });
// Deal the messages round-robin into Maildir++ folders (.F00 … .Fnn); the first --inbox % stay in INBOX.
const all = readdirSync(join(corpus, 'cur')).sort();
const names = all.slice(Math.round((all.length * Number(opt.inbox)) / 100));
names.forEach((n, i) => {
  const dir = join(corpus, `.F${String(i % nFolders).padStart(2, '0')}`);
  if (i < nFolders) for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  renameSync(join(corpus, 'cur', n), join(dir, 'cur', n));
});

const d = await startDovecot();
const env = { ...process.env, MAILMIGRATE_PASSWORD: d.password };
const relays = new Map();
for (const r of opt.rtt.split(',').map(Number)) relays.set(r, r === 0 ? { port: d.port } : await DelayRelay.start({ targetPort: d.port, oneWayMs: r / 2 }));
const results = [];
try {
  for (let i = 0; i < Number(opt.repeats); i++) {
    for (const [rtt, relay] of relays) {
      // The order turns each round: the first build of a round measured slower at 40 ms for the same code (import
      // 1.98 against 1.74 s with this checkout first, 2.00 against 1.99 with it second; the run before it in the
      // same account was the other build's verify, and the account is emptied in between).
      for (const build of [...builds.slice(i % builds.length), ...builds.slice(0, i % builds.length)]) {
        await d.emptyAccount();
        const state = mkdtempSync(join(work, 'state-'));
        const base = ['--host', '127.0.0.1', '--port', String(relay.port), '--user', d.user, '--plain'];
        const timed = async (scenario, args, expectAppended) => {
          const report = join(state, `${scenario}.json`);
          const t0 = performance.now();
          try {
            await run(process.execPath, [join(build, 'bin/mailmigrate.js'), ...args, ...base, ...(args[0] === 'import' ? ['--quiet', '--report', report] : [])], { env, maxBuffer: 64 << 20 });
          } catch (e) {
            throw new Error(`${scenario} (${build}, ${rtt} ms) exited ${e.code}: ${String(e.stderr).slice(-400)}`);
          }
          const wallMs = performance.now() - t0;
          if (expectAppended !== undefined) {
            const r = JSON.parse((await import('node:fs')).readFileSync(report, 'utf8'));
            if (r.appended !== expectAppended) throw new Error(`${scenario} (${build}, ${rtt} ms) appended ${r.appended}, expected ${expectAppended}`);
          }
          results.push({ build, rtt, scenario, wallMs });
          console.log(`${scenario.padEnd(16)} rtt ${String(rtt).padStart(3)} ms  ${(wallMs / 1000).toFixed(2).padStart(6)} s  ${build}`);
        };
        await timed('import', ['import', corpus, '--journal', join(state, 'j1')], count);
        await timed('fresh re-run', ['import', corpus, '--journal', join(state, 'j2')], 0);
        await timed('verify', ['verify', corpus]);
        rmSync(state, { recursive: true, force: true });
      }
    }
  }
} finally {
  for (const r of relays.values()) await r.close?.();
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nmedians of ${opt.repeats}, ${count} messages in ${nFolders} folders${Number(opt.inbox) ? ` and INBOX (${opt.inbox} %)` : ''} (wall s)`);
console.log(['scenario', 'rtt ms', ...builds].join(' | '));
const table = [];
for (const scenario of ['import', 'fresh re-run', 'verify']) {
  for (const rtt of relays.keys()) {
    const row = builds.map((b) => median(results.filter((r) => r.build === b && r.rtt === rtt && r.scenario === scenario).map((r) => r.wallMs)) / 1000);
    table.push({ scenario, rtt, seconds: Object.fromEntries(builds.map((b, i) => [b, row[i]])) });
    console.log([scenario, rtt, ...row.map((x) => x.toFixed(2))].join(' | '));
  }
}
const out = join(here, 'bench/results', `tree-path-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 17)}.json`);
writeFileSync(out, JSON.stringify({ messages: count, folders: nFolders, inboxPercent: Number(opt.inbox), repeats: Number(opt.repeats), builds, table, runs: results }, null, 2));
console.log(`\n${out}`);
