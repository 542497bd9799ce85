// A loopback TCP relay that adds a round-trip time: `npm run bench:peers -- --rtt MS` (issue 16, "adapt to the path").
// This kernel has no netem (no sch_netem module), so the delay is made in user space: every chunk read from one side
// is written to the other side `oneWayMs` later (half the round trip in each direction), in order. Bandwidth is not
// limited, only latency — what a client meets across the internet when the link itself is fast.
//
// Bounded: each direction of each connection holds at most `maxBufferedBytes` in its delay queue; beyond that the
// reading side is paused (TCP flow control then pushes back on the sender) and resumed once the queue is below half.
// The default (8 MiB) is above any bandwidth-delay product a loopback benchmark reaches at ≤ 100 ms (80 MB/s × 50 ms
// = 4 MB), so the bound protects memory without becoming the bottleneck; the relay reports how often it paused.
// Timers fire at millisecond granularity and late under load: the delay is at least `oneWayMs`, never less.
// Listens on 127.0.0.1 only and connects only to a loopback target.
import net from 'node:net';

export interface DelayRelayOptions {
  readonly targetPort: number;
  /** Loopback only: 127.0.0.1 (default) or ::1. */
  readonly targetHost?: string;
  /** Delay added to each direction: half the round trip. */
  readonly oneWayMs: number;
  /** Per direction and connection; default 8 MiB. */
  readonly maxBufferedBytes?: number;
}

export interface DelayRelayStats {
  connections: number;
  bytesToServer: number;
  bytesToClient: number;
  /** times a reading side was paused because its delay queue was full */
  pauses: number;
}

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;

/** One direction: chunks from `src` reach `dst` `delayMs` after they were read. */
class DelayLine {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];
  private head = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private ended = false;
  private paused = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly delayMs: number,
    private readonly max: number,
    private readonly onBytes: (n: number) => void,
    private readonly onPause: () => void,
  ) {
    src.on('data', (chunk: Buffer) => {
      this.queue.push({ due: performance.now() + delayMs, chunk });
      this.queued += chunk.length;
      if (this.queued >= this.max && !this.paused) {
        this.paused = true;
        src.pause();
        this.onPause();
      }
      this.pump();
    });
    src.on('end', () => {
      this.ended = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer || this.waitingDrain || this.dst.destroyed) return;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      if (item.due > now) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.ceil(item.due - now));
        return;
      }
      this.queue[this.head++] = undefined as never;
      this.queued -= item.chunk.length;
      this.onBytes(item.chunk.length);
      const more = this.dst.write(item.chunk);
      if (this.paused && this.queued < this.max / 2) {
        this.paused = false;
        this.src.resume();
      }
      if (!more) {
        this.waitingDrain = true;
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      if (this.ended && !this.waitingDrain) this.dst.end();
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export class DelayRelay {
  readonly stats: DelayRelayStats = { connections: 0, bytesToServer: 0, bytesToClient: 0, pauses: 0 };
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(o: DelayRelayOptions): Promise<DelayRelay> {
    const host = o.targetHost ?? '127.0.0.1';
    if (host !== '127.0.0.1' && host !== '::1') throw new Error(`the delay relay only forwards to loopback, not ${host}`);
    if (!(o.oneWayMs >= 0) || !Number.isFinite(o.oneWayMs)) throw new Error(`oneWayMs must be a finite number ≥ 0, got ${o.oneWayMs}`);
    const max = o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    let relay: DelayRelay | undefined;
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
      const r = relay!;
      r.stats.connections++;
      const upstream = net.connect({ host, port: o.targetPort, noDelay: true, allowHalfOpen: true });
      r.sockets.add(client);
      r.sockets.add(upstream);
      const lines = [
        new DelayLine(client, upstream, o.oneWayMs, max, (n) => (r.stats.bytesToServer += n), () => r.stats.pauses++),
        new DelayLine(upstream, client, o.oneWayMs, max, (n) => (r.stats.bytesToClient += n), () => r.stats.pauses++),
      ];
      // Half-closes travel through the delay (allowHalfOpen: each side's FIN is passed on after its data). An error or a
      // reset on either side ends both at once: a relay that keeps half a session would hide it.
      const teardown = (): void => {
        for (const l of lines) l.stop();
        client.destroy();
        upstream.destroy();
        r.sockets.delete(client);
        r.sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on('error', teardown);
        // A side that closed cleanly has already sent its FIN through its delay line: the other side closes once
        // that line has delivered it, so tear down only when both are closed (data still in flight is delivered).
        s.on('close', () => {
          if (client.closed && upstream.closed) teardown();
        });
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    relay = new DelayRelay(server, (server.address() as net.AddressInfo).port);
    return relay;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
