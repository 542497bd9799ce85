// A connection of a reader's own (the folder survey and the bulk index, src/migrate): dialled on first use, kept from
// one operation to the next — each saves a connect, a greeting and a login (~2.5 round trips) — used by one
// operation at a time (use) or by operations issued one behind another and answered in order (pipeline), and closed
// once nothing has used it for `idleMs` (READER_IDLE_MS, src/core/settings.ts: a kept reader must not hold a slot of
// the server's per-user connection limit that the pool may want).

export interface Closable {
  readonly closed: boolean;
  close(): Promise<void>;
}

export class KeptConnection<C extends Closable> {
  #conn: Promise<C> | undefined;
  /** One operation at a time: each starts once the one before has settled. */
  #chain: Promise<unknown> = Promise.resolve();
  /** Operations queued or running; at 0 the idle timer runs. */
  #pending = 0;
  #idle: NodeJS.Timeout | undefined;
  #closed = false;
  /** Outcomes of pipeline() operations still in flight: close() lets them finish. */
  readonly #outcomes = new Set<Promise<unknown>>();

  constructor(
    private readonly open: () => Promise<C>,
    private readonly idleMs: number,
  ) {}

  /** Is a connection open or being dialled? The next operation then costs no connect and login. */
  get connected(): boolean {
    return this.#conn !== undefined && !this.#closed;
  }

  /** Starts dialling now (a failure is met again, and redialled, by the first operation). */
  warm(): void {
    this.#connection().catch(() => undefined);
  }

  /**
   * Runs `op` with the connection once every operation before it has settled; `fresh()` closes it and dials another
   * (a state the operation cannot undo otherwise). An operation that throws leaves a connection whose state is
   * unknown (a half-read answer, a lost socket): it is closed, and the next one dials anew.
   */
  use<T>(op: (c: C, fresh: () => Promise<C>) => Promise<T>): Promise<T> {
    this.#pending++;
    clearTimeout(this.#idle);
    const run = async (): Promise<T> => {
      let c = await this.#connection();
      const fresh = async (): Promise<C> => {
        await this.drop(c);
        return (c = await this.#connection());
      };
      try {
        return await op(c, fresh);
      } catch (e) {
        await this.drop(c);
        throw e;
      }
    };
    const p = this.#chain.then(run, run);
    this.#chain = p
      .catch(() => undefined)
      .then(() => {
        if (--this.#pending > 0 || this.#closed) return;
        this.#idle = setTimeout(() => void this.#release(), this.idleMs);
        this.#idle.unref();
      });
    return p;
  }

  /**
   * Pipelined use: `issue` writes its commands (in its synchronous part, or before it resolves) and hands back the
   * promise of their outcome. The next operation may issue its commands as soon as this one has, right behind it on
   * the wire — the server answers in order (RFC 3501 §5.5) — so N reads cost one round trip, not N. The connection
   * stays held (no idle close) until every outcome has settled. A connection whose outcome failed other than by the
   * server's tagged NO or BAD (`keep(err)` false: a lost socket, an answer the reader could not follow) is closed: the
   * operations still in flight on it fail with it, and the next one dials anew.
   */
  pipeline<T>(issue: (c: C, fresh: () => Promise<C>) => Promise<{ outcome: Promise<T> }>, keep: (err: unknown) => boolean): Promise<T> {
    return this.use(async (c, fresh) => {
      let used = c;
      const { outcome } = await issue(c, async () => (used = await fresh()));
      // Held until the outcome settles: use() lets the chain move on as soon as this returns.
      this.#pending++;
      this.#outcomes.add(outcome);
      outcome.finally(() => this.#outcomes.delete(outcome)).catch(() => undefined);
      outcome.then(
        () => this.#settled(),
        (err: unknown) => {
          if (!keep(err)) void this.drop(used);
          this.#settled();
        },
      );
      return { outcome };
    }).then((r) => r.outcome);
  }

  /** An outcome of pipeline() settled: at 0 pending the idle timer runs. */
  #settled(): void {
    if (--this.#pending > 0 || this.#closed) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => void this.#release(), this.idleMs);
    this.#idle.unref();
  }

  /** Closes `c` (the current connection by default); the next operation dials anew. */
  async drop(c?: C): Promise<void> {
    const held = this.#conn;
    const current = held ? await held.catch(() => undefined) : undefined;
    const target = c ?? current;
    // Forgotten only if it is still the one held after the wait: a pipelined outcome's failure drops its connection
    // without waiting (pipeline), and meanwhile the next operation may have dialled another — forgetting that one
    // left it open for good (a re-run whose reader was cut twice never exited: bulk-read-cut-dovecot.test.ts).
    if (target !== undefined && target === current && this.#conn === held) this.#conn = undefined;
    await target?.close().catch(() => undefined);
  }

  async #connection(): Promise<C> {
    if (this.#closed) throw new Error('connection closed for good');
    const current = this.#conn ? await this.#conn.catch(() => undefined) : undefined;
    if (current && !current.closed) return current;
    const p = this.open();
    this.#conn = p;
    p.catch(() => {
      if (this.#conn === p) this.#conn = undefined;
    });
    return p;
  }

  /** The idle timer: closes the connection when nothing has asked for it since. */
  async #release(): Promise<void> {
    if (this.#pending === 0) await this.drop();
  }

  /** After the operations queued: closes the connection, and no operation may dial another. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    await this.#chain;
    await Promise.allSettled([...this.#outcomes]);
    await this.drop();
  }
}
