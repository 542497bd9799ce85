// A loopback TCP proxy that makes the server go on storing after the client has hung up, the way Cyrus 3.6 did
// (issue 11/16): the client's connection dies with several APPENDs in flight, and the server receives and stores
// them one by one *afterwards*. A look-up of those unknown outcomes that runs at once misses the ones not stored yet
// and sends them again. Test-only.
//
// How: it forwards both ways until the client has sent `after` complete APPEND commands (counted over all
// connections). The next complete APPENDs on that connection are held back for `holdMs` (the client keeps
// pipelining into the void), then the client's side is destroyed, and the held complete commands are handed to the
// server one every `gapMs`; their replies go nowhere. A command cut off mid-literal is never forwarded: the server
// never sees it, as when a connection dies mid-transfer.
import type net from 'node:net';
import { listenProxy } from './loopback-proxy.js';

export interface LateStoreProxy {
  readonly port: number;
  /** APPEND commands handed to the server after their client had gone. */
  readonly late: number;
  /** The cut has begun: APPENDs are being held back. */
  readonly holding: boolean;
  /** Resolves once every held command has been handed to the server (at once if there was no cut). */
  handedOver(): Promise<void>;
  close(): Promise<void>;
}

export interface LateStoreProxyOptions {
  /** Complete APPEND commands forwarded normally before the cut. */
  after: number;
  /** How long to collect the client's next commands before cutting it off. */
  holdMs: number;
  /** The pause between late commands handed to the server. */
  gapMs: number;
}

/** A piece of a client's byte stream: a whole command, or (before a synchronizing literal, whose `+` the client
 *  waits for) the command so far. `head` is the start of the command's first line. */
interface Piece {
  readonly data: Buffer;
  readonly end: boolean;
  readonly head: string;
}

/** Splits a client byte stream into IMAP commands, skipping literal data ({n} / {n+}, RFC 3501 §4.3, RFC 7888):
 *  a command ends at a CRLF that does not announce a literal. */
export class CommandSplitter {
  private buf = Buffer.alloc(0);
  private pos = 0;
  private literal = 0;
  private head = '';
  feed(chunk: Buffer): Piece[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Piece[] = [];
    const cut = (end: boolean): void => {
      out.push({ data: this.buf.subarray(0, this.pos), end, head: this.head });
      this.buf = this.buf.subarray(this.pos);
      this.pos = 0;
      if (end) this.head = '';
    };
    for (;;) {
      if (this.literal > 0) {
        const take = Math.min(this.literal, this.buf.length - this.pos);
        this.pos += take;
        this.literal -= take;
        if (this.literal > 0) return out;
      }
      const eol = this.buf.indexOf('\r\n', this.pos);
      if (eol < 0) return out;
      const line = this.buf.subarray(this.pos, Math.min(eol, this.pos + 64)).toString('latin1');
      if (!this.head) this.head = line;
      const tail = this.buf.subarray(Math.max(this.pos, eol - 24), eol).toString('latin1');
      this.pos = eol + 2;
      const m = /\{(\d+)(\+?)\}$/.exec(tail);
      if (!m) {
        cut(true);
        continue;
      }
      this.literal = Number(m[1]);
      if (m[2] !== '+') cut(false); // the client waits for "+ " before it sends the literal
    }
  }
}

const isAppend = (head: string): boolean => /^\S+ (UID )?APPEND /i.test(head);

export async function startLateStoreProxy(target: { host: string; port: number }, options: LateStoreProxyOptions): Promise<LateStoreProxy> {
  let appends = 0;
  let late = 0;
  let fired = false;
  let over: () => void = () => undefined;
  const handed = new Promise<void>((resolve) => (over = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };
  const proxy = await listenProxy(target, (client: net.Socket, upstream: net.Socket) => {
    let holding: Piece[] | undefined;
    const splitter = new CommandSplitter();
    const gone = (): void => {
      client.destroy();
      if (!holding) upstream.destroy();
    };
    client.on('error', gone).on('close', gone);
    upstream.on('error', () => (client.destroy(), upstream.destroy())).on('close', () => client.destroy());
    upstream.on('data', (b: Buffer) => {
      if (!client.destroyed) client.write(b);
    });
    client.on('data', (b: Buffer) => {
      for (const piece of splitter.feed(b)) {
        if (holding) {
          holding.push(piece);
          continue;
        }
        if (!fired && piece.end && isAppend(piece.head) && ++appends > options.after) {
          fired = true;
          holding = [piece];
          later(options.holdMs, () => {
            client.destroy();
            const queue = holding ?? [];
            const next = (): void => {
              // Only whole commands: a command cut off mid-literal never reaches the server.
              const c = queue.shift();
              if (!c || !c.end) {
                over();
                return later(options.gapMs * 2, () => upstream.end());
              }
              if (isAppend(c.head)) late++;
              upstream.write(c.data);
              later(options.gapMs, next);
            };
            next();
          });
          continue;
        }
        upstream.write(piece.data);
      }
    });
  });
  return {
    port: proxy.port,
    get late() {
      return late;
    },
    get holding() {
      return fired;
    },
    handedOver: () => (fired ? handed : Promise.resolve()),
    close() {
      for (const t of timers) clearTimeout(t);
      return proxy.close();
    },
  };
}
