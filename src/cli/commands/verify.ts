import { type Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { ControlPlane } from '../../mailbox/control-plane.js';
import { ControlAdapter } from '../../migrate/control-adapter.js';
import { verify } from '../../migrate/verify.js';
import { openSource, type Source } from '../../sources/index.js';
import { addConnectionOptions, type ConnectionCliOptions, controlPlaneOptions, describeTarget, processIo, resolveTarget } from '../connection-options.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL } from '../exit-code.js';
import { writeJsonFile } from '../render/json.js';
import { renderVerify } from '../render/summary.js';
import { parseFolderPrefix } from './import.js';

// `mailmigrate verify <source...>`: same connection options as import; compares per folder (counts, Message-ID
// sets, sizes) and lists what is missing or extra. Exit 0 only when everything matches, 2 on a mismatch, 1 when
// it could not run. Read-only on the server: LIST, SELECT, NOOP, UID FETCH (BODY.PEEK, never sets \Seen).

interface VerifyCliOptions extends ConnectionCliOptions {
  folder?: string;
  report?: string;
}

export function registerVerify(program: Command): Command {
  const cmd = program
    .command('verify')
    .description('Compare sources with the server per folder (counts, Message-IDs, sizes); exit 0 only when they match')
    .argument('<source...>', 'the same sources given to import');
  addConnectionOptions(cmd)
    .option('--folder <prefix>', 'the --folder prefix used for the import')
    .option('--report <file>', 'write the comparison as JSON')
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
  for (const p of paths) sources.push(await openSource(p));
  const plane = await ControlPlane.connect(controlPlaneOptions(target));
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.on('SIGINT', onSigint);
  try {
    process.stderr.write(`Verifying against ${describeTarget(target)}\n`);
    const result = await verify(new ControlAdapter(plane), sources, { folderPrefix: prefix, signal: abort.signal });
    process.stdout.write(`${renderVerify(result)}\n`);
    if (opts.report !== undefined) writeJsonFile(opts.report, { version: 1, target: describeTarget(target), ...result });
    if (abort.signal.aborted) return EXIT_INTERRUPTED;
    return result.ok ? EXIT_OK : EXIT_PARTIAL;
  } finally {
    process.off('SIGINT', onSigint);
    await plane.close();
  }
}

