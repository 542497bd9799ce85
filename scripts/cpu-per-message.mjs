// Client CPU per message of `mailmigrate import` (issue 14): a small, repeatable measurement for the hot path.
//
//   npm run build && node scripts/cpu-per-message.mjs [--messages 5000] [--repeats 3] [--profile DIR]
//                                                   [--builds DIR[,DIR…]] [--tmp /dev/shm] [-- extra import flags]
//
// Writes the realistic seeded corpus (src/bench/corpus.ts, Maildir) and a private Dovecot's mail store under --tmp
// (tmpfs by default, so the server's disk does not set the pace), then runs `node <build>/bin/mailmigrate.js import`
// for each build in turn, `--repeats` times, alternating builds (a before/after comparison on a shared machine in
// the same minutes). The client's CPU is its own rusage (user + system, main and worker threads), read by a module
// preloaded into the child (`--import`), so neither process start-up of the harness nor the server counts. Each run
// goes into an emptied INBOX and must leave exactly --messages messages there, or it does not count.
// --profile DIR: also writes a V8 CPU profile per run (`node --cpu-prof`), to sum with scripts/cpu-profile-top.mjs.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = resolve(new URL('..', import.meta.url).pathname);
const { values: opt, positionals } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    repeats: { type: 'string', default: '3' },
    builds: { type: 'string', default: here },
    profile: { type: 'string' },
    tmp: { type: 'string', default: '/dev/shm' },
  },
  allowPositionals: true,
});
const count = Number(opt.messages);
const builds = opt.builds.split(',').map((b) => { const [d, f] = b.split('@'); return f === undefined ? resolve(d) : `${resolve(d)}@${f}`; });
const { writeMaildir } = await import(join(here, 'dist/src/bench/corpus.js'));
const { startDovecot, dovecotSkipReason } = await import(join(here, 'dist/test/helpers/dovecot.js'));
const skip = dovecotSkipReason();
if (skip) {
  console.error(`no Dovecot: ${skip}`);
  process.exit(2);
}

const work = mkdtempSync(join(opt.tmp, 'mm-cpu-'));
const maildir = join(work, 'corpus');
const rusageFile = join(work, 'rusage.json');
const preload = join(work, 'rusage.mjs');
writeFileSync(
  preload,
  `import { writeFileSync } from 'node:fs';\n` +
    `process.on('exit', () => { const u = process.resourceUsage(); writeFileSync(process.env.MM_RUSAGE_FILE, JSON.stringify({ user: u.userCPUTime, system: u.systemCPUTime, maxRssKb: u.maxRSS, minorFaults: u.minorPageFault })); });\n`,
);
const corpus = await writeMaildir(maildir, count, { seed: 1 });
const dovecot = await startDovecot({ fsync: 'never' });
console.error(`corpus: ${corpus.count} messages, ${(corpus.bytes / 1e6).toFixed(1)} MB in ${maildir}; Dovecot ${dovecot.version} on port ${dovecot.port}`);

function run(buildSpec, i) {
  let build = buildSpec;
  // A build may carry node/V8 flags after '@', space-separated: --builds ".@--max-semi-space-size=32" (experiments).
  const [dir, flags = ''] = build.split('@');
  build = dir;
  const args = flags.split(' ').filter(Boolean);
  if (opt.profile) args.push('--cpu-prof', '--cpu-prof-dir', resolve(opt.profile), '--cpu-prof-name', `${build.split('/').pop()}-${i}.cpuprofile`);
  args.push('--import', preload, join(build, 'bin/mailmigrate.js'), 'import', maildir, '--host', dovecot.host, '--port', String(dovecot.port));
  args.push('--user', dovecot.user, '--plain', '--quiet', '--journal', join(work, `journal-${i}.jsonl`), ...positionals);
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    // MM_WRAP: a command put before node, e.g. "perf record -g -o /tmp/x.data" (then pass --perf-basic-prof in
    // NODE_OPTIONS so perf names JIT-compiled functions).
    const wrap = (process.env.MM_WRAP ?? '').split(' ').filter(Boolean);
    const child = spawn(wrap[0] ?? process.execPath, wrap.length ? [...wrap.slice(1), process.execPath, ...args] : args, {
      env: { ...process.env, MAILMIGRATE_PASSWORD: dovecot.password, MM_RUSAGE_FILE: rusageFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`${build}: exit ${code}\n${err}`));
      const u = JSON.parse(readFileSync(rusageFile, 'utf8'));
      ok({ wall: (performance.now() - t0) / 1000, cpuUs: u.user + u.system, journalBytes: statSync(join(work, `journal-${i}.jsonl`)).size, ...u });
    });
  });
}

const results = new Map(builds.map((b) => [b, []]));
let n = 0;
try {
  for (let r = 0; r < Number(opt.repeats); r++) {
    for (const build of builds) {
      await dovecot.emptyAccount();
      const res = await run(build, ++n);
      const held = Number((await dovecot.doveadm(['-f', 'flow', 'mailbox', 'status', '-u', dovecot.user, 'messages', 'INBOX'])).match(/messages=(\d+)/)?.[1]);
      if (held !== count) throw new Error(`${build}: the server holds ${held} messages, expected ${count}`);
      results.get(build).push(res);
      console.error(`${build}  run ${r + 1}: client CPU ${(res.cpuUs / 1e6).toFixed(2)} s = ${(res.cpuUs / Math.max(1, count)).toFixed(0)} µs/msg (user ${(res.user / 1e6).toFixed(2)} s, sys ${(res.system / 1e6).toFixed(2)} s), wall ${res.wall.toFixed(2)} s, max RSS ${(res.maxRssKb / 1024).toFixed(0)} MB, ${(res.minorFaults / Math.max(1, count)).toFixed(1)} page faults/msg, journal ${(res.journalBytes / Math.max(1, count)).toFixed(0)} B/msg`);
    }
  }
} finally {
  await dovecot.stop();
  rmSync(work, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [build, rs] of results) {
  const per = (v) => (count > 0 ? `${(v / count).toFixed(0)} µs/msg` : `${(v / 1000).toFixed(0)} ms in all`);
  console.log(
    `${build}: median client CPU ${per(median(rs.map((r) => r.cpuUs)))} ` +
      `(user ${per(median(rs.map((r) => r.user)))}, sys ${per(median(rs.map((r) => r.system)))}), ` +
      `median wall ${median(rs.map((r) => r.wall)).toFixed(2)} s, max RSS ${Math.max(...rs.map((r) => r.maxRssKb / 1024)).toFixed(0)} MB, median page faults ${median(rs.map((r) => r.minorFaults)) ?? '?'}, runs ${rs.length}`,
  );
}
