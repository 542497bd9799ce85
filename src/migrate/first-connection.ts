import { toMailmigrateError } from '../core/errors.js';
import { Connection, type ConnectionOptions, type OverdueNotice } from '../transport/connection.js';
import type { PoolConnection } from '../transport/pool.js';
import type { TimingRecord } from '../transport/timing.js';

// The APPEND pool's first connection, opened before the control plane is loaded (issue 14, docs/measurements.md
// "Start-up"). The control plane runs over imapflow, whose code is most of what `import` loads before it can talk to
// the server (~150 modules, several hundred ms of CPU here). Our own transport is small: opening its first connection
// first lets the server's greeting, CAPABILITY and LOGIN round trips run while imapflow is read and compiled, and
// the pool later takes that connection instead of opening it then (PoolOptions.connect).
//
// Nothing about the run changes but the order: the same number of connections (the control connection and the
// pool's), the same options (checked when the pool asks: any difference and the early connection is closed and a
// fresh one opened), and the timing records and [ALERT]s of the early greeting and login are handed to the pool's
// observers when it takes the connection. A refused login is reported as this connection's refusal (`loggedIn`):
// import-run.ts dials the control plane only after a good login here (session 27: the folder survey, dialled beside
// this connection, lists the folders, and the first APPEND waits for no command of the control plane's).

/** Which ConnectionOptions shape the connection when it is opened (true), and which are observers (false).
 *  A Record over every key: a new option added to ConnectionOptions does not compile until it is listed here. */
const SHAPES_CONNECTION: Readonly<Record<keyof ConnectionOptions, boolean>> = {
  host: true,
  port: true,
  tls: true,
  ca: true,
  rejectUnauthorized: true,
  servername: true,
  auth: true,
  noDelay: true,
  keepAlive: true,
  localAddress: true,
  timeouts: true,
  pipelineDepth: true,
  writeMode: true,
  literalMode: true,
  literalPlusMaxBytes: true,
  maxBufferedBytes: true,
  readerLimits: true,
  clock: true,
  onRecord: false,
  onObserverError: false,
  onAlert: false,
  onOverdue: false,
};

/** Do two option sets open the same connection? Observers aside, every option must be the same value. */
export function sameConnectionSettings(a: ConnectionOptions, b: ConnectionOptions): boolean {
  for (const [key, shapes] of Object.entries(SHAPES_CONNECTION) as Array<[keyof ConnectionOptions, boolean]>) {
    if (shapes && a[key] !== b[key]) return false;
  }
  return true;
}

/** Records and alerts held until the pool takes the connection: a greeting, CAPABILITY, maybe STARTTLS, LOGIN. */
const MAX_HELD = 16;

type Opener = (options: ConnectionOptions) => Promise<PoolConnection>;

/** One connection opened early: its records and alerts are held until the pool takes it, then go to the pool's. */
class EarlyConnection {
  /** The pool's own options once it took the connection: where its records and alerts go from then on. */
  #owner: ConnectionOptions | undefined;
  #settled: PoolConnection | undefined;
  readonly #held: Array<(o: ConnectionOptions) => void> = [];
  readonly opened: Promise<PoolConnection>;

