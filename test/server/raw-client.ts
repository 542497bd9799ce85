// A byte-exact test client over a raw socket: send text, wait until the received bytes match.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { startServer, type ImapServer, type ServerOptions } from '../../src/server/server.js';

export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  text(): string;
  send(data: string | Buffer): void;
  /** Resolves with all text once `pattern` matches the received text; rejects after `ms`. */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Resolves when the server closes the connection. */
  closed(ms?: number): Promise<void>;
  close(): void;
}

export async function rawClient(port: number, opts: { greeting?: boolean } = {}): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let received = '';
  let ended = false;
  const waiters = new Set<() => void>();
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
    for (const w of waiters) w();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    ended = true;
    for (const w of waiters) w();
  });
  const client: RawClient = {
    socket,
    text: () => received,
    send: (data) => void socket.write(data),
    waitFor(pattern, ms = 3000) {
      const test = () => (typeof pattern === 'string' ? received.includes(pattern) : pattern.test(received));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test()) {
            done();
            resolve(received);
          } else if (ended) {
            done();
            reject(new Error(`closed before ${pattern}; got ${JSON.stringify(received.slice(-400))}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timeout waiting for ${pattern}; got ${JSON.stringify(received.slice(-400))}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    closed(ms = 3000) {
      return new Promise((resolve, reject) => {
        if (ended) return resolve();
        const timer = setTimeout(() => reject(new Error('connection still open')), ms);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close: () => socket.destroy(),
  };
  if (opts.greeting !== false) await client.waitFor(/^\* (OK|BYE).*\r\n/);
  return client;
}

/** Starts the embedded server for one test and closes it when the test ends, whatever happens. */
export async function withServer(t: { after(fn: () => unknown): void }, opts: ServerOptions = {}): Promise<ImapServer> {
  const s = await startServer(opts);
  t.after(() => s.close());
  return s;
}

/** A raw client logged in as test/test, closed when the test ends. */
export async function loggedIn(t: { after(fn: () => unknown): void }, s: ImapServer): Promise<RawClient> {
  const c = await rawClient(s.port);
  t.after(() => c.close());
  c.send('L LOGIN test test\r\n');
  await c.waitFor(/L OK .*\r\n/);
  return c;
}

/** The TLS side of a raw client after STARTTLS: what it received since the handshake, and a way to wait for more. */
export interface SecureClient {
  readonly socket: TLSSocket;
  text(): string;
  write(data: string): void;
  /** Resolves once the received text matches `pattern`. */
  until(pattern: RegExp): Promise<void>;
}

/**
 * Sends `a STARTTLS` (and `alsoInClear`, in the same write: bytes that must never run as commands), waits for the
 * server's OK and completes the TLS handshake over the same socket, trusting the server's self-signed certificate.
 */
export async function startTls(t: { after(fn: () => unknown): void }, s: ImapServer, c: RawClient, alsoInClear = ''): Promise<SecureClient> {
  c.send(`a STARTTLS\r\n${alsoInClear}`);
  await c.waitFor(/a OK Begin TLS negotiation now\r\n/);
  c.socket.removeAllListeners('data');
  const socket = tlsConnect({ socket: c.socket, ca: String(s.certificate), servername: 'localhost' });
  t.after(() => socket.destroy());
  await once(socket, 'secureConnect');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  return {
    socket,
    text: () => got,
    write: (data) => void socket.write(data),
    async until(pattern) {
      while (!pattern.test(got)) await once(socket, 'data');
    },
  };
}
