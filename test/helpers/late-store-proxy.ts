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
import { isAppend, listenHoldingProxy } from './append-hold-proxy.js';

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

export async function startLateStoreProxy(target: { host: string; port: number }, options: LateStoreProxyOptions): Promise<LateStoreProxy> {
  let late = 0;
  let over: () => void = () => undefined;
  const handed = new Promise<void>((resolve) => (over = resolve));
  const proxy = await listenHoldingProxy(target, {
    fires: (nth) => nth > options.after,
    onFire: (pair) =>
      proxy.later(options.holdMs, () => {
        pair.client.destroy();
        const queue = pair.held ?? [];
        const next = (): void => {
          // Only whole commands: a command cut off mid-literal never reaches the server.
          const c = queue.shift();
          if (!c || !c.end) {
            over();
            return proxy.later(options.gapMs * 2, () => pair.upstream.end());
          }
          if (isAppend(c.head)) late++;
          pair.upstream.write(c.data);
          proxy.later(options.gapMs, next);
        };
        next();
      }),
    onClientGone: (pair) => {
      pair.client.destroy();
      if (!pair.held) pair.upstream.destroy();
    },
  });
  return {
    port: proxy.port,
    get late() {
      return late;
    },
    get holding() {
      return proxy.fired;
    },
    handedOver: () => (proxy.fired ? handed : Promise.resolve()),
    close: () => proxy.close(),
  };
}
