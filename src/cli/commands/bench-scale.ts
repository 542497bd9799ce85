import { type Command } from 'commander';
import { CHURN_MODES, type ChurnMode, type ChurnResult, runChurn } from '../../bench/churn.js';
import { type ConnectionsBenchResult, type Holder, runConnectionsBench } from '../../bench/connections.js';
import { runStorm, type StormResult } from '../../bench/storm.js';
import { ConfigError } from '../../core/errors.js';
import { writeJsonFile } from '../render/json.js';
import { fmtMs, fmtRate, renderTable } from '../render/table.js';

// `mailmigrate bench connections | storm | churn` (issue 8): the connection-scale benches, registered under the
// `bench` command that src/cli/commands/bench.ts creates. The cores live in src/bench/ and return data; this file
// parses options, prints tables and writes --json.

const int = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${v}"`);
  }
  return n;
};
const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const out = (s: string): void => void process.stdout.write(`${s}\n`);
const kb = (b: number | undefined): string => (b === undefined ? '-' : `${(b / 1024).toFixed(1)} KB`);

function benchCommand(program: Command): Command {
  const bench = program.commands.find((c) => c.name() === 'bench');
  if (!bench) throw new Error('registerBenchScale: register the bench command first');
  return bench;
}

export function registerBenchScale(program: Command): void {
  const bench = benchCommand(program);
  // `bench` has its own --messages, --size, --json, --host …: without positional options commander gives
  // `bench churn --messages 300` to the parent and the subcommand runs with its default. Commander needs it on the
  // program too (else the program hands bench the options apart from the subcommand name); the program has only
  // --version/--help, which every command handles itself, so nothing else changes.
  program.enablePositionalOptions();
  bench.enablePositionalOptions();

  bench
    .command('connections')
    .description('Hold N concurrent authenticated sessions (embedded server in a child process unless --host); report RSS per session and connect/login times')
    .option('--sessions <n>', 'sessions to hold', '1000')
    .option('--source <addrs>', 'comma-separated local addresses to spread sessions over (e.g. 127.0.0.2,127.0.0.3)')
    .option('--noop <ms>', 'a NOOP per session about this often (random phase); 0 = idle', '5000')
    .option('--hold <seconds>', 'hold all sessions this long once established', '5')
    .option('--concurrency <n>', 'connects + logins in flight during the ramp', '64')
    .option('--holder <kind>', 'lean (raw LOGIN/NOOP, default) or connection (the full transport)', 'lean')
    .option('--host <host>', 'a real server (your own test account) instead of the embedded one')
    .option('--port <port>', 'server port', '143')
    .option('--user <user>', 'login (password from MAILMIGRATE_PASSWORD)')
    .option('--json <file>', 'write the result as JSON')
    .action(async (o: Record<string, string | undefined>) => {
      const holder = (o['holder'] ?? 'lean') as Holder;
      if (holder !== 'lean' && holder !== 'connection') throw new ConfigError('--holder', 'must be lean or connection');
      const password = o['host'] ? process.env['MAILMIGRATE_PASSWORD'] : undefined;
      const r = await runConnectionsBench({
        sessions: int('--sessions', o['sessions']!, 1, 10_000_000),
        sources: list(o['source']),
        noopIntervalMs: int('--noop', o['noop']!, 0, 3_600_000),
        holdMs: int('--hold', o['hold']!, 0, 86_400) * 1000,
        concurrency: int('--concurrency', o['concurrency']!, 1, 10_000),
        holder,
        host: o['host'],
        port: o['host'] ? int('--port', o['port']!, 1, 65535) : undefined,
        user: o['user'],
        password,
        onProgress: (ok, bad) => void process.stderr.write(`\r  established ${ok}, failed ${bad}   `),
      });
      process.stderr.write('\n');
      printConnections(r);
      if (o['json']) writeJsonFile(o['json'], r, '--json');
      process.exitCode = r.failed > 0 ? 2 : 0;
    });

  bench
    .command('storm')
    .description('K clients connect at once to the embedded server while it is busy; compare listen backlogs')
    .option('--clients <n>', 'simultaneous connects', '1500')
    .option('--backlog <list>', 'comma-separated listen backlogs, one run each', '511,2048')
    .option('--busy <ms>', 'how long the server is busy (event loop blocked) while they connect', '1500')
    .option('--timeout <seconds>', 'a client without a greeting by then counts as failed', '15')
    .option('--json <file>', 'write the result as JSON')
    .action(async (o: Record<string, string>) => {
      const r = await runStorm({
        clients: int('--clients', o['clients']!, 1, 20_000),
        backlogs: list(o['backlog']).map((b) => int('--backlog', b, 1, 65_535)),
        busyMs: int('--busy', o['busy']!, 0, 60_000),
        timeoutMs: int('--timeout', o['timeout']!, 1, 600) * 1000,
      });
      printStorm(r);
      if (o['json']) writeJsonFile(o['json'], r, '--json');
    });

  bench
    .command('churn')
    .description('A new connection per message (FIN or RST close) vs one persistent connection, against the embedded server')
    .option('--messages <n>', 'messages per mode', '10000')
    .option('--modes <list>', `comma-separated: ${CHURN_MODES.join(', ')}`, CHURN_MODES.join(','))
    .option('--size <bytes>', 'message size', '1024')
    .option('--duration <seconds>', 'stop a mode after this long', '60')
    .option('--json <file>', 'write the result as JSON')
    .action(async (o: Record<string, string>) => {
      const r = await runChurn({
        messages: int('--messages', o['messages']!, 1, 10_000_000),
        modes: list(o['modes']) as ChurnMode[],
        size: int('--size', o['size']!, 200, 16 * 1024 * 1024),
        durationMs: int('--duration', o['duration']!, 1, 86_400) * 1000,
      });
      printChurn(r);
      if (o['json']) writeJsonFile(o['json'], r, '--json');
    });
}

