import { toMailmigrateError } from '../core/errors.js';
import type { LiteralMode } from '../core/types.js';
import { type Capabilities, parseCapabilities } from '../imap/capabilities.js';
import type { ControlPlane } from '../mailbox/control-plane.js';
import type { SourceFolder } from '../sources/index.js';
import { Connection, type ConnectionOptions } from '../transport/connection.js';
import type { AdaptChange, AdaptSettings } from './adapt-policy.js';
import { startConnectionsChange, startFolderChange } from './adapt-start.js';
import { FirstConnection } from './first-connection.js';
import { FolderSurvey, type ServerListing, SURVEY_DEPTH } from './folder-survey.js';
import { controlPlaneOptions, type ResolvedTarget, transportOptions } from './target.js';

// The connections of one import run, dialled in the order its first APPEND needs them (issue 16, "adapt to the
// path"; issue 14, start-up). Apart from import-run.ts, which runs the import and reports it: this file decides only
// who is dialled when, and how a refused login is reported.
//
// - The pool's first APPEND connection goes out at once (FirstConnection), before imapflow is even loaded; its other
//   connections once it has logged in (a wrong password fails once there, not once a connection), and no more of them
//   than the run can use (startConnectionsChange: one connection a folder on Courier's signature).
// - The folder survey is dialled beside it and lists the server's folders right after its login (FolderSurvey.listing):
//   the first APPEND needs the folder list and each folder's STATUS, and the control plane (imapflow) took seven
//   round trips to connect, log in and list, one command at a time (docs/adaptation.md, "The folder list over a path").
//   When the run sends to INBOX, INBOX's first look (STATUS, SELECT) goes in the same burst (`inbox`).
// - The control plane is dialled once a login of ours has succeeded (the first connection's; in a dry run, which
//   opens no pool, the survey's), and nothing on the way to the first APPEND waits for it. A wrong password so costs
//   as many failed logins as before (an import two, a dry run one) and is reported as that refusal.

export interface RunConnectionsOptions {
  readonly target: ResolvedTarget;
  /** The options of every APPEND connection (the early ones and the pool's must be the same: FirstConnection). */
  readonly connection: ConnectionOptions;
  /** The pipeline depth the early connections are opened with (the deepest adaptation may go to). */
  readonly earlyDepth: number;
  /** The connections given (--connections), the depth and the literal mode: the start rules read them. */
  readonly connections: number;
  readonly pipelineDepth: number;
  readonly literalMode: LiteralMode;
  /** A dry run opens no pool: no early connection either. */
  readonly dryRun: boolean;
  /** false with --no-adapt (or a dry run): the start rules only advise. */
  readonly adapting: boolean;
  /** The folder list of the run's source, when there is exactly one (walked while the connections log in). */
  readonly sourceFolders: Promise<readonly SourceFolder[]> | undefined;
  /** Does the run send to INBOX, as far as is known when the survey has logged in? Then INBOX's first look goes in
   *  the listing's burst (FolderSurvey.listing). */
  readonly inbox?: () => boolean;
}

export class RunConnections {
  readonly #o: RunConnectionsOptions;
  readonly first: FirstConnection | undefined;
  readonly survey: FolderSurvey;
  /** The survey's folder list (undefined: the control plane answers, ControlAdapter). Never rejects unhandled. */
  readonly listing: Promise<ServerListing | undefined>;
  /** The control plane, connecting; met where it is used (a failure never goes unhandled). */
  readonly plane: Promise<ControlPlane>;
  /** A fresh control plane (ControlAdapter reconnects with it after a fault). */
  readonly connectPlane: () => Promise<ControlPlane>;

