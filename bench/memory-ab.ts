// Peak RSS and client CPU of one import, for builds, Node/V8 flags and environments side by side (issue 14, fourth
// pass): the quick loop behind the 1M bench (`bench/memory.ts`), at a size where a run takes seconds.
//
//   node dist/bench/memory-ab.js [--messages 200000] [--folders 4] [--size 1000] [--repeats 3] [--attribute]
//        --variant "defaults" --variant "ss2; flags=--max-semi-space-size=2" \
//        --variant "arena2; env=MALLOC_ARENA_MAX=2" --variant "base; cli=/work/wt/x-base/bin/mailmigrate.js"
//
// A variant is "NAME[; flags=NODE FLAGS][; env=K=V K=V][; cli=PATH TO bin/mailmigrate.js]". One Maildir++ tree is
// written (on /dev/shm when it is a tmpfs with room); then, `--repeats` rounds, each running every variant once in
// turn (so a change of load on this shared machine falls on all of them alike): a fresh `mailmigrate serve
// --maildir` (this build's, its own process), a fresh journal on the disk, `mailmigrate import … --quiet` under
// bench/peers/rusage.py, which reads the client's CPU (user + sys, all threads) and its peak RSS (ru_maxrss) from
// wait4(2). Every run is checked: the report must say every message was appended. With --attribute the import
// preloads bench/memory/rss-sampler.js and the table of where the RSS was at its peak is printed per variant.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeMaildir } from '../src/bench/corpus.js';
import { startEmbedded } from './memory/embedded-server.js';
import { meanAfterTenth, moments, parseSamples, table } from './memory/rss-attribution.js';
import { bytesNeeded } from './memory/rss-growth.js';
import { roomFor } from './memory/room.js';
import { isTmpfs } from './peers/machine.js';
import { parseVariant } from './memory/variant.js';
import { mailmigrateCli, REPO_ROOT } from './peers/clients.js';

const { values: opt } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    folders: { type: 'string', default: '4' },
    size: { type: 'string', default: '1000' },
    repeats: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true },
    attribute: { type: 'boolean', default: false },
    tmp: { type: 'string' },
    out: { type: 'string' },
  },
});

const log = (s: string): void => void process.stderr.write(s + '\n');

let current: ReturnType<typeof spawn> | undefined;
// Ctrl-C / SIGTERM: stop the running import; its non-zero exit ends the loop and the finally blocks stop the server
// and remove the trees (a tmpfs tree left behind holds memory).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => current?.kill('SIGTERM'));

interface Run {
  variant: string;
  round: number;
  cpuS: number;
  peakMb: number;
  wallS: number;
  /** with --attribute: the mean RSS of the samples from 10 % of the messages on (steadier than one peak) */
  meanMb?: number;
  /** with --attribute: collections over the run (scavenges, mark-compacts) and their milliseconds */
  gc?: { minor: number; minorMs: number; major: number; majorMs: number };
  attribution?: string;
}

