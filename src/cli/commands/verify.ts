import { type Command, Option } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { ControlPlane } from '../../mailbox/control-plane.js';
import { transportIndexer } from '../../migrate/bulk-index.js';
import { ControlAdapter } from '../../migrate/control-adapter.js';
import { FolderRules } from '../../migrate/folder-rules.js';
import { verify } from '../../migrate/verify.js';
import { openSource, type Source, type SourceFormat } from '../../sources/index.js';
import { addConnectionOptions, type ConnectionCliOptions, controlPlaneOptions, describeTarget, processIo, resolveTarget, transportOptions } from '../connection-options.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL } from '../exit-code.js';
import { writeJsonFile } from '../render/json.js';
import { renderVerify } from '../render/summary.js';
import { collect, parseFolderPrefix } from './import.js';

// `mailmigrate verify <source...>`: same connection options as import; matches every source message in its folder
// with import's own rule (src/migrate/folder-index.ts) and lists what is missing, extra or not compared. Exit 0 only
// when every source message was compared and found, 2 otherwise (missing, or anything not compared), 1 when it could
// not run. Read-only on the server: LIST, STATUS, SELECT, NOOP, UID FETCH (BODY.PEEK, never sets \Seen).

interface VerifyCliOptions extends ConnectionCliOptions {
  folder?: string;
  include: string[];
  exclude: string[];
  map: string[];
  mapFile?: string;
  to?: string;
  report?: string;
  json?: boolean;
  includeDeleted?: boolean;
  followSymlinks?: boolean;
  format?: SourceFormat;
}

export function registerVerify(program: Command): Command {
  const cmd = program
    .command('verify')
    .description('Check that every source message is on the server, per folder; exit 0 only when all were compared and found')
    .argument('<source...>', 'the same sources given to import');
  addConnectionOptions(cmd)
    .option('--folder <prefix>', 'the --folder prefix used for the import')
    .option('--to <folder>', 'the --to used for the import')
    .option('--include <glob>', 'the --include globs used for the import (repeatable)', collect, [])
    .option('--exclude <glob>', 'the --exclude globs used for the import (repeatable)', collect, [])
    .option('--map <src=dst>', 'the --map rules used for the import (repeatable)', collect, [])
    .option('--map-file <file>', 'the --map-file used for the import')
    .option('--report <file>', 'write the comparison as JSON')
    .option('--json', 'print per-folder rows as JSON instead of the table')
    .option('--include-deleted', 'expect messages marked deleted in the source too (as import --include-deleted)')
    .addOption(new Option('--format <format>', 'read the source as this format (as import --format)').choices(['maildir', 'maildir++', 'mbox', 'mbox-dir', 'eml']))
    .option('--follow-symlinks', 'follow links out of the source tree (as import --follow-symlinks)')
    .action(async (paths: string[], opts: VerifyCliOptions) => {
      process.exitCode = await verifyAction(paths, opts);
    });
  return cmd;
}

async function verifyAction(paths: string[], opts: VerifyCliOptions): Promise<number> {
  const prefix = parseFolderPrefix(opts.folder);
  const target = await resolveTarget(opts, processIo());
  if (!target) throw new ConfigError('--host', 'verify needs a server (--host or MAILMIGRATE_HOST); the embedded one keeps nothing between runs');
  const sources: Source[] = [];
  for (const p of paths) sources.push(await openSource(p, { followSymlinks: opts.followSymlinks === true, format: opts.format }));
  const plane = await ControlPlane.connect(controlPlaneOptions(target));
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.on('SIGINT', onSigint);
  try {
    process.stderr.write(`Verifying against ${describeTarget(target)}\n`);
    const result = await verify(new ControlAdapter(plane, undefined, transportIndexer(transportOptions(target))), sources, {
      folderPrefix: prefix,
      folderRules: new FolderRules({ include: opts.include, exclude: opts.exclude, map: opts.map, mapFile: opts.mapFile, to: opts.to }),
      includeDeleted: opts.includeDeleted === true,
      signal: abort.signal,
    });
    const json = { version: 2, target: describeTarget(target), ...result };
    process.stdout.write(opts.json ? `${JSON.stringify(json, null, 2)}\n` : `${renderVerify(result)}\n`);
    if (opts.report !== undefined) writeJsonFile(opts.report, json);
    if (abort.signal.aborted) return EXIT_INTERRUPTED;
    return result.ok ? EXIT_OK : EXIT_PARTIAL;
  } finally {
    process.off('SIGINT', onSigint);
    await plane.close();
  }
}

