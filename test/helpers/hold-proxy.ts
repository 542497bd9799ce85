// A loopback TCP proxy that makes the server slow to store and answer one APPEND, the connection staying open: the
// way Courier held APPENDs behind its folder lock, past a 60 s reply timeout with 4 and 8 connections into one
// folder (issue 16; 2 and 3 messages doubled). The server sees the `nth` whole APPEND (counted over all connections)
// only `holdMs` after the client sent it, and everything the client sends after it on that connection waits behind
// it, in order. If the client hangs up meanwhile, the held bytes still reach the server (it stores them; its answers
// go nowhere), as a server that has read a whole command finishes it. Test-only.
import { CommandSplitter } from './late-store-proxy.js';
import { listenProxy } from './loopback-proxy.js';

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

const isAppend = (head: string): boolean => /^\S+ (UID )?APPEND /i.test(head);

export async function startHoldProxy(target: { host: string; port: number }, options: { nth: number; holdMs: number }): Promise<HoldProxy> {
  let appends = 0;
  let fired = false;
  let handedOver = false;
  let done: () => void = () => undefined;
  const handed = new Promise<void>((resolve) => (done = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const listener = await listenProxy(target, (client, upstream) => {
    const splitter = new CommandSplitter();
    let held: Buffer[] | undefined;
    client.on('error', () => client.destroy()).on('close', () => {
      // Without bytes held for the server, the server side goes when the client does.
      if (!held) upstream.end();
    });
    upstream.on('error', () => (client.destroy(), upstream.destroy())).on('close', () => client.destroy());
    upstream.on('data', (b: Buffer) => {
      if (!client.destroyed) client.write(b);
    });
    client.on('data', (b: Buffer) => {
      for (const piece of splitter.feed(b)) {
        if (held) {
          held.push(piece.data);
          continue;
        }
        if (!fired && piece.end && isAppend(piece.head) && ++appends === options.nth) {
          fired = true;
          held = [piece.data];
          const t = setTimeout(() => {
            timers.delete(t);
            const bytes = held ?? [];
            held = undefined;
            for (const d of bytes) upstream.write(d);
            handedOver = true;
            done();
            // The client is gone: let the server read and run what it got before it sees the end of the stream.
            if (client.destroyed) timers.add(setTimeout(() => upstream.end(), 1000));
          }, options.holdMs);
          timers.add(t);
          continue;
        }
        upstream.write(piece.data);
      }
    });
  });
  return {
    port: listener.port,
    get holding() {
      return fired;
    },
    get handedOver() {
      return handedOver;
    },
    released: () => (fired ? handed : Promise.resolve()),
    async close() {
      for (const t of timers) clearTimeout(t);
      await listener.close();
    },
  };
}
