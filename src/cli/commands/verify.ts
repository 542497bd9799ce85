import { type Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { ControlPlane } from '../../mailbox/control-plane.js';
import { transportIndexer } from '../../migrate/bulk-index.js';
import { FolderSurvey, SURVEY_DEPTH } from '../../migrate/folder-survey.js';
import { Connection } from '../../transport/connection.js';
import { ControlAdapter } from '../../migrate/control-adapter.js';
import { planeAfterLogin } from '../../migrate/run-connections.js';
import { type VerifyResult, verify } from '../../migrate/verify.js';
import { openSource, refuseOverlappingSources, type Source } from '../../sources/index.js';
import { addConnectionOptions, type ConnectionCliOptions, controlPlaneOptions, describeTarget, processIo, resolveTarget, transportOptions } from '../connection-options.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL } from '../exit-code.js';
import { writeJsonFile } from '../render/json.js';
import { renderVerify } from '../render/summary.js';
import { parseFolderPrefix } from './import.js';
import { addSourceOptions, folderRulesOf, type SourceCliOptions, sourceOptionsOf } from '../source-options.js';

// `mailmigrate verify <source...>`: same connection options as import; matches every source message in its folder
// with import's own rule (src/migrate/folder-index.ts) and lists what is missing, extra or not compared. Exit 0 only
// when every source message was compared and found, 2 otherwise (missing, or anything not compared), 1 when it could
// not run. Read-only on the server: LIST, STATUS, SELECT, NOOP, UID FETCH (BODY.PEEK, never sets \Seen).
// By default every message is compared by content (a fingerprint of both sides, src/migrate/content-match.ts), which
// reads back every matching server body; --fast compares Message-ID and size only and says so.

interface VerifyCliOptions extends ConnectionCliOptions, SourceCliOptions {
  report?: string;
  json?: boolean;
  includeDeleted?: boolean;
  fast?: boolean;
}

export function registerVerify(program: Command): Command {
  const cmd = program
    .command('verify')
    .description('Check that every source message is on the server, per folder; exit 0 only when all were compared and found')
    .argument('<source...>', 'the same sources given to import');
  // The same folder and source options as import: verify looks exactly where import put the mail.
  addSourceOptions(addConnectionOptions(cmd))
    .option('--report <file>', 'write the comparison as JSON')
    .option('--json', 'print per-folder rows as JSON instead of the table')
    .option('--include-deleted', 'expect messages marked deleted in the source too (as import --include-deleted)')
    .option('--fast', 'compare by Message-ID and size only, without reading message bodies back (a change the server made without changing the size goes unnoticed)')
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
  // The same tree twice would count every message twice against one copy on the server.
  await refuseOverlappingSources(paths);
  for (const p of paths) sources.push(await openSource(p, sourceOptionsOf(opts)));
  const indexer = transportIndexer(transportOptions(target));
  // Every folder's STATUS in one burst (folder-survey.ts), on a connection of its own; first the folder list, asked
  // right after its login: over a path the control plane (imapflow) needs seven round trips to be logged in and
  // listed, the survey three (docs/adaptation.md, "The folder list over a path").
  const survey = new FolderSurvey(() => Connection.open({ ...transportOptions(target), pipelineDepth: SURVEY_DEPTH }));
  const { listing, loggedIn } = survey.listing();
  // The control plane is dialled once the survey has logged in (not once it has listed: a LIST never answered must
  // not hold it back), so that a wrong password costs one failed login, as before, and is reported as the survey's
  // refusal; a failure that may pass is the control plane's to try and report for itself.
  const plane = planeAfterLogin(loggedIn, () => ControlPlane.connect(controlPlaneOptions(target)));
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.on('SIGINT', onSigint);
  try {
    process.stderr.write(`Verifying against ${describeTarget(target)}\n`);
    const result = await verify(new ControlAdapter(plane, undefined, indexer, survey, listing), sources, {
      folderPrefix: prefix,
      folderRules: folderRulesOf(opts),
      includeDeleted: opts.includeDeleted === true,
      signal: abort.signal,
      comparison: opts.fast ? 'id-and-size' : 'content',
      readBodies: (path, uids, onBody) => indexer.fetchBodies(path, uids, onBody),
    });
    const json = { version: 2, target: describeTarget(target), ...result };
    process.stdout.write(opts.json ? `${JSON.stringify(json, null, 2)}\n` : `${renderVerify(result)}\n${comparisonNote(result)}\n`);
    if (opts.report !== undefined) writeJsonFile(opts.report, json);
    if (abort.signal.aborted) return EXIT_INTERRUPTED;
    return result.ok ? EXIT_OK : EXIT_PARTIAL;
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.all([plane.then((p) => p.close(), () => undefined), indexer.close(), survey.close()]);
  }
}


/** One line saying how messages were compared, so a --fast pass is never read as a content check. */
export function comparisonNote(r: VerifyResult): string {
  if (r.comparison === 'id-and-size') {
    return 'Compared by Message-ID and size only (--fast): a message the server changed without changing its size is not detected.';
  }
  const changed = r.totals.changedByServer;
  return `Compared by content (${r.bodiesFetched} server message(s) read back)` +
    (changed ? `; ${changed} message(s) changed by the server (same body, header bytes rewritten or headers added).` : '.');
}
