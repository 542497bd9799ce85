// doctor's first contact with a server, below the transport: TCP connect, TLS handshake (implicit, or after
// STARTTLS), greeting — each timed on its own, which Connection.open cannot do (it reports one connect time). The
// replies are framed by the project's response reader (src/imap/response-reader.ts), with small bounds: a handshake
// never needs a literal or a long line, and a hostile server must not make doctor buffer without end.
import net from 'node:net';
import tls from 'node:tls';
import { systemClock } from '../core/clock.js';
import { ConnectionClosedError } from '../core/errors.js';
import { type ResponseItem, ResponseReader } from '../imap/response-reader.js';
import type { DoctorTarget } from './doctor-types.js';
import { replyLine } from './reply-line.js';

/** Line and literal bounds of the probe's reader: a greeting or CAPABILITY line is well under 4 KiB on real servers. */
const PROBE_LIMITS = { maxLineLength: 64 * 1024, maxLiteralSize: 64 * 1024, maxResponseSize: 256 * 1024 };

export interface HandshakeTimes {
  readonly connectMs: number;
  readonly tlsMs: number | undefined;
  readonly greetingMs: number;
}

/** The raw first contact: TCP, TLS, greeting, each timed. Closes its socket whatever happens. */
export async function probeHandshake(t: DoctorTarget, timeoutMs: number): Promise<HandshakeTimes> {
  const sockets: net.Socket[] = [];
  // Responses are queued, not handed to whoever waits: several replies often arrive in one chunk, and a reply that
  // lands before its waiter is set must not be lost.
  const queue: ResponseItem[] = [];
  let waiter: { wants: (i: ResponseItem) => boolean; ok: (i: ResponseItem) => void } | undefined;
  let failure: ((e: Error) => void) | undefined;
  const pump = (): void => {
    while (waiter && queue.length > 0) {
      const item = queue.shift()!;
      if (waiter.wants(item)) {
        const w = waiter;
        waiter = undefined;
        w.ok(item);
      }
    }
  };
  const attach = (s: net.Socket): void => {
    sockets.push(s);
    const reader = new ResponseReader(PROBE_LIMITS);
    s.on('data', (c: Buffer) => {
      try {
        queue.push(...reader.push(c));
      } catch (e) {
        failure?.(e as Error);
        return;
      }
      pump();
    });
    s.on('error', (e) => failure?.(e));
    s.on('close', () => failure?.(new ConnectionClosedError('closed during the handshake probe', 0)));
  };
  const step = <T>(what: string, fn: (resolve: (v: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      failure = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      fn((v) => {
        clearTimeout(timer);
        failure = undefined;
        resolve(v);
      });
    });
  const reply = (what: string, wants: (i: ResponseItem) => boolean): Promise<ResponseItem> =>
    step(`waiting for ${what}`, (ok) => {
      waiter = { wants, ok };
      pump();
    });
  const tagged = (tag: string) => (i: ResponseItem): boolean => i.kind === 'tagged' && i.tag === tag;
  const handshake = async (plain: net.Socket): Promise<number> => {
    plain.removeAllListeners('data');
    queue.length = 0; // RFC 3501 §6.2.1: nothing read before TLS is trusted after it
    const t0 = systemClock.now();
    const s = tls.connect({ socket: plain, servername: t.servername ?? (net.isIP(t.host) ? undefined : t.host), ca: t.ca, rejectUnauthorized: t.rejectUnauthorized ?? true } as tls.ConnectionOptions);
    attach(s);
    await step('TLS handshake', (ok) => s.once('secureConnect', () => ok(undefined)));
    return systemClock.now() - t0;
  };
  try {
    const t0 = systemClock.now();
    const sock = net.connect({ host: t.host, port: t.port });
    attach(sock);
    await step('TCP connect', (ok) => sock.once('connect', () => ok(undefined)));
    const connectMs = systemClock.now() - t0;
    let tlsMs: number | undefined;
    if (t.tls === 'implicit') tlsMs = await handshake(sock);
    const g0 = systemClock.now();
    const greeting = await reply('the greeting', (i) => i.kind === 'untagged');
    const greetingMs = systemClock.now() - g0;
    const current = sockets[sockets.length - 1]!;
    if (greeting.kind === 'untagged' && greeting.type === 'BYE') throw new Error(`server refused the connection: ${replyLine(greeting).slice(0, 200)}`);
    if (t.tls === 'starttls' || t.tls === 'starttls-optional') {
      current.write('p1 CAPABILITY\r\n');
      const caps = await reply('* CAPABILITY', (i) => i.kind === 'untagged' && i.type === 'CAPABILITY');
      await reply('p1', tagged('p1'));
      if (caps.kind === 'untagged' && /(?:^| )STARTTLS(?: |$)/i.test(caps.text)) {
        current.write('p2 STARTTLS\r\n');
        const ok = await reply('p2', tagged('p2'));
        if (ok.kind === 'tagged' && ok.status === 'OK') tlsMs = await handshake(current);
      }
    }
    sockets[sockets.length - 1]!.write('p9 LOGOUT\r\n');
    return { connectMs, tlsMs, greetingMs };
  } finally {
    failure = undefined;
    // Destroy only the outermost socket: a TLS socket owns the plain one under it (STARTTLS) and tears it down
    // itself. Destroying the plain socket first, under a live TLS wrapper, crashed Node (SIGSEGV, exit 139) on
    // every STARTTLS target (issue 13).
    sockets[sockets.length - 1]?.destroy();
  }
}