  constructor(options: ConnectionOptions, open: Opener) {
    this.opened = open({
      ...options,
      onRecord: (r: TimingRecord) => this.#relay((o) => o.onRecord?.(r)),
      onAlert: (text: string, id: number) => this.#relay((o) => o.onAlert?.(text, id)),
      onOverdue: (n: OverdueNotice) => this.#relay((o) => o.onOverdue?.(n)),
      onObserverError: (err: unknown, r: TimingRecord) => this.#relay((o) => o.onObserverError?.(err, r)),
    });
    this.opened.then(
      (c) => (this.#settled = c),
      () => undefined, // looked at when the pool asks (connect), never unhandled
    );
  }

  #relay(deliver: (o: ConnectionOptions) => void): void {
    if (this.#owner) deliver(this.#owner);
    else if (this.#held.length < MAX_HELD) this.#held.push(deliver);
  }

  /** The pool takes it: what was held goes to the pool's observers. */
  adopt(options: ConnectionOptions): void {
    this.#owner = options;
    for (const deliver of this.#held.splice(0)) deliver(options);
  }

  get owned(): boolean {
    return this.#owner !== undefined;
  }

  async close(): Promise<void> {
    const c = this.#settled ?? (await this.opened.catch(() => undefined));
    await c?.close();
  }
}

export class FirstConnection {
  readonly #options: ConnectionOptions;
  readonly #open: Opener;
  readonly #first: EarlyConnection;
  /** The pool's other connections, dialled once the first has logged in (`more`). */
  readonly #rest: EarlyConnection[] = [];
  #next = 0;
  /** How many connections the pool has asked for (connect), early ones or not. */
  #asked = 0;
  #closed = false;
  /** Settles once the early connection has logged in, or rejects with why it failed (what the pool would report when
   *  it asks): the gate the control plane is dialled behind (run-connections.ts). Never unhandled. */
  readonly loggedIn: Promise<void>;

  /**
   * Starts connecting at once with `options`: the options the pool will open its connections with. `more`: how many
   * further connections to dial once this one has logged in (or a function of this connection that says so) — the
   * pool's others, so that they too are ready for the first APPEND. Only after a good login: a wrong password must
   * cost the server (and an admin's fail2ban) as few failed logins as before: one here and one on the folder survey's
   * connection (run-connections.ts).
   */
  constructor(options: ConnectionOptions, open: Opener = Connection.open, more: number | ((first: PoolConnection) => Promise<number>) = 0) {
    this.#options = options;
    this.#open = open;
    this.#first = new EarlyConnection(options, open);
    this.loggedIn = this.#first.opened.then(() => undefined);
    this.loggedIn.catch(() => undefined);
    // `more` may be decided from the first connection (its capabilities: import-run.ts dials fewer where one
    // connection a folder leaves them nothing to do); a failure to decide dials none, and the pool opens what it needs.
    void this.#first.opened.then(
      async (first) => {
        const n = typeof more === 'number' ? more : await more(first).catch(() => 0);
        if (this.#closed) return;
        // Decided late (a long folder walk), the pool may have asked for some already and opened them itself.
        const opened = Math.max(0, this.#asked - 1);
        for (let i = opened; i < n; i++) this.#rest.push(new EarlyConnection(options, open));
      },
      () => undefined,
    );
  }

  /**
   * PoolOptions.connect: the pool's first calls get the early connections when they were opened with the same
   * settings and are still open; every other call (more connections, reconnects) opens a fresh one.
   */
  readonly connect = async (options: ConnectionOptions): Promise<PoolConnection> => {
    this.#asked++;
    const early = this.#next === 0 ? this.#first : this.#rest[this.#next - 1];
    if (!early || this.#closed) return this.#open(options);
    this.#next++;
    if (!sameConnectionSettings(this.#options, options)) {
      void early.close();
      return this.#open(options);
    }
    let c: PoolConnection;
    try {
      c = await early.opened;
    } catch (err) {
      // Refused for good (a bad login, no STARTTLS where it was required): the pool's connection fails as it would
      // have. Anything else (a reset, a timeout, a connection cap while the control plane worked) may be gone by
      // now: open it again, as the pool would have at this point.
      if (toMailmigrateError(err).retry === 'never') throw err;
      return this.#open(options);
    }
    // Closed while it waited (the server's idle timer, a restart): a fresh one, as the pool would have opened.
    if (c.closed) return this.#open(options);
    early.adopt(options);
    return c;
  };

  /**
   * Closes the early connections the pool did not take (a failure before the pool opened, or fewer connections
   * than dialled). One still dialling is waited for: its own deadlines (connect, greeting: DEFAULT_TIMEOUTS in
   * src/transport/connection.ts) bound that.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#first, ...this.#rest].filter((e) => !e.owned).map((e) => e.close()));
  }
}
