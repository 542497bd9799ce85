// What the APPEND-holding test proxies share (hold-proxy.ts: a late answer; late-store-proxy.ts: a late store): each
// client's byte stream is split into IMAP commands, the whole APPENDs are counted over every connection, and once per
// proxy, at the APPEND where `fires(nth)` first says yes, that connection starts holding its commands back instead of
// forwarding them. What happens to the held commands, and when, is the caller's (`onFire`). The server's bytes go
// back to the client as they come. Test-only.
import type net from 'node:net';
import { listenProxy } from './loopback-proxy.js';

/** A piece of a client's byte stream: a whole command, or (before a synchronizing literal, whose `+` the client
 *  waits for) the command so far. `head` is the start of the command's first line. */
export interface Piece {
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

export const isAppend = (head: string): boolean => /^\S+ (UID )?APPEND /i.test(head);

/** One client and its connection to the server. */
export interface HoldingPair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** The commands held back, in order, from the firing APPEND on; undefined while commands are forwarded. */
  held: Piece[] | undefined;
}

export interface HoldingProxyOptions {
  /** Asked for each whole APPEND (nth over every connection) until it first says yes. */
  fires(nth: number): boolean;
  /** The firing pair, its `held` holding that APPEND; what the client sends next is appended to `held`. */
  onFire(pair: HoldingPair): void;
  /** The client closed or failed; the pair's sockets are the caller's to end. */
  onClientGone(pair: HoldingPair): void;
}

export interface HoldingProxy {
  readonly port: number;
  /** `fires` has said yes. */
  readonly fired: boolean;
  /** Runs `fn` after `ms`, unless the proxy is closed first. */
  later(ms: number, fn: () => void): void;
  close(): Promise<void>;
}

export async function listenHoldingProxy(target: { host: string; port: number }, o: HoldingProxyOptions): Promise<HoldingProxy> {
  let appends = 0;
  let fired = false;
  const timers = new Set<NodeJS.Timeout>();
  const listener = await listenProxy(target, (client, upstream) => {
    const pair: HoldingPair = { client, upstream, held: undefined };
    const splitter = new CommandSplitter();
    client.on('error', () => o.onClientGone(pair)).on('close', () => o.onClientGone(pair));
    upstream.on('error', () => (client.destroy(), upstream.destroy())).on('close', () => client.destroy());
    upstream.on('data', (b: Buffer) => {
      if (!client.destroyed) client.write(b);
    });
    client.on('data', (b: Buffer) => {
      for (const piece of splitter.feed(b)) {
        if (pair.held) {
          pair.held.push(piece);
          continue;
        }
        if (!fired && piece.end && isAppend(piece.head) && o.fires(++appends)) {
          fired = true;
          pair.held = [piece];
          o.onFire(pair);
          continue;
        }
        upstream.write(piece.data);
      }
    });
  });
  return {
    port: listener.port,
    get fired() {
      return fired;
    },
    later(ms, fn) {
      const t = setTimeout(() => (timers.delete(t), fn()), ms);
      timers.add(t);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await listener.close();
    },
  };
}
