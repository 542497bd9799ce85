// The clients of `npm run bench:peers`: what each one needs installed, and how one run of it is started.
// Every client runs as its own process and is timed from spawn to exit (login, reading the files, appending,
// logout), so a Python loop, mbsync and mailmigrate are measured the same way a user would see them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunContext {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The corpus (read-only for clients that only read it). */
  readonly maildir: string;
  /** A private hard-linked copy of the corpus for clients that write into their source (mbsync, doveadm). */
  readonly scratch: () => Promise<string>;
  /** The config file of the private Dovecot (for doveadm); undefined on Cyrus and Courier. */
  readonly dovecotConfig: string | undefined;
  /** The server's personal namespace prefix: a Maildir++ folder ".F1" goes to `${folderPrefix}F1`. */
  readonly folderPrefix: string;
  /** The corpus has Maildir++ folders besides INBOX (--folders). */
  readonly tree: boolean;
  readonly workDir: string;
  /** On the disk's temp dir even when workDir is on tmpfs: client-side journals (mailmigrate's, mbsync's sync
   *  state) are fsync'd, and that cost belongs to the client. */
  readonly stateDir: string;
  readonly timeoutMs: number;
}

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  /** A JSON report file the client writes (mailmigrate --report); read after the run. */
  readonly report?: string;
}

let cliRuns = 0;

export interface ClientDef {
  readonly name: string;
  readonly label: string;
  /** Debian packages it needs, named when missing (the script installs nothing). */
  readonly packages: readonly string[];
  /** undefined when it can run here; else what is missing. */
  readonly missing: () => string | undefined;
  /** Imports a Maildir++ tree (--folders), not only INBOX. */
  readonly trees: boolean;
  readonly command: (ctx: RunContext) => Promise<Command>;
}

