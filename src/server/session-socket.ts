// The byte side of one embedded-server session: the socket it reads and writes (the TLS one on an implicit-TLS
// listener or after STARTTLS, over the same TCP socket), replies batched into one write, and backpressure. The
// session (session.ts) is the protocol; this is the plumbing under it.
//
// Backpressure both ways: a client that sends commands but does not read the replies (or reads slowly) must not make
// us queue replies without bound, so once the socket's write buffer is over its high-water mark the session stops
// processing and reading until 'drain', and the client's own send window fills instead of our heap.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { ReplyBuffer } from './reply-buffer.js';

export interface SessionSocketEvents {
  data(chunk: Buffer): void;
  /** The socket (or the TLS socket over it) failed or closed. */
  gone(): void;
  /** The write buffer drained after writeBlocked: processing may go on. */
  drained(): void;
}

export class SessionSocket {
  private socket: Socket;
  private readonly replies = new ReplyBuffer();
  /** The socket's write buffer is over its high-water mark: process nothing until 'drain' (reading is paused). */
  writeBlocked = false;
  private inputPaused = false;
  private readonly onData = (chunk: Buffer): void => this.events.data(chunk);

  constructor(
    private readonly raw: Socket,
    private readonly events: SessionSocketEvents,
  ) {
    this.socket = raw;
    raw.on('error', () => events.gone());
    raw.on('close', () => events.gone());
  }

  /** Starts reading the plain socket. */
  readPlain(): void {
    this.socket.on('data', this.onData);
  }

  /** Queues bytes for the next write. */
  queue(data: string | Buffer): void {
    this.replies.push(data);
  }

  get queuedBytes(): number {
    return this.replies.bytes;
  }

  /** Drops what is queued (the session is closed, stalled, or dropping the connection without a reply). */
  discard(): void {
    this.replies.clear();
  }

  /** Writes what is queued in one write and returns its bytes; blocks processing while the peer does not read. */
  flush(): number {
    const n = this.replies.writeTo(this.socket);
    if (this.socket.writableNeedDrain && !this.writeBlocked) {
      this.writeBlocked = true;
      this.pause();
      this.socket.once('drain', this.onDrain);
    }
    return n;
  }

  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.events.drained();
  };

  pause(): void {
    if (this.inputPaused) return;
    this.inputPaused = true;
    this.socket.pause();
  }

  /** Reads again, unless the write side still waits for 'drain'. */
  resume(): void {
    if (!this.inputPaused || this.writeBlocked) return;
    this.inputPaused = false;
    this.socket.resume();
  }

  /**
   * Speaks TLS over the TCP socket from now on. After STARTTLS the plain listener goes first: bytes the client sent
   * in the clear after the command must never be read as commands once TLS is up (command injection).
   */
  wrapTls(context: SecureContext): void {
    this.socket.removeListener('data', this.onData);
    const t = new TLSSocket(this.raw, { isServer: true, secureContext: context });
    t.on('data', this.onData);
    t.on('error', () => this.events.gone());
    t.on('close', () => this.events.gone());
    this.socket = t;
  }

  /** On the socket commands travel on (the TLS one after STARTTLS): every byte read or written resets it. */
  idleTimeout(ms: number, onIdle: () => void): void {
    this.socket.setTimeout(ms, onIdle);
  }

  clearIdleTimeout(): void {
    this.socket.setTimeout(0);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    if (!this.raw.destroyed) this.raw.destroy();
  }
}
