// The listening half every test proxy shares (cut-proxy.ts, append-hold-proxy.ts): a listener on 127.0.0.1 with a
// random port that pairs each client with its own connection to the target, and a close() that ends every socket
// it made, so a test that stops its proxy leaves no connection behind. What is forwarded, and when a pair is cut,
// is the caller's (`pair`). Not a test file itself.
import net from 'node:net';

export interface ProxyListener {
  readonly port: number;
  /** Destroys every socket still open, then stops listening. */
  close(): Promise<void>;
}

/** `pair(client, upstream)` wires one accepted client to its fresh connection to `target`. */
export async function listenProxy(
  target: { host: string; port: number },
  pair: (client: net.Socket, upstream: net.Socket) => void,
): Promise<ProxyListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pair(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
