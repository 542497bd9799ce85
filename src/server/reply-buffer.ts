// A session's replies, queued while it processes what one 'data' event brought and written together: one write
// (one syscall, one segment) for a pipelining client's burst, as the report's server does. Message literals are
// written by reference through cork/uncork (one writev), never copied into one big Buffer.
import type { Socket } from 'node:net';

export class ReplyBuffer {
  private parts: Array<string | Buffer> = [];
  private hasBuffer = false;
  private size = 0;

  /** Queued size (string length for text: close enough to decide when to write early). */
  get bytes(): number {
    return this.size;
  }

  push(data: string | Buffer): void {
    this.parts.push(data);
    this.size += data.length;
    if (typeof data !== 'string') this.hasBuffer = true;
  }

  /** Forgets what is queued (a connection dropped without answering). */
  clear(): void {
    this.parts = [];
    this.hasBuffer = false;
    this.size = 0;
  }

  /**
   * Writes what is queued to `socket`; returns the bytes written. The caller checks `socket.writableNeedDrain`
   * afterwards: the socket buffers whatever the peer has not taken yet, and the caller must stop adding to it.
   */
  writeTo(socket: Socket): number {
    const out = this.parts;
    const hasBuffer = this.hasBuffer;
    this.clear();
    if (out.length === 0) return 0;
    if (!hasBuffer) {
      const text = out.length === 1 ? (out[0] as string) : out.join('');
      socket.write(text);
      return Buffer.byteLength(text);
    }
    let n = 0;
    socket.cork();
    for (const p of out) {
      n += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
      socket.write(p);
    }
    socket.uncork();
    return n;
  }
}
