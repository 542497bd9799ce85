// A loopback TCP proxy that cuts a connection at the worst moment for exactly-once: right after the server answered
// an APPEND with OK (so the message is stored) and before that answer reaches the client. The client sees a lost
// connection with its APPEND's outcome unknown — what a killed imap process or a dropped NAT entry does on a real
// server. Test-only; it forwards everything else byte for byte.
import type net from 'node:net';
import { listenProxy } from './loopback-proxy.js';

export interface CutProxy {
  readonly port: number;
  /** Connections cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

export interface CutProxyOptions {
  /** Cut at every Nth tagged APPEND OK seen (counted over all connections). */
  every: number;
  /** Stop cutting after this many cuts. */
  max: number;
}

// A tagged OK that carries APPENDUID (RFC 4315 §3): only APPEND (and MULTIAPPEND) answers carry it.
const APPEND_OK = /(^|\r\n)[A-Za-z0-9.]+ OK \[APPENDUID /;

export async function startCutProxy(target: { host: string; port: number }, options: CutProxyOptions): Promise<CutProxy> {
  let seen = 0;
  let cuts = 0;
  const proxy = await listenProxy(target, (client: net.Socket, upstream: net.Socket) => {
    const kill = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill).on('close', () => upstream.destroy());
    upstream.on('error', kill).on('close', () => client.destroy());
    client.on('data', (b: Buffer) => upstream.write(b));
    let tail = '';
    upstream.on('data', (b: Buffer) => {
      const text = tail + b.toString('latin1');
      const m = APPEND_OK.exec(text);
      if (m && cuts < options.max) {
        seen++;
        if (seen % options.every === 0) {
          cuts++;
          // Forward what came before the OK line, then cut: the answer is lost with the connection.
          const before = m.index + m[1]!.length - tail.length;
          if (before > 0) client.write(b.subarray(0, before));
          kill();
          return;
        }
      }
      tail = text.slice(-64);
      client.write(b);
    });
  });
  return {
    port: proxy.port,
    get cuts() {
      return cuts;
    },
    close: () => proxy.close(),
  };
}