export interface ChildResult {
  readonly wallSeconds: number;
  /** user + system CPU seconds of the client process, its threads and the children it waited for (wait4 through
   *  bench/peers/rusage.py); undefined when python3 is missing or the wrapper wrote nothing. */
  readonly cpuSeconds: number | undefined;
  /** The client's peak RSS in MB (wait4's ru_maxrss: the largest of the process and the children it waited for). */
  readonly maxRssMb?: number | undefined;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last JSON line the client printed, if any ({appended, bytes, seconds, …}). */
  readonly json: Record<string, unknown> | undefined;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** bench/peers when run with tsx, dist/bench/peers when compiled. */
const IS_TS = fileURLToPath(import.meta.url).endsWith('.ts');
/** The repository root: above bench/peers, or above dist/bench/peers. */
export const REPO_ROOT = IS_TS ? join(HERE, '..', '..') : join(HERE, '..', '..', '..');
/** Scripts that are not TypeScript stay in bench/peers (tsc does not copy them to dist). */
const SCRIPTS = join(REPO_ROOT, 'bench', 'peers');

function nodeScript(name: string): Command {
  const file = join(HERE, `${name}.${IS_TS ? 'ts' : 'js'}`);
  return { cmd: process.execPath, args: IS_TS ? ['--import', 'tsx', file] : [file] };
}

function which(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function runsOk(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

const needPython = (): string | undefined =>
  runsOk('python3', ['-c', 'import imaplib']) ? undefined : 'python3 (Debian package python3)';
const needPerl = (): string | undefined =>
  runsOk('perl', ['-MMail::IMAPClient', '-e', '1']) ? undefined : 'Mail::IMAPClient (Debian package libmail-imapclient-perl)';
const needMbsync = (): string | undefined => (which('mbsync') ? undefined : 'mbsync (Debian package isync)');
const needDoveadm = (): string | undefined =>
  which('doveadm') || existsSync('/usr/bin/doveadm') ? undefined : 'doveadm (Debian package dovecot-core)';
const needNothing = (): string | undefined => undefined;

/** mailmigrate's own CLI (of this checkout, or of another built one: --compare DIR), once the `import` command
 *  exists in that build; undefined until then. */
export function mailmigrateCli(root: string = REPO_ROOT): string | undefined {
  const bin = join(root, 'bin', 'mailmigrate.js');
  const cmd = join(root, 'dist', 'src', 'cli', 'commands', 'import.js');
  if (!existsSync(bin) || !existsSync(cmd)) return undefined;
  return runsOk(process.execPath, [bin, 'import', '--help']) ? bin : undefined;
}

export interface MailmigrateSettings {
  readonly connections: number;
  readonly pipeline: number;
  readonly batch: number;
}

export const settingsName = (s: MailmigrateSettings): string => `c${s.connections} d${s.pipeline} b${s.batch}`;

/**
 * A mailmigrate run: the CLI `import` when it exists (a fresh journal per run, under the run's work dir), else
 * bench/peers/transport-runner (the importer's path without the journal). `settings` undefined = the defaults.
 * `fixed`: --no-adapt (the sweep and the best row measure one setting; the defaults row adapts, as an import does).
 */
export function mailmigrateCommand(ctx: RunContext, settings: MailmigrateSettings | undefined, forceTransport = false, cliBin?: string, fixed = false): Command {
  const flags = settings ? ['--connections', String(settings.connections), '--pipeline', String(settings.pipeline), '--batch', String(settings.batch)] : [];
  // A fixed setting (the sweep, the "best" row): adaptation off, so the row measures that setting and nothing else.
  if (fixed && !forceTransport) flags.push('--no-adapt');
  const cli = forceTransport ? undefined : (cliBin ?? mailmigrateCli());
  if (cli) {
    // A fresh journal per run: with the default (keyed by source and target) the 2nd repeat would find every
    // message confirmed and skip them all. --quiet: no progress output to pay for.
    const stamp = `${Date.now()}-${++cliRuns}`;
    return {
      cmd: process.execPath,
      args: [
        cli, 'import', ctx.maildir, '--host', ctx.host, '--port', String(ctx.port), '--user', ctx.user, '--plain', '--quiet',
        '--journal', join(ctx.stateDir, `journal-${stamp}.jsonl`), '--report', join(ctx.workDir, `report-${stamp}.json`), ...flags,
      ],
      env: { MAILMIGRATE_PASSWORD: ctx.password },
      report: join(ctx.workDir, `report-${stamp}.json`),
    };
  }
  const base = nodeScript('transport-runner');
  return { ...base, args: [...base.args, ctx.host, String(ctx.port), ctx.user, ctx.maildir, ...flags] };
}

export const CLIENTS: readonly ClientDef[] = [
  {
    name: 'imaplib',
    label: 'Python imaplib',
    packages: ['python3'],
    missing: needPython,
    trees: false,
    command: async (c) => ({ cmd: 'python3', args: [join(SCRIPTS, 'python-imaplib.py'), c.host, String(c.port), c.user, c.maildir] }),
  },
  {
    name: 'imaplib-nodelay',
    label: 'Python imaplib + TCP_NODELAY',
    packages: ['python3'],
    missing: needPython,
    trees: false,
    command: async (c) => ({ cmd: 'python3', args: [join(SCRIPTS, 'python-imaplib.py'), c.host, String(c.port), c.user, c.maildir, '--nodelay'] }),
  },
  {
    name: 'perl',
    label: 'Perl Mail::IMAPClient',
    packages: ['libmail-imapclient-perl'],
    missing: needPerl,
    trees: true,
    command: async (c) => ({ cmd: 'perl', args: [join(SCRIPTS, 'imapclient.pl'), c.host, String(c.port), c.user, c.maildir, c.folderPrefix] }),
  },
  {
    name: 'mbsync',
    label: 'mbsync (isync) push',
    packages: ['isync'],
    missing: needMbsync,
    trees: true,
    command: async (c) => {
      const { readFile, writeFile, mkdir } = await import('node:fs/promises');
      const near = await c.scratch();
      const state = join(c.stateDir, `mbsync-${Date.now()}-${++cliRuns}`);
      await mkdir(state, { recursive: true });
      const text = (await readFile(join(SCRIPTS, 'mbsyncrc.template'), 'utf8'))
        .replaceAll('@STATEDIR@', state)
        .replaceAll('@HOST@', c.host)
        .replaceAll('@PORT@', String(c.port))
        .replaceAll('@USER@', c.user)
        .replaceAll('@NEARLAYOUT@', c.tree ? 'SubFolders Maildir++' : `Path ${near}/`)
        .replaceAll('@MAILDIR@', near)
        .replaceAll('@PATTERNS@', c.tree ? '*' : 'INBOX');
      const rc = join(dirname(near), 'mbsyncrc');
      await writeFile(rc, text, { mode: 0o600 });
      return { cmd: 'mbsync', args: ['-c', rc, '-q', 'push'] };
    },
  },
  {
    name: 'imapflow-1',
    label: 'imapflow append, 1 connection',
    packages: [],
    missing: needNothing,
    trees: false,
    command: async (c) => {
      const base = nodeScript('imapflow-runner');
      return { ...base, args: [...base.args, c.host, String(c.port), c.user, c.maildir, '1'] };
    },
  },
  {
    name: 'imapflow-4',
    label: 'imapflow append, 4 connections',
    packages: [],
    missing: needNothing,
    trees: false,
    command: async (c) => {
      const base = nodeScript('imapflow-runner');
      return { ...base, args: [...base.args, c.host, String(c.port), c.user, c.maildir, '4'] };
    },
  },
  {
    name: 'doveadm-import',
    label: 'doveadm import (no network)',
    packages: ['dovecot-core'],
    missing: needDoveadm,
    trees: true,
    command: async (c) => {
      // The server's own ingest: Dovecot reads the Maildir as a mail storage (in-memory indexes, so the source
      // stays as it is apart from the uidlist it writes in its own copy) and saves into the user's INBOX.
      if (!c.dovecotConfig) throw new Error('doveadm import needs the private Dovecot');
      const src = await c.scratch();
      return { cmd: which('doveadm') ?? '/usr/bin/doveadm', args: ['-c', c.dovecotConfig, 'import', '-u', c.user, `maildir:${src}:INDEX=MEMORY`, '', 'all'] };
    },
  },
  {
    name: 'mailmigrate',
    label: 'mailmigrate import (defaults)',
    packages: [],
    missing: needNothing,
    trees: true,
    command: async (c) => mailmigrateCommand(c, undefined),
  },
  // mailmigrate-best is added by peers.ts once the sweep has chosen its settings.
];

let rusageOk: boolean | undefined;
/** Can bench/peers/rusage.py run here (python3 with os.wait4)? Asked once. */
export function rusageAvailable(): boolean {
  rusageOk ??= runsOk('python3', ['-c', 'import os; os.wait4; os.waitstatus_to_exitcode']);
  return rusageOk;
}

export interface RunChildOptions {
  /** --pin: run the client on this CPU only (taskset -c). */
  readonly cpu?: number | undefined;
  /** Where rusage.py writes the client's CPU (a fresh path per run). */
  readonly rusageFile?: string | undefined;
}

/**
 * The environment every client runs in: this process's, without NODE_EXTRA_CA_CERTS unless KEEP_EXTRA_CA=1. Node 20
 * parses that file and its own ~140 root certificates at every start, TLS or not (~50 ms CPU here; docs/measurements.md
 * "The environment's extra CA file"): a cost of this machine's environment that an admin's shell usually does not
 * have, and that only the Node client would pay.
 */
export function clientEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (process.env['KEEP_EXTRA_CA'] !== '1') delete env['NODE_EXTRA_CA_CERTS'];
  return env;
}

/**
 * Spawns one client run with the password in its environment (never on its command line) and times it. With
 * `rusageFile`, the client runs under bench/peers/rusage.py, which records its CPU from wait4(2). The run is its own
 * process group, so the timeout kills the client and the wrapper together.
 */
export function runChild(command: Command, password: string, timeoutMs: number, o: RunChildOptions = {}): Promise<ChildResult> {
  return new Promise((resolve) => {
    let argv = [command.cmd, ...command.args];
    if (o.cpu !== undefined) argv = ['taskset', '-c', String(o.cpu), ...argv];
    const measured = Boolean(o.rusageFile) && rusageAvailable();
    if (measured) argv = ['python3', join(SCRIPTS, 'rusage.py'), o.rusageFile!, ...argv];
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...clientEnvironment(), ...command.env, MM_BENCH_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const finish = (code: number | null): void => {
      clearTimeout(timer);
      const wallSeconds = (performance.now() - t0) / 1000;
      let json: Record<string, unknown> | undefined;
      for (const line of stdout.trim().split('\n').reverse()) {
        try {
          const v = JSON.parse(line) as unknown;
          if (v && typeof v === 'object') {
            json = v as Record<string, unknown>;
            break;
          }
        } catch {
          // not a JSON line
        }
      }
      let cpuSeconds: number | undefined;
      let maxRssMb: number | undefined;
      if (measured) {
        try {
          const ru = JSON.parse(readFileSync(o.rusageFile!, 'utf8')) as { user: number; sys: number; maxrssKb?: number };
          cpuSeconds = ru.user + ru.sys;
          if (typeof ru.maxrssKb === 'number') maxRssMb = ru.maxrssKb / 1024;
        } catch {
          // killed before the wrapper wrote its file
        }
      }
      resolve({ wallSeconds, cpuSeconds, maxRssMb, code, stdout: stdout.slice(-8000), stderr, json });
    };
    child.on('error', (err) => {
      stderr += String(err);
      finish(null);
    });
    child.on('close', (code) => finish(code));
  });
}
