// The plan of a bench:peers run, checked before anything starts: which server kind and variants, which clients (and
// which of them are skipped, with the Debian packages that would bring them), how many repeats, which round trips,
// and the fixed settings the sweep and the probe try.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { basename, resolve } from 'node:path';
import { SERVER_KINDS, type ServerKind } from './bench-server.js';
import { CLIENTS, type ClientDef, mailmigrateCli, mailmigrateCommand, type MailmigrateSettings, rusageAvailable } from './clients.js';
import { DEFAULT_SETTINGS } from '../../src/core/settings.js';
import { version } from './machine.js';
import { type PeersArgs } from './options.js';

/** The import's defaults in the bench's terms (src/core/settings.ts), so the sweep and probe follow them. */
const DEFAULTS: MailmigrateSettings = { connections: DEFAULT_SETTINGS.connections, pipeline: DEFAULT_SETTINGS.pipelineDepth, batch: DEFAULT_SETTINGS.batch };

/**
 * Settings tried for "mailmigrate, best settings", each fixed (--no-adapt), one run each: the defaults and around
 * them (batch 50, the default until the folder-size measurement; batch 800, the bound), the ones adaptation may
 * reach (one connection at depth 1: Courier without LITERAL+; 8 connections: a long path), so "adaptive within 10 %
 * of the best fixed setting" (issue 16) is measured against every setting it can choose.
 */
export const SWEEP: readonly MailmigrateSettings[] = [
  DEFAULTS,
  { connections: 2, pipeline: 2, batch: 50 },
  { connections: 2, pipeline: 2, batch: 800 },
  { connections: 1, pipeline: 1, batch: DEFAULTS.batch },
  { connections: 2, pipeline: 1, batch: 100 },
  { connections: 3, pipeline: 1, batch: DEFAULTS.batch },
  { connections: 4, pipeline: 2, batch: DEFAULTS.batch },
  { connections: 8, pipeline: 2, batch: DEFAULTS.batch },
  { connections: 8, pipeline: 4, batch: DEFAULTS.batch },
];

/** Where mailmigrate's time goes: transport-runner with its timing summary (see the README section). */
export const PROBE: ReadonlyArray<{ name: string; settings: MailmigrateSettings }> = [
  { name: 'sequential APPEND', settings: { connections: 1, pipeline: 1, batch: 1 } },
  { name: 'pipelined APPEND, depth 32, one mailbox', settings: { connections: 1, pipeline: 32, batch: 1 } },
  { name: 'MULTIAPPEND 50, 1 connection', settings: { connections: 1, pipeline: 1, batch: 50 } },
  { name: 'defaults', settings: DEFAULTS },
];

export interface RunPlan {
  readonly kind: ServerKind;
  readonly repeats: number;
  readonly fsync: 'never' | 'optimized';
  /** Dovecot variants (stock, quick-ACK shim); Cyrus and Courier run as the harness starts them. */
  readonly variants: string[];
  readonly rtt: number | undefined;
  /** With --rtt every client runs through the relay twice per repeat: at 0 ms (the relay's own cost) and at --rtt. */
  readonly phases: Array<number | undefined>;
  /** The client names to run, in order. */
  readonly wanted: string[];
  /** Every client this run knows: the built-in ones and the --compare checkout. */
  readonly all: ClientDef[];
  /** Client name → why it is skipped. */
  readonly missing: Map<string, string>;
  readonly haveCc: boolean;
  /** No C compiler for the quick-ACK shim while a noquickack variant is wanted. */
  readonly needCc: boolean;
  /** Debian packages that would bring every skipped row. */
  readonly packages: Set<string>;
}

export function parseServerKind(server: string | undefined): ServerKind {
  const kind = server as ServerKind;
  if (!SERVER_KINDS.includes(kind)) throw new Error(`--server wants one of ${SERVER_KINDS.join(', ')}, got "${server}"`);
  return kind;
}

function compareClient(dir: string): ClientDef {
  const root = resolve(dir);
  const bin = mailmigrateCli(root);
  const rev = version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']) ?? '?';
  return {
    name: 'mailmigrate-compare',
    label: `mailmigrate import (defaults, ${basename(root)} @${rev})`,
    packages: [],
    missing: () => (bin ? undefined : `no built mailmigrate with an import command in ${root} (run npm run build there)`),
    trees: true,
    command: async (c) => mailmigrateCommand(c, undefined, false, bin),
  };
}

export function planRuns(opt: PeersArgs, kind: ServerKind): RunPlan {
  const repeats = Math.max(1, Number(opt.repeats));
  const fsync = opt.fsync === 'optimized' ? 'optimized' : 'never';
  const variants = kind === 'dovecot' ? opt.servers!.split(',').filter(Boolean) : ['stock'];
  const rtt = opt.rtt === undefined ? undefined : Number(opt.rtt);
  if (rtt !== undefined && !(Number.isFinite(rtt) && rtt > 0 && rtt <= 1000)) throw new Error(`--rtt wants milliseconds in (0, 1000], got "${opt.rtt}"`);
  const phases: Array<number | undefined> = rtt === undefined ? [undefined] : [0, rtt];
  if (opt.pin) {
    if (cpus().length < 2) throw new Error('--pin needs 2 CPUs (client on CPU 0, server on CPU 1)');
    if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) throw new Error('--pin needs taskset (Debian package util-linux)');
  }
  const compare = opt.compare ? compareClient(opt.compare) : undefined;
  const known = [...CLIENTS.map((c) => c.name), 'mailmigrate-best', ...(compare ? [compare.name] : [])];
  const wanted = opt.clients ? opt.clients.split(',').filter(Boolean) : [...CLIENTS.map((c) => c.name), 'mailmigrate-best'];
  if (compare && !wanted.includes(compare.name)) wanted.push(compare.name);
  for (const w of wanted) if (!known.includes(w)) throw new Error(`unknown client "${w}"; known: ${known.join(', ')}`);
  const all: ClientDef[] = [...CLIENTS, ...(compare ? [compare] : [])];

  const missing = new Map<string, string>();
  for (const c of all) {
    const m = wanted.includes(c.name) ? c.missing() : undefined;
    if (m) missing.set(c.name, m);
  }
  const folders = Number(opt.folders ?? '1');
  if (!(Number.isInteger(folders) && folders >= 1 && folders <= 200)) throw new Error(`--folders wants 1 to 200, got "${opt.folders}"`);
  if (folders > 1) for (const c of all) if (!c.trees && wanted.includes(c.name)) missing.set(c.name, 'imports INBOX only, not a tree of folders (--folders)');
  if (kind !== 'dovecot') missing.set('doveadm-import', 'Dovecot only');
  else if (rtt !== undefined) missing.set('doveadm-import', 'no network path to delay');
  const haveCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
  const needCc = !haveCc && kind === 'dovecot' && variants.includes('noquickack');
  const packages = new Set<string>();
  for (const name of missing.keys()) for (const p of all.find((c) => c.name === name)?.packages ?? []) packages.add(p);
  if (!rusageAvailable()) packages.add('python3');
  if (needCc) packages.add('gcc');
  return { kind, repeats, fsync, variants, rtt, phases, wanted, all, missing, haveCc, needCc, packages };
}
