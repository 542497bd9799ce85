import { toMailmigrateError } from '../core/errors.js';
import type { NormalizedMessage, SourceMessage } from '../core/types.js';
import type { Pool } from '../transport/pool.js';
import { compareContent } from './content-match.js';
import type { FlagApplication } from './flag-application.js';
import type { IndexMatch } from './folder-index.js';
import type { FolderRuns } from './folder-runs.js';
import type { FolderTargets } from './folder-targets.js';
import type { ImportTally } from './import-tally.js';
import type { Planned, Prepared } from './import-types.js';
import { hadMessages } from './message-planner.js';
import { type ServerControl, fingerprintOf } from './server-lookup.js';

/** A source message matched by Message-ID and size alone, kept to re-check if a look-alike later claims its copy. */
export interface Owner {
  readonly message: SourceMessage;
  readonly plan: Planned;
}

/**
 * For a message that has been read: is it already in its folder on the server (the folder's bulk index, content
 * compared where Message-ID and size are not enough), and if not, the APPEND that sends it — its folder made sure
 * of, its flags, and a refusal when the server could not store it (NUL bytes without BINARY).
 */
export class MessagePlacement {
  private pool: Pool | undefined;

  constructor(
    private readonly control: ServerControl,
    private readonly folders: FolderRuns,
    private readonly targets: FolderTargets,
    private readonly flags: FlagApplication,
    private readonly tally: ImportTally,
  ) {}

  /** The pool the messages go over (none in a dry run): its capabilities decide what can be sent. */
  begin(pool: Pool | undefined): void {
    this.pool = pool;
  }

  /** Is this message already in its folder? Only folders that held messages before the run need asking (the
   *  importer asks only those: hadMessages). */
  async lookUp(message: SourceMessage, plan: Planned, n: NormalizedMessage): Promise<IndexMatch<Owner> | undefined> {
    const run = plan.run;
    if (!hadMessages(run)) return undefined;
    const index = await this.folders.index(run);
    return index.match<Owner>(n.messageId, n.data, (uid) => this.control.fetchBody(run.path, uid), { message, plan }, async (o, server) => {
      try {
        return compareContent((await o.message.read()).data, server) !== 'different';
      } catch {
        return true; // unreadable now: keep the earlier verdict rather than guess (it cannot be sent anyway)
      }
    });
  }

  /**
   * What to send for a message once it has been looked up (none: nothing to send). Found on the server: its flags
   * follow the source; and when it took over a server copy an earlier message had been matched to by Message-ID and
   * size alone (folder-index.ts), that earlier one is not on the server after all, and goes now.
   */
  place(message: SourceMessage, normalized: NormalizedMessage, plan: Planned, found: IndexMatch<Owner> | undefined): Prepared | undefined | Promise<Prepared | undefined> {
    return found ? this.placeFound(message, plan, found) : this.prepare(message, normalized, plan);
  }

  private async placeFound(message: SourceMessage, plan: Planned, found: IndexMatch<Owner>): Promise<Prepared | undefined> {
    if (found.displaced) this.flags.forget(plan.run, found.uid);
    await this.flags.alreadyThere(message, plan, found);
    return found.displaced ? this.sendInstead(found.displaced) : undefined;
  }

  /** An earlier message counted "already on the server" turned out not to be there: undo that count, send it. */
  private async sendInstead(o: Owner): Promise<Prepared | undefined> {
    this.tally.progress.skipped--;
    this.tally.skippedBy.checked--;
    o.plan.run.counts.checked--;
    let normalized: NormalizedMessage;
    try {
      normalized = await o.message.read();
    } catch (e) {
      o.plan.run.counts.failed++;
      this.fail(o.message.origin, toMailmigrateError(e));
      return undefined;
    }
    return this.prepare(o.message, normalized, o.plan);
  }

  /** Synchronous unless the folder must be created first or its PERMANENTFLAGS are not known yet: once per
   *  message, and a promise per message was measurable (issue 14, bytes allocated per message). */
  private prepare(message: SourceMessage, normalized: NormalizedMessage, plan: Planned): Prepared | undefined | Promise<Prepared | undefined> {
    if (normalized.hasNul && this.pool && !this.pool.capabilities?.binary) {
      plan.run.counts.failed++;
      this.fail(message.origin, { code: 'E_SOURCE_NUL', message: 'message contains NUL bytes and the server does not offer BINARY (RFC 3516)' });
      return undefined;
    }
    const ensuring = this.targets.ensureFolder(plan);
    if (ensuring) {
      return ensuring.then(
        () => this.withFlags(message, normalized, plan),
        (e: unknown) => {
          plan.run.counts.failed++;
          this.fail(message.origin, toMailmigrateError(e));
          return undefined;
        },
      );
    }
    return this.withFlags(message, normalized, plan);
  }

  private withFlags(message: SourceMessage, normalized: NormalizedMessage, plan: Planned): Prepared | Promise<Prepared> {
    const flags = this.flags.wanted(message, plan.mapped.path, true);
    return Array.isArray(flags) ? prepared(message, normalized, plan, flags) : flags.then((f) => prepared(message, normalized, plan, f));
  }

  private fail(source: string, err: { code: string; message: string }): void {
    this.tally.fail(source, err);
    this.tally.report();
  }
}

function prepared(message: SourceMessage, normalized: NormalizedMessage, plan: Planned, flags: string[]): Prepared {
  return {
    message,
    id: plan.id,
    run: plan.run,
    append: {
      mailbox: plan.mapped.path,
      flags,
      internalDate: message.internalDate,
      data: normalized.data,
      ...(normalized.hasNul ? { binary: true } : {}),
    },
    messageId: normalized.messageId,
    fingerprint: normalized.fingerprint ?? fingerprintOf(normalized.data),
  };
}
