import net from 'node:net';
import type tls from 'node:tls';
import { ConnectError, TimeoutError } from '../core/errors.js';
import { tlsLib } from '../core/on-demand.js';
import { connectError, endpoint, type ErrorTarget } from './connect-error.js';

// Getting a socket, apart from the IMAP session on it (split from connection.ts, issue 13): the TCP or implicit-TLS
// connect under its deadline, the TLS upgrade after STARTTLS, and the probe that tells a silent plain connection to
// an implicit-TLS port from a slow server. Each returns a socket or a typed error (connect-error.ts), never both.

/** What dialling needs of the connection options. */
export interface DialTarget extends ErrorTarget {
  readonly tls: 'implicit' | 'starttls' | 'starttls-optional' | 'none';
  readonly rejectUnauthorized?: boolean | undefined;
  readonly localAddress?: string | undefined;
}

/** SNI and the name the certificate is checked against: --servername, else the host name (never an IP). */
export function servernameFor(o: DialTarget): string | undefined {
  return o.servername ?? (net.isIP(o.host) ? undefined : o.host);
}

export function tlsOptionsFor(o: DialTarget): tls.ConnectionOptions {
  return {
    servername: servernameFor(o),
    ca: o.ca,
    rejectUnauthorized: o.rejectUnauthorized ?? true,
  } as tls.ConnectionOptions;
}

/** Connects (TCP, or TLS when `o.tls` is 'implicit') within `timeoutMs`; rejects with a typed error. */
export function dialSocket(o: DialTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const common = { host: o.host, port: o.port, localAddress: o.localAddress };
    const s = o.tls === 'implicit' ? tlsLib().connect({ ...common, ...tlsOptionsFor(o) }) : net.connect(common);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new TimeoutError('connect', timeoutMs));
    }, timeoutMs);
    const ready = o.tls === 'implicit' ? 'secureConnect' : 'connect';
    s.once(ready, () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(connectError(err, o, o.tls === 'implicit' ? 'implicit' : 'tcp'));
    });
  });
}

/** The TLS handshake over a plain socket after "OK Begin TLS" (RFC 3501 §6.2.1), within `timeoutMs`. */
export function upgradeToTls(plain: net.Socket, o: DialTarget, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tlsLib().connect({ socket: plain, ...tlsOptionsFor(o) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new TimeoutError('tls', timeoutMs));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(connectError(err, o, 'starttls'));
    });
  });
}

/**
 * After `afterMs` of silence, a second, throw-away connection tries a TLS handshake (certificate not checked: it only
 * asks "is this TLS?", and nothing is sent over it). `verdict` rejects with E_TLS_MODE if the handshake completes and
 * never resolves otherwise; `cancel()` stops the probe (call it once the greeting came or the wait ended).
 */
export function probeImplicitTls(o: DialTarget, afterMs: number, timeoutMs: number): { verdict: Promise<never>; cancel(): void } {
  let probe: tls.TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const verdict = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      probe = tlsLib().connect({ host: o.host, port: o.port, servername: servernameFor(o), rejectUnauthorized: false });
      probe.once('secureConnect', () => {
        probe?.destroy();
        reject(
          new ConnectError(
            'E_TLS_MODE',
            `${endpoint(o)} sends no IMAP greeting but completes a TLS handshake: it is an implicit-TLS port; use --tls (or the server's plain/STARTTLS port, usually 143)`,
            'never',
          ),
        );
      });
      probe.once('error', () => probe?.destroy());
      probe.setTimeout(timeoutMs, () => probe?.destroy());
    }, afterMs);
  });
  return {
    verdict,
    cancel: () => {
      clearTimeout(timer);
      probe?.destroy();
    },
  };
}
