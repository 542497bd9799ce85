import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { DEFAULT_SETTINGS } from '../../core/settings.js';
import { ConfigError, toMailmigrateError } from '../../core/errors.js';
import { printable } from '../../core/printable.js';
import { refuseOddPath } from '../../core/safe-file.js';
import type { LiteralMode, WriteMode } from '../../core/types.js';
import { SYNC_FLAGS_MODES, type SyncFlagsMode } from '../../migrate/flag-sync.js';
import type { ImportRunOptions } from '../../migrate/import-run.js';
import type { ImportEvent } from '../../migrate/import-types.js';
import { ReadPool } from '../../sources/read-pool.js';
import type { PoolEvent } from '../../transport/pool-types.js';
import { recordToJson } from '../../transport/timing.js';
import { optionalIntegerOption } from '../integer-option.js';
import { addSourceOptions, folderRulesOf, type SourceCliOptions, sourceOptionsOf } from '../source-options.js';
import { addConnectionOptions, type ConnectionCliOptions, processIo, resolveTarget } from '../connection-options.js';
import { EXIT_CANNOT_RUN, EXIT_INTERRUPTED, importExitCode } from '../exit-code.js';
import { NdjsonWriter, writeJsonFile } from '../render/json.js';
import { createProgress, type ProgressRenderer } from '../render/progress.js';
import { renderImportSummary } from '../render/summary.js';

// `mailmigrate import <source...>`: the command users run (issue 4). This file only parses the options, renders what
// the run tells it (progress, notices, the summary), owns SIGINT, --trace and --report, and maps the outcome to an
// exit code; the use case itself (journal, control plane, embedded server, the Importer, the report) is
// src/migrate/import-run.ts, loaded when the command runs.
//
// Defaults are the fastest safe settings measured here, kept in one place (DEFAULT_SETTINGS, src/core/settings.ts,
// where the measurements are cited): TCP_NODELAY on, coalesced writes, literal 'auto' (LITERAL+ when offered, up to
// its size cap), MULTIAPPEND batches of 200 when offered, pipeline depth 2, 2 connections (the pool settles below any
// cap the server enforces; Dovecot's per-user+IP cap is 10).

export interface ImportCliOptions extends ConnectionCliOptions, SourceCliOptions {
  connections?: string;
  pipeline?: string;
  batch?: string;
  foldersAtOnce?: string;
  nodelay: boolean;
  adapt: boolean;
  literal: LiteralMode;
  write: WriteMode;
  journal?: string;
  report?: string;
  trace?: string;
  dryRun?: boolean;
  recheck?: boolean;
  syncFlags: SyncFlagsMode;
  includeDeleted?: boolean;
  foldersOnly?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progressInterval?: string;
  readThreads?: string;
}

export const DEFAULTS = {
  connections: DEFAULT_SETTINGS.connections,
  pipeline: DEFAULT_SETTINGS.pipelineDepth,
  batch: DEFAULT_SETTINGS.batch,
} as const;

/** `--folder "Imported/2024"` → ["Imported", "2024"]: '/' separates levels whatever the server's delimiter. */
export function parseFolderPrefix(v: string | undefined): string[] {
  if (v === undefined) return [];
  const parts = v.split('/').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new ConfigError('--folder', `"${v}" has an empty level`);
  return parts;
}

