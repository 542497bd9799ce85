// A loopback TCP proxy that makes the server slow to store and answer one APPEND, the connection staying open: the
// way Courier held APPENDs behind its folder lock, past a 60 s reply timeout with 4 and 8 connections into one
// folder (issue 16; 2 and 3 messages doubled). The server sees the `nth` whole APPEND (counted over all connections)
// only `holdMs` after the client sent it, and everything the client sends after it on that connection waits behind
// it, in order. If the client hangs up meanwhile, the held bytes still reach the server (it stores them; its answers
// go nowhere), as a server that has read a whole command finishes it. Test-only.
import { listenHoldingProxy } from './append-hold-proxy.js';

export interface HoldProxy {
  readonly port: number;
  /** The hold has begun. */
  readonly holding: boolean;
  /** The held bytes have been handed to the server. */
  readonly handedOver: boolean;
  /** Resolves once the held bytes have been handed to the server. */
  released(): Promise<void>;
  close(): Promise<void>;
}

export async function startHoldProxy(target: { host: string; port: number }, options: { nth: number; holdMs: number }): Promise<HoldProxy> {
  let handedOver = false;
  let done: () => void = () => undefined;
  const handed = new Promise<void>((resolve) => (done = resolve));
  const proxy = await listenHoldingProxy(target, {
    fires: (nth) => nth === options.nth,
    onFire: (pair) =>
      proxy.later(options.holdMs, () => {
        const bytes = pair.held ?? [];
        pair.held = undefined; // from here on, this connection forwards again
        for (const piece of bytes) pair.upstream.write(piece.data);
        handedOver = true;
        done();
        // The client is gone: let the server read and run what it got before it sees the end of the stream.
        if (pair.client.destroyed) proxy.later(1000, () => pair.upstream.end());
      }),
    onClientGone: (pair) => {
      pair.client.destroy();
      // Without bytes held for the server, the server side goes when the client does.
      if (!pair.held) pair.upstream.end();
    },
  });
  return {
    port: proxy.port,
    get holding() {
      return proxy.fired;
    },
    get handedOver() {
      return handedOver;
    },
    released: () => (proxy.fired ? handed : Promise.resolve()),
    close: () => proxy.close(),
  };
}
