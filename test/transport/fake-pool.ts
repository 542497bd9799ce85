// Fake connections for the pool's unit tests (no sockets): what the pool sees of a connection (PoolConnection),
// with the real queue's hold semantics — commands wait while held — and every command handed to a test's server
// function, which answers, delays or refuses it. pool-gate and pool-reconfigure share them, each with its own server.
import type { MailmigrateError } from '../../src/core/errors.js';
import type { AppendMessage } from '../../src/core/types.js';
import { parseCapabilities } from '../../src/imap/capabilities.js';
import type { AppendResult } from '../../src/transport/connection.js';
import { Pool, type PoolConnection, type PoolEvent, type PoolOptions } from '../../src/transport/pool.js';

/** What the test's server does with a command when it arrives (after any hold). */
export type Receive = (conn: FakeConnection, mailbox: string, messages: readonly AppendMessage[]) => Promise<AppendResult>;

let ids = 1;

export class FakeConnection implements PoolConnection {
  readonly id = ids++;
  readonly capabilities = parseCapabilities('IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS');
  closed = false;
  bye: string | undefined;
  inFlight = 0;
  readonly connectMs = 0.1;
  /** Folders the pool told this connection exist (confirmMailbox) or that it created. */
  readonly confirmed = new Set<string>();
  /** The LITERAL+ limit the pool last gave this connection (setLiteralPlusMax), if any. */
  literalPlusMax: number | undefined;
  private held = false;
  private readonly waiting: Array<() => void> = [];
  private readonly closers: Array<() => void> = [];
  constructor(
    private readonly receive: Receive,
    readonly depth: number,
  ) {}
  get load(): number {
    return this.inFlight + this.waiting.length;
  }
  async append(mailbox: string, messages: readonly AppendMessage[]): Promise<AppendResult> {
    if (this.held) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    try {
      return await this.receive(this, mailbox, messages);
    } finally {
      this.inFlight--;
    }
  }
  async create(mailbox: string): Promise<void> {
    this.confirmed.add(mailbox);
  }
  confirmMailbox(mailbox: string): void {
    this.confirmed.add(mailbox);
  }
  setLiteralPlusMax(bytes: number): void {
    this.literalPlusMax = bytes;
  }
  hold(held: boolean): void {
    this.held = held;
    if (!held) for (const w of this.waiting.splice(0)) w();
  }
  async close(): Promise<void> {
    this.destroy();
  }
  destroy(_err?: MailmigrateError): void {
    this.closed = true;
    for (const c of this.closers.splice(0)) c();
  }
  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closers.push(r));
  }
}

/**
 * A pool over fake connections. Each connection's depth is `depth`, else the depth the pool opens connections with
 * (pipelineDepth / maxPipelineDepth), else 1.
 */
export async function openFakePool(receive: Receive, opts: Partial<PoolOptions> & { depth?: number } = {}) {
  const events: PoolEvent[] = [];
  const conns: FakeConnection[] = [];
  const { depth, ...poolOptions } = opts;
  const pool = await Pool.open({
    host: 'fake.invalid',
    port: 143,
    tls: 'none',
    connections: 2,
    onEvent: (e) => events.push(e),
    connect: async (o) => {
      const c = new FakeConnection(receive, depth ?? o.pipelineDepth ?? 1);
      conns.push(c);
      return c;
    },
    ...poolOptions,
  });
  return { pool, events, conns };
}