function whole(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name}: a whole number ≥ ${min}, got "${text}"`);
  return n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const messages = whole('messages', opt.messages!, 10);
  const folders = whole('folders', opt.folders!, 1);
  const size = whole('size', opt.size!, 600);
  const repeats = whole('repeats', opt.repeats!, 1);
  const variants = (opt.variant ?? ['defaults']).map(parseVariant);
  const own = mailmigrateCli();
  if (!own) throw new Error('memory-ab needs the built CLI: npm run build');
  for (const v of variants) if (v.cli && !existsSync(v.cli)) throw new Error(`variant ${v.name}: no ${v.cli}`);
  const sampler = join(REPO_ROOT, 'dist', 'bench', 'memory', 'rss-sampler.js');
  const rusage = join(REPO_ROOT, 'bench', 'peers', 'rusage.py');

  // The source once, one server copy at a time.
  const need = bytesNeeded(messages, size);
  let mailTmp = opt.tmp;
  if (!mailTmp) mailTmp = isTmpfs('/dev/shm') && !(await roomFor('/dev/shm', need)) ? '/dev/shm' : tmpdir();
  const noRoom = await roomFor(mailTmp, need);
  if (noRoom) throw new Error(`not enough room: ${noRoom}`);
  const stateDir = await mkdtemp(join(tmpdir(), 'mailmigrate-memory-ab-state-'));
  const work = await mkdtemp(join(mailTmp, 'mailmigrate-memory-ab-'));
  const started = new Date();
  const runs: Run[] = [];
  try {
    const src = join(work, 'Maildir');
    const per = Math.floor(messages / folders);
    log(`writing ${messages} messages of ${size} bytes in ${folders} folder(s) under ${mailTmp} …`);
    for (let f = 0; f < folders; f++) {
      await writeMaildir(f === 0 ? src : join(src, `.Folder${f}`), f === folders - 1 ? messages - per * f : per, { seed: 300 + f, size });
    }
    let n = 0;
    for (let round = 1; round <= repeats; round++) {
      for (const v of variants) {
        n++;
        const serverDir = join(work, `server-${n}`);
        const server = await startEmbedded(own, serverDir);
        try {
          const journal = join(stateDir, `journal-${n}.jsonl`);
          const report = join(work, `report-${n}.json`);
          const ru = join(work, `rusage-${n}.json`);
          const samples = join(stateDir, `samples-${n}.jsonl`);
          const pre = opt.attribute ? ['--import', sampler] : [];
          const env: Record<string, string> = {
            PATH: process.env['PATH'] ?? '',
            HOME: process.env['HOME'] ?? '/tmp',
            MAILMIGRATE_PASSWORD: server.password,
            ...(opt.attribute ? { MM_RSS_OUT: samples, MM_RSS_JOURNAL: journal } : {}),
            ...v.env,
          };
          const args = [rusage, ru, process.execPath, ...v.flags, ...pre, v.cli ?? own, 'import', src, '--host', '127.0.0.1', '--port', String(server.port), '--user', server.user, '--plain', '--journal', journal, '--report', report, '--quiet'];
          const t0 = performance.now();
          const child = spawn('python3', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
          current = child;
          let stderr = '';
          child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
          const code = await new Promise<number | null>((r) => child.on('close', r));
          const wallS = (performance.now() - t0) / 1000;
          if (code !== 0) throw new Error(`${v.name}: exit ${code}\n${stderr}`);
          const r = JSON.parse(await readFile(report, 'utf8')) as { appended?: number };
          if (r.appended !== messages) throw new Error(`${v.name}: appended ${r.appended}, expected ${messages}`);
          const u = JSON.parse(await readFile(ru, 'utf8')) as { user: number; sys: number; maxrssKb: number };
          const run: Run = { variant: v.name, round, cpuS: u.user + u.sys, peakMb: u.maxrssKb / 1024, wallS };
          if (opt.attribute) {
            const xs = parseSamples(await readFile(samples, 'utf8'));
            run.attribution = table(moments(xs, messages));
            run.meanMb = meanAfterTenth(xs);
            const g = xs[xs.length - 1]?.gc;
            if (g) run.gc = g;
          }
          runs.push(run);
          log(`  ${round}/${repeats} ${v.name.padEnd(16)} CPU ${run.cpuS.toFixed(2)} s, peak ${run.peakMb.toFixed(0)} MB${run.meanMb === undefined ? '' : `, mean ${run.meanMb.toFixed(0)} MB`}${run.gc ? `, GC ${run.gc.minor} minor ${run.gc.minorMs.toFixed(0)} ms, ${run.gc.major} major ${run.gc.majorMs.toFixed(0)} ms` : ''}, wall ${wallS.toFixed(1)} s`);
          if (run.attribution) log(run.attribution);
        } finally {
          await server.stop();
          await rm(serverDir, { recursive: true, force: true });
        }
      }
    }
    const w = Math.max(...variants.map((v) => v.name.length));
    process.stdout.write(`\nmemory-ab — ${started.toISOString()}, ${messages} messages (${folders} × ${size} B), ${repeats} round(s), load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n\n`);
    for (const v of variants) {
      const mine = runs.filter((r) => r.variant === v.name);
      process.stdout.write(
        `  ${v.name.padEnd(w)}  CPU s ${mine.map((r) => r.cpuS.toFixed(2)).join(', ')} (median ${median(mine.map((r) => r.cpuS)).toFixed(2)})` +
          `  peak MB ${mine.map((r) => r.peakMb.toFixed(0)).join(', ')} (median ${median(mine.map((r) => r.peakMb)).toFixed(0)})` +
          (opt.attribute ? `  mean MB ${mine.map((r) => (r.meanMb ?? NaN).toFixed(0)).join(', ')}` : '') +
          '\n',
      );
    }
    const out = opt.out ?? join(REPO_ROOT, 'bench', 'results', `memory-ab-${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-${messages}.json`);
    await mkdir(join(out, '..'), { recursive: true });
    await writeFile(
      out,
      JSON.stringify(
        {
          date: started.toISOString(),
          command: `node dist/bench/memory-ab.js ${process.argv.slice(2).map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`,
          machine: { cpus: cpus().length, kernel: release(), node: process.version, loadAverageAtEnd: loadavg() },
          options: { messages, folders, size, repeats, tmp: mailTmp },
          variants,
          runs,
        },
        null,
        2,
      ) + '\n',
    );
    log(`results: ${out}`);
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  log(`memory-ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