  private constructor(o: RunConnectionsOptions, first: FirstConnection | undefined, connect: () => Promise<ControlPlane>) {
    this.#o = o;
    this.first = first;
    this.connectPlane = connect;
    this.survey = new FolderSurvey(() => Connection.open({ ...transportOptions(o.target), pipelineDepth: SURVEY_DEPTH }));
    const { listing, loggedIn } = this.survey.listing(o.inbox ? { inbox: o.inbox } : {});
    this.listing = listing;
    listing.catch(() => undefined); // a failed listing is the control plane's to answer (ControlAdapter)
    this.plane = planeAfterLogin(first ? first.loggedIn : loggedIn, connect);
  }

  /**
   * Dials the first connection and the survey now, then loads imapflow (a chunk of its own in the bundle: after the
   * first byte went out) for the control plane that follows them.
   */
  static async open(o: RunConnectionsOptions): Promise<RunConnections> {
    const first = o.dryRun
      ? undefined
      : new FirstConnection({ ...o.connection, pipelineDepth: o.earlyDepth }, undefined, async (c) => {
          const change = o.adapting ? await connectionsChange(o, c.capabilities) : undefined;
          return (typeof change?.to === 'number' ? change.to : o.connections) - 1;
        });
    // The survey is dialled in the constructor, before imapflow is loaded below; the control plane waits for a login.
    const loaded = import('../mailbox/control-plane.js');
    const self = new RunConnections(o, first, async () => (await loaded).ControlPlane.connect(controlPlaneOptions(o.target)));
    await loaded;
    return self;
  }

  /**
   * Where one connection a folder applies (Courier's signature: startFolderChange), a single source of few folders
   * uses few connections: the change that says so, else undefined. The source's folder list is waited for only where
   * the rule applies: elsewhere the pool's connections go out at once.
   */
  connectionsChange(caps: Pick<Capabilities, 'literalPlus' | 'literalMinus' | 'multiappend'>): Promise<AdaptChange | undefined> {
    return connectionsChange(this.#o, caps);
  }

  /** The server's capabilities after login: the survey's, else the control plane's. */
  async capabilities(): Promise<Capabilities> {
    const listed = await this.listing.catch(() => undefined);
    return listed?.capabilities ?? parseCapabilities([...(await this.plane).capabilities].join(' '));
  }

  /**
   * Closes the first connection (if the pool did not take it), the survey and the control plane together: each close
   * waits for its LOGOUT's answer, one round trip, and one after the other they were three after the last APPEND.
   */
  async close(): Promise<void> {
    await Promise.all([
      this.first?.close().catch(() => undefined),
      this.survey.close().catch(() => undefined),
      this.plane.then((p) => p.close(), () => undefined),
    ]);
  }
}

/** RunConnections.connectionsChange, for the options given (also asked by the first connection once it logged in). */
async function connectionsChange(o: RunConnectionsOptions, caps: Pick<Capabilities, 'literalPlus' | 'literalMinus' | 'multiappend'>): Promise<AdaptChange | undefined> {
  const given: AdaptSettings = { pipelineDepth: o.pipelineDepth, connections: o.connections, connectionsPerFolder: undefined, batch: 1, literalMode: o.literalMode, literalPlusMaxBytes: 0 };
  const have = { literalPlus: caps.literalPlus, literalMinus: caps.literalMinus, multiappend: caps.multiappend };
  if (!o.sourceFolders || !startFolderChange(have, given)) return undefined;
  const folders = await o.sourceFolders.catch(() => undefined);
  return startConnectionsChange(have, given, folders?.length);
}

/**
 * The control plane, dialled once a login of ours has settled (`loggedIn` rejects with why it failed): after a refused
 * login it is not dialled, and the refusal is its error — a wrong password costs no login more. A failure that may
 * pass (a reset, a connection cap) leaves the control plane to try, and report, for itself. Met where it is used:
 * never unhandled when nothing needed it.
 */
export function planeAfterLogin<P>(loggedIn: Promise<void>, connect: () => Promise<P>): Promise<P> {
  const plane = loggedIn.then(connect, (err: unknown) => {
    if (toMailmigrateError(err).retry === 'never') throw err;
    return connect();
  });
  plane.catch(() => undefined);
  return plane;
}