export function registerImport(program: Command): Command {
  const cmd = program
    .command('import')
    .description('Import Maildir / mbox / .eml trees into an IMAP server (the embedded one without --host); resumable')
    .argument('<source...>', 'Maildir, Maildir++, mbox file, directory of mbox files, or .eml tree');
  addSourceOptions(addConnectionOptions(cmd))
    .option('--folders-only', 'create the folder tree on the server, send no messages')
    .option('--connections <n>', `APPEND connections (default ${DEFAULTS.connections}; never more than the server accepts)`)
    .option('--pipeline <n>', `commands in flight per connection (default ${DEFAULTS.pipeline})`)
    .option('--batch <n>', `messages per MULTIAPPEND (default ${DEFAULTS.batch} when offered; 1 = off)`)
    .option('--folders-at-once <n>', 'folders filled at the same time, each by its own connections (default: one, or one per connection where the server takes one connection a folder, as Courier)')
    .option('--nodelay', 'set TCP_NODELAY (default)', true)
    .option('--no-nodelay', 'leave Nagle on (only to reproduce delayed-ACK stalls)')
    .option('--no-adapt', 'keep --connections/--pipeline/--batch as given; the summary still says what adaptation would change')
    .addOption(new Option('--literal <mode>', 'literal announcement').choices(['auto', 'sync', 'plus', 'minus']).default('auto'))
    .addOption(new Option('--write <mode>', 'socket write strategy').choices(['coalesce', 'split']).default('coalesce'))
    .option('--journal <file>', 'resume journal (default: per-user state directory, one per account); an accelerator checked against the server')
    .option('--recheck', 'reconcile every folder with the server whatever the journal says, appending only what is missing (the fix for a failed verify)')
    .addOption(
      new Option('--sync-flags <mode>', 'flags of messages already on the server: changed = follow what changed in the source since the last run; mirror = make them equal to the source; off')
        .choices([...SYNC_FLAGS_MODES])
        .default('changed'),
    )
    .option('--include-deleted', 'also import messages marked deleted in the source (Maildir T, mbox Status: D, Thunderbird expunged), with \\Deleted')
    .option('--report <file>', 'write the run report as JSON')
    .option('--trace <file>', 'write one NDJSON timing record per command')
    .option('--dry-run', 'check the server read-only and print, per folder, what would be appended, skipped or updated; send nothing')
    .option('--quiet', 'no progress output, only the summary')
    .option('--verbose', 'also print the transport settings, recv-wait per command and every diagnosis')
    .option('--read-threads <n>', 'worker threads that read, normalize and fingerprint message files (default: cores - 2, at most 4; 0 = main thread)')
    .addOption(new Option('--progress-interval <ms>', 'plain progress line period off a TTY').default('5000').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  # One user over TLS; the password from a file (never on the command line)
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --password-file ~/.alice-pw
  # What would happen, per folder, without sending anything
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --password-file ~/.alice-pw --dry-run
  # Leave out Trash and Junk, rename a folder, merge another into INBOX
  mailmigrate import ~/Maildir --host mail.example.org --user alice --exclude Trash --exclude 'Junk*' \\
    --map 'Sent Items=Sent' --map Inbox2=INBOX
  # A single mbox file into a folder of its own
  mailmigrate import ~/mail/sent-mail --to Sent --host mail.example.org --user alice
  # After a verify that found something missing: reconcile every folder, append only what is missing
  mailmigrate import /home/alice/Maildir --host mail.example.org --user alice --recheck
  # A demo into the embedded server (no --host): nothing leaves this machine
  mailmigrate import ./fixtures/maildir`,
    )
    .action(async (sources: string[], opts: ImportCliOptions) => {
      try {
        process.exitCode = await importAction(sources, opts);
      } catch (e) {
        // A run that fails before it starts (bad option, unreachable server, refused login, an ambiguous source)
        // still leaves its --report, so a script or a fleet sees why (issue 12).
        if (opts.report !== undefined) writeFailureReport(opts.report, sources, e);
        throw e;
      }
    });
  return cmd;
}

function writeFailureReport(path: string, sources: readonly string[], e: unknown): void {
  const err = toMailmigrateError(e);
  try {
    writeJsonFile(path, { version: 1, sources: sources.map((p) => resolve(p)), exitCode: EXIT_CANNOT_RUN, error: { code: err.code, message: err.message } });
  } catch {
    // The report path itself is the problem (a symlink, a missing directory): the error on stderr says enough.
  }
}

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

/** Options as the use case takes them: numbers checked, rules parsed; the target resolved (password included). */
async function runOptionsOf(paths: string[], opts: ImportCliOptions): Promise<Omit<ImportRunOptions, 'signal'>> {
  const connections = optionalIntegerOption('--connections', opts.connections, 1, 64) ?? DEFAULTS.connections;
  const pipeline = optionalIntegerOption('--pipeline', opts.pipeline, 1, 64) ?? DEFAULTS.pipeline;
  const batch = optionalIntegerOption('--batch', opts.batch, 1, 1000);
  const foldersAtOnce = optionalIntegerOption('--folders-at-once', opts.foldersAtOnce, 1, 64);
  const folderPrefix = parseFolderPrefix(opts.folder);
  const readThreads = optionalIntegerOption('--read-threads', opts.readThreads, 0, 64) ?? ReadPool.defaultThreads();
  const folderRules = folderRulesOf(opts);
  const target = await resolveTarget(opts, processIo());
  return {
    sources: paths, target, journal: opts.journal, connections, pipeline, batch, folderPrefix, folderRules,
    sourceOptions: sourceOptionsOf(opts), readThreads, noDelay: opts.nodelay, literal: opts.literal, write: opts.write,
    recheck: opts.recheck === true, syncFlags: opts.syncFlags, includeDeleted: opts.includeDeleted === true,
    dryRun: opts.dryRun === true, foldersOnly: opts.foldersOnly === true, countTotal: opts.quiet !== true,
    adapt: opts.adapt !== false, foldersAtOnce,
  };
}

export async function importAction(paths: string[], opts: ImportCliOptions): Promise<number> {
  const progressIntervalMs = optionalIntegerOption('--progress-interval', opts.progressInterval, 10, 3_600_000) ?? 5000;
  const runOptions = await runOptionsOf(paths, opts);
  const { ImportRun } = await import('../../migrate/import-run.js');
  const abort = new AbortController();
  const cleanups: Array<() => void> = [];
  try {
    let progress: ProgressRenderer | undefined;
    let trace: NdjsonWriter | undefined;
    const log = (s: string): void => (progress?.log ?? err)(s);
    const run = new ImportRun({ ...runOptions, signal: abort.signal }, {
      // The server is known: say where the mail goes, then open the outputs (a link at --report or --trace is
      // refused before anything is sent) and start the progress display.
      target: (t) => {
        if (t.embedded) {
          out(
            opts.dryRun
              ? `No --host given: dry run against an empty embedded server at ${t.host}:${t.port}`
              : `No --host given: importing into the embedded server at ${t.host}:${t.port} (in memory, user "test"; the mail is discarded on exit)`,
          );
        } else if (opts.dryRun) out(`Dry run against ${t.description}: the server is read, nothing is sent`);
        if (opts.report !== undefined) refuseOddPath(opts.report, '--report'); // written at the end
        if (opts.trace !== undefined && !opts.dryRun) {
          const w = new NdjsonWriter(opts.trace);
          trace = w;
          cleanups.push(() => w.close());
        }
        if (!opts.quiet) {
          const r = createProgress({ intervalMs: progressIntervalMs });
          progress = r;
          cleanups.push(() => r.stop());
        }
      },
      notice: err,
      total: (n) => progress?.setTotal(n),
      progress: (p) => progress?.update(p),
      record: (r) => trace?.write(recordToJson(r)),
      event: (e) => renderEvent(e, progress, log),
    });

    // SIGINT: the first stops reading and lets commands in flight finish (their outcome is journalled); the second
    // closes the journal synchronously and leaves at once — 'sent' records are already durable, so a re-run
    // re-checks those messages instead of duplicating them.
    let interrupts = 0;
    const onSigint = (): void => {
      interrupts++;
      if (interrupts === 1) {
        abort.abort();
        log('Interrupted: finishing the commands in flight and flushing the journal (Ctrl-C again to quit at once)');
        return;
      }
      let journalPath: string | undefined;
      try {
        trace?.close();
        journalPath = run.closeJournalSync();
      } finally {
        err(journalPath !== undefined ? `Interrupted twice: journal closed at ${journalPath}; re-run the same command to resume` : 'Interrupted twice');
        process.exit(EXIT_INTERRUPTED);
      }
    };
    process.on('SIGINT', onSigint);
    cleanups.push(() => void process.off('SIGINT', onSigint));

    const { report: runReport } = await run.run();
    progress?.stop();
    const report = { ...runReport, exitCode: importExitCode({ failed: runReport.failed, aborted: runReport.interrupted }) };
    out(renderImportSummary(report, { verbose: opts.verbose === true }));
    if (opts.report !== undefined) writeJsonFile(opts.report, report);
    return report.exitCode;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        // Closing output at the end must not hide the run's own result or error.
      }
    }
  }
}

/** What the run tells as it goes, in words: connection cap, throttling, [ALERT]s (RFC 3501 §7.1), lost replies. */
function renderEvent(e: ImportEvent, progress: ProgressRenderer | undefined, log: (s: string) => void): void {
  if (e.type === 'pool') {
    const pe = e.event as PoolEvent;
    const seconds = (ms: number): number => Math.round(ms / 1000);
    if (pe.type === 'connection-cap') progress?.log(`Server connection cap reached: continuing with ${pe.limit} connection(s)`);
    else if (pe.type === 'throttled') progress?.log(`Server throttling: waiting ${pe.delayMs} ms`);
    else if (pe.type === 'overdue') {
      log(
        `Server silent for ${seconds(pe.silentMs)} s on connection ${pe.connectionId} holding ${pe.commands} APPEND(s): waiting up to ${seconds(pe.waitMs)} s more for its answer, which alone says whether they were stored; other connections go on`,
      );
    } else if (pe.type === 'alert') log(`Server alert: ${printable(pe.text)}`);
    else if (pe.type === 'observer-failed') log(`warning: a timing observer failed (${printable(pe.reason)}); the import goes on`);
  } else if (e.type === 'resume-checked') {
    progress?.log(`Lost replies: ${e.found} message(s) whose APPEND went unanswered are on the server, ${e.missing} are not and were sent again`);
  } else if (e.type === 'warning') progress?.log(`warning: ${e.message}`);
}