export function printConnections(r: ConnectionsBenchResult): void {
  out(`sessions held: ${r.established} of ${r.sessions} (${r.failed} failed${r.dropped ? `, ${r.dropped} dropped while held` : ''}) in ${fmtMs(r.establishMs)} ms, holder ${r.holder}`);
  if (r.failed) out(`  errors: ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out(`connect ms p50/p99/max: ${fmtMs(r.connectMs.p50)} / ${fmtMs(r.connectMs.p99)} / ${fmtMs(r.connectMs.max)}`);
  out(`login   ms p50/p99/max: ${fmtMs(r.loginMs.p50)} / ${fmtMs(r.loginMs.p99)} / ${fmtMs(r.loginMs.max)}`);
  if (r.noops) out(`NOOP    ms p50/p99/max: ${fmtMs(r.noopMs.p50)} / ${fmtMs(r.noopMs.p99)} / ${fmtMs(r.noopMs.max)} (${r.noops} NOOPs)`);
  out(`client RSS per session: ${kb(r.rssPerSessionBytes)} (JS heap ${kb(r.heapPerSessionBytes)})${r.serverRssPerSessionBytes !== undefined ? `; server child: ${kb(r.serverRssPerSessionBytes)}` : ''}`);
  const k = r.kernel;
  out(`kernel: TCP buffer memory ${k.tcpMemBytes === undefined ? '-' : kb(k.tcpMemBytes)}, sockets in use +${k.tcpInuseDelta ?? '-'}, slab per session ${kb(k.slabPerSessionBytes)}${k.slabBytes === undefined ? ' (/proc/slabinfo not readable)' : ' (both ends on loopback)'}`);
  for (const n of r.preflight.notes) out(`note: ${n}`);
}

export function printStorm(r: StormResult): void {
  out(
    renderTable(r.runs, [
      { header: 'backlog', value: (x) => String(x.backlog) + (x.effectiveBacklog !== x.backlog ? ` (${x.effectiveBacklog})` : ''), align: 'right' },
      { header: 'clients', value: (x) => String(x.clients), align: 'right' },
      { header: 'connect p50', value: (x) => fmtMs(x.connectMs.p50), align: 'right' },
      { header: 'p99', value: (x) => fmtMs(x.connectMs.p99), align: 'right' },
      { header: 'max', value: (x) => fmtMs(x.connectMs.max), align: 'right' },
      { header: 'reply p50', value: (x) => fmtMs(x.firstReplyMs.p50), align: 'right' },
      { header: 'p99', value: (x) => fmtMs(x.firstReplyMs.p99), align: 'right' },
      { header: 'slow', value: (x) => String(x.slowConnects), align: 'right' },
      { header: 'no greeting', value: (x) => String(x.hungAfterConnect), align: 'right' },
      { header: 'ListenOverflows', value: (x) => String(x.listenOverflows ?? '-'), align: 'right' },
      { header: 'SynRetrans', value: (x) => String(x.synRetrans ?? '-'), align: 'right' },
    ]),
  );
  for (const x of r.runs) {
    for (const n of x.notes) out(`backlog ${x.backlog}: ${n}`);
    for (const d of x.diagnosis) out(`backlog ${x.backlog}: [${d.code}] ${d.message}`);
  }
  if (r.runs.every((x) => x.diagnosis.length === 0)) out('diagnosis: no known signature');
}

export function printChurn(r: ChurnResult): void {
  out(
    renderTable(r.runs, [
      { header: 'mode', value: (x) => x.mode + (x.stoppedEarly ? '*' : '') },
      { header: 'messages', value: (x) => String(x.messages), align: 'right' },
      { header: 'msg/s', value: (x) => fmtRate(x.msgsPerSec), align: 'right' },
      { header: 'p50 ms', value: (x) => fmtMs(x.latencyMs.p50), align: 'right' },
      { header: 'p99', value: (x) => fmtMs(x.latencyMs.p99), align: 'right' },
      { header: 'max', value: (x) => fmtMs(x.latencyMs.max), align: 'right' },
      { header: 'connections', value: (x) => String(x.connectionsOpened), align: 'right' },
      { header: 'TIME_WAIT', value: (x) => String(x.timeWait ?? '-'), align: 'right' },
      { header: 'EADDRNOTAVAIL', value: (x) => String(x.eaddrnotavail), align: 'right' },
    ]),
  );
  for (const x of r.runs) for (const d of x.diagnosis) out(`${x.mode}: [${d.code}] ${d.message}`);
}
