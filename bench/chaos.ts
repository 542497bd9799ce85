// `npm run bench:chaos` (issue 7): the exactly-once guarantee under abuse, on the 5000-message corpus of
// docs/measurements.md (src/bench/corpus.ts, seed 7: 107.8 MB, median 4 KB, 15 messages of 1–2 MB).
//   1. kill:  the built CLI is SIGKILLed 20 times at random points of the import, then run to completion.
//   2. mix:   one importer run while faults are injected every few hundred ms: connections dropped mid-literal and
//             after a stored-but-unanswered APPEND, BYE to everyone, throttling, a stalled connection, a server
//             restart on the same port. Unfinished messages (no answer after 3 look-up rounds) are finished by a
//             re-run, as a user would.
//   3. dovecot lost reply (issue 11): a private, real Dovecot behind a proxy that cuts the connection right after
//             Dovecot stored a batch and before its OK reaches the client, every 7th APPEND answer, up to 40 times.
//             (Skipped with the reason when there is no dovecot binary.)
//   4. kill in lanes (issue 16): the corpus dealt into INBOX and three Maildir++ folders, imported into a private
//             Dovecot three folders at once (--folders-at-once 3), SIGKILLed 20 times at random points (judged from
//             the journal's growth), then run to completion: every message once, each in its own folder.
// Each variant prints: messages in source, on server, duplicates, lost, faults injected, time. Exit 1 if any
// message is lost or doubled. The embedded server runs in this process, on 127.0.0.1; Dovecot on a random port.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CorpusOptions, dealIntoFolders, messageId, writeMaildir } from '../src/bench/corpus.js';
import { corpusIds } from './peers/verification.js';
import { startServer, type ImapServer } from '../src/server/server.js';
import { normalizeMessageId } from '../src/core/message-id.js';
import { ControlPlane } from '../src/mailbox/control-plane.js';
import { runCli, startCli } from '../test/cli/cli-helpers.js';
import { startCutProxy } from '../test/helpers/cut-proxy.js';
import { dovecotSkipReason, startDovecot } from '../test/helpers/dovecot.js';
import { importOnce, tally, type Tally } from '../test/reliability/harness.js';

const COUNT = Number(process.env.CHAOS_COUNT ?? 5000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 20);
const CORPUS: CorpusOptions = { seed: 7 };
const PASSWORD = 'chaos-bench-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

interface Row extends Tally {
  variant: string;
  faults: number;
  seconds: number;
  note: string;
}

async function killVariant(src: string, dir: string, ids: string[]): Promise<Row> {
  const server = await startServer({ users: { test: PASSWORD }, noDelay: true });
  try {
    const args = [
      'import', src, '--host', '127.0.0.1', '--port', String(server.port), '--plain', '--user', 'test',
      '--journal', join(dir, 'kill-journal.jsonl'), '--quiet',
    ];
    const env = { MAILMIGRATE_PASSWORD: PASSWORD };
    const t0 = performance.now();
    const { kills, runs } = await killAtRandom(args, env, () => server.store.appendedMessages, COUNT);
    const midImport = runs.filter((r) => r.early !== undefined && r.grew > 0).length;
    const where = runs.map((r) => (r.early === undefined ? 'finished' : `${r.early ? 'early' : ''}+${r.grew}`));
    const last = await new Promise<number | null>((resolve) => {
      const { done } = startCli(args, env);
      void done.then((r) => resolve(r.code));
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      variant: `kill x${kills}`, faults: kills, seconds, ...tally(server.store, ids),
      note: `final run exit ${last}; ${midImport} kills landed with APPENDs under way; server appends per killed run: ${where.join(' ')}`,
    };
  } finally {
    await server.close();
  }
}

/**
 * Starts the import and SIGKILLs it, KILLS times. Kill points: one in five at a random time early on (scan, journal
 * replay, connect, resume look-ups); the rest once `progress` (messages on the server, journal bytes) has grown by a
 * random share of what is left of `total`, so the kills spread over the whole import. Stops early when a run finishes
 * (its entry then has no `early`).
 */
async function killAtRandom(args: string[], env: Record<string, string>, progress: () => number, total: number): Promise<{ kills: number; runs: Array<{ early?: boolean; grew: number }> }> {
  let kills = 0;
  const runs: Array<{ early?: boolean; grew: number }> = [];
  for (let k = 0; k < KILLS; k++) {
    const before = progress();
    const early = Math.random() < 0.2;
    const target = before + rand(1, Math.max(1, Math.floor((2 * Math.max(0, total - before)) / (KILLS - k + 1))));
    const deadline = performance.now() + (early ? rand(20, 400) : 60_000);
    const { child, done } = startCli(args, env);
    let exited = false;
    void done.then(() => (exited = true));
    while (!exited && performance.now() < deadline && (early || progress() < target)) await sleep(1);
    if (exited) {
      runs.push({ grew: progress() - before });
      break;
    }
    child.kill('SIGKILL');
    await done;
    kills++;
    runs.push({ early, grew: progress() - before });
  }
  return { kills, runs };
}

type Fault = { name: string; apply(s: ImapServer): void | Promise<void>; clearMs: number };

async function mixVariant(src: string, dir: string, ids: string[]): Promise<Row> {
  let server = await startServer({ noDelay: true });
  const port = server.port;
  const store = server.store;
  const restart = async () => {
    await server.close();
    await sleep(rand(50, 400));
    server = await startServer({ noDelay: true, port, store });
  };
  const faults: Fault[] = [
    { name: 'drop mid-literal', apply: (s) => s.faults.set({ dropAfterBytes: rand(20_000, 400_000) }), clearMs: 150 },
    { name: 'drop after a stored APPEND', apply: (s) => s.faults.set({ dropAfterCommands: rand(2, 10), dropAfterRunning: true }), clearMs: 150 },
    { name: 'BYE to all', apply: (s) => s.disconnectAll('Server shutting down'), clearMs: 0 },
    { name: 'BYE instead of a reply', apply: (s) => s.faults.set({ byeAfterCommands: rand(2, 10) }), clearMs: 150 },
    { name: 'throttled', apply: (s) => s.faults.set({ throttle: { backoffMs: rand(20, 200), times: rand(1, 5) } }), clearMs: 300 },
    { name: 'throttled then BYE', apply: (s) => s.faults.set({ throttle: { backoffMs: 50, times: 2, thenBye: true } }), clearMs: 300 },
    { name: 'stalled connection', apply: (s) => s.faults.set({ stallAfterCommands: rand(3, 12) }), clearMs: 200 },
    { name: 'server restart', apply: () => restart(), clearMs: 0 },
  ];
  const injected = new Map<string, number>();
  let stop = false;
  const injector = (async () => {
    await sleep(300);
    while (!stop) {
      const f = faults[rand(0, faults.length - 1)]!;
      injected.set(f.name, (injected.get(f.name) ?? 0) + 1);
      await f.apply(server);
      if (f.clearMs) {
        await sleep(f.clearMs);
        server.faults.clear();
      }
      await sleep(rand(200, 600));
    }
  })();
  const journal = join(dir, 'mix-journal.jsonl');
  const t0 = performance.now();
  let runs = 0;
  let unfinished = 0;
  const codes = new Map<string, number>();
  try {
    const r = await importOnce({ host: '127.0.0.1', port }, src, journal, {
      batch: 50, pool: { connections: 4, pipelineDepth: 2, maxRetries: 8 },
    });
    runs++;
    unfinished = r.failures.length;
    for (const f of r.failures) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
  } finally {
    stop = true;
    await injector;
    server.faults.clear();
  }
  // What the faulted run could not settle (an answer never came in 3 look-up rounds) a re-run settles.
  for (let i = 0; i < 3 && tally(server.store, ids).onServer < COUNT; i++) {
    await importOnce({ host: '127.0.0.1', port }, src, journal, { batch: 50 });
    runs++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const total = [...injected.values()].reduce((a, b) => a + b, 0);
  const row: Row = {
    variant: 'fault mix', faults: total, seconds, ...tally(server.store, ids),
    note: `${runs} run(s) (${unfinished} left for the re-run${codes.size ? `: ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}); ${[...injected].map(([k, v]) => `${k} ${v}`).join(', ')}`,
  };
  await server.close();
  return row;
}

/** True when a private Dovecot can run here; else prints why `variant` is skipped. */
function haveDovecot(variant: string): boolean {
  const skip = dovecotSkipReason();
  if (skip) console.log(`${variant}: skipped (${skip})`);
  return skip === undefined;
}

async function dovecotLostReplyVariant(src: string, dir: string, ids: string[]): Promise<Row | undefined> {
  if (!haveDovecot('dovecot lost reply')) return undefined;
  const d = await startDovecot();
  const proxy = await startCutProxy({ host: '127.0.0.1', port: d.port }, { every: 7, max: 40 });
  try {
    const t0 = performance.now();
    const r = await runCli(
      ['import', src, '--host', '127.0.0.1', '--port', String(proxy.port), '--plain', '--user', d.user,
        '--journal', join(dir, 'dovecot-journal.jsonl'), '--batch', '10', '--quiet'],
      { MAILMIGRATE_PASSWORD: d.password },
      600_000,
    );
    const seconds = (performance.now() - t0) / 1000;
    const c = await dovecotCounts(d, ids);
    return {
      variant: 'dovecot lost reply', faults: proxy.cuts, seconds, ...c.tally,
      note: `exit ${r.code}; ${proxy.cuts} connections cut after Dovecot stored a batch, before the OK reached the client`,
    };
  } finally {
    await proxy.close();
    await d.stop();
  }
}

/** Every folder of the Dovecot account, read back: each corpus message's copies, and the folder each was found in. */
async function dovecotCounts(d: { port: number; user: string; password: string }, ids: string[]): Promise<{ tally: Tally; folderOf: Map<string, string[]> }> {
  const cp = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  const folderOf = new Map<string, string[]>();
  let onServer = 0;
  try {
    for (const f of await cp.listFolders()) {
      for (const m of await cp.listMessages(f.path)) {
        onServer++;
        const id = normalizeMessageId(m.messageId) ?? `uid ${m.uid}`;
        folderOf.set(id, [...(folderOf.get(id) ?? []), f.path]);
      }
    }
  } finally {
    await cp.close();
  }
  let duplicates = 0;
  let lost = 0;
  for (const id of ids) {
    const n = folderOf.get(normalizeMessageId(id)!)?.length ?? 0;
    if (n === 0) lost++;
    if (n > 1) duplicates += n - 1;
  }
  return { tally: { source: ids.length, onServer, duplicates, lost }, folderOf };
}

/** A hard-linked copy of the corpus dealt into INBOX and Maildir++ folders (dealIntoFolders, as bench:peers
 *  --folders); returns each message's folder on the server by its (normalized) Message-ID. */
async function dealTree(src: string, dest: string, n: number): Promise<Map<string, string>> {
  execFileSync('cp', ['-al', src, dest]);
  await dealIntoFolders(dest, n);
  const expected = new Map<string, string>();
  for (const [folder, ids] of (await corpusIds(dest)).folders) for (const id of ids) expected.set(normalizeMessageId(id)!, folder || 'INBOX');
  return expected;
}

async function laneKillVariant(src: string, dir: string, ids: string[]): Promise<Row | undefined> {
  if (!haveDovecot('kill in lanes')) return undefined;
  const tree = join(dir, 'tree');
  const placed = await dealTree(src, tree, 4);
  const d = await startDovecot();
  try {
    const journal = join(dir, 'lanes-journal.jsonl');
    const args = [
      'import', tree, '--host', '127.0.0.1', '--port', String(d.port), '--plain', '--user', d.user,
      '--journal', journal, '--folders-at-once', '3', '--batch', '10', '--quiet',
    ];
    const env = { MAILMIGRATE_PASSWORD: d.password };
    const size = (): number => {
      try {
        return statSync(journal).size;
      } catch {
        return 0;
      }
    };
    const t0 = performance.now();
    // ~170 journal bytes a message (sent and confirmed records): the kill points spread over the whole import.
    const { kills, runs } = await killAtRandom(args, env, size, ids.length * 170);
    const where = runs.map((r) => (r.early === undefined ? 'finished' : `${r.early ? 'early ' : ''}${Math.round(r.grew / 1024)}K`));
    const last = await runCli(args, env, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    const c = await dovecotCounts(d, ids);
    // Each message in the folder it was dealt into.
    let misplaced = 0;
    for (const [id, folder] of placed) {
      const found = c.folderOf.get(id) ?? [];
      if (found.length === 1 && found[0] !== folder) misplaced++;
    }
    if (placed.size !== ids.length) throw new Error(`kill in lanes: ${placed.size} Message-IDs read from ${ids.length} files`);
    return {
      variant: `kill x${kills} in lanes`, faults: kills, seconds, ...c.tally, lost: c.tally.lost + misplaced,
      note: `final run exit ${last.code}; ${misplaced} in another folder than dealt; journal growth per killed run: ${where.join(' ')}`,
    };
  } finally {
    await d.stop();
  }
}

function print(rows: Row[]): void {
  const head = ['variant', 'in source', 'on server', 'duplicates', 'lost', 'faults', 'time s'];
  const cells = rows.map((r) => [r.variant, r.source, r.onServer, r.duplicates, r.lost, r.faults, r.seconds.toFixed(1)].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
  console.log(line(head));
  for (const c of cells) console.log(line(c));
  for (const r of rows) console.log(`- ${r.variant}: ${r.note}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mm-chaos-'));
  try {
    const src = join(dir, 'mail');
    const t0 = performance.now();
    const w = await writeMaildir(src, COUNT, CORPUS);
    const ids = Array.from({ length: COUNT }, (_, i) => messageId(i, CORPUS));
    console.log(`corpus: ${w.count} messages, ${(w.bytes / 1e6).toFixed(1)} MB (seed ${CORPUS.seed}), written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const rows = [await killVariant(src, dir, ids), await mixVariant(src, dir, ids)];
    const dovecot = await dovecotLostReplyVariant(src, dir, ids);
    if (dovecot) rows.push(dovecot);
    const lanes = await laneKillVariant(src, dir, ids);
    if (lanes) rows.push(lanes);
    print(rows);
    if (rows.some((r) => r.lost || r.duplicates || r.onServer !== r.source)) {
      console.log('FAIL: a message was lost or doubled');
      process.exitCode = 1;
    } else console.log('OK: 0 lost, 0 duplicated in every variant');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
