import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { diagnose, type Diagnosis } from './diagnosis.js';
import { systemClock } from '../core/clock.js';
import { ConnectionClosedError, toMailmigrateError } from '../core/errors.js';
import {
  diffCounters,
  readEphemeralPortRange,
  readFdLimit,
  readKernelCounters,
  type Limit,
  type PortRange,
} from '../core/kernel-counters.js';
import type { AppendMessage } from '../core/types.js';
import { Connection, type ConnectionOptions } from '../transport/connection.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { type ConnectOptions, ControlPlane } from '../mailbox/control-plane.js';

// `mailmigrate doctor` (issue 8), the core: probes one server and returns data; src/cli/commands/doctor.ts prints.
// Steps, each timed on its own: DNS → TCP connect → TLS handshake (implicit or after STARTTLS) → greeting → login;
// the capabilities that matter for import; the connection cap (sessions opened one by one, up to a bound, until
// refused — Dovecot refuses past mail_max_userip_connections = 10, docs/measurements.md); optionally a split-write probe
// (--write-test) into a scratch folder it creates and deletes; local limits. Then the settings it recommends, each
// with its reason. Nothing here holds or returns the password.

/** What doctor needs to reach the server: the transport's options (TLS mode, CA, credentials). */
export type DoctorTarget = Pick<ConnectionOptions, 'host' | 'port' | 'tls' | 'ca' | 'rejectUnauthorized' | 'auth' | 'servername'>;

export interface DoctorOptions {
  readonly target: DoctorTarget;
  /** The same target for the control plane (imapflow); needed only for the write test's scratch folder. */
  readonly controlPlane?: ConnectOptions;
  /** The connection-cap probe stops after this many sessions (default 20). */
  readonly maxSessions?: number;
  readonly writeTest?: boolean;
  /** APPENDs per write mode in the write test (default 20). */
  readonly writeTestMessages?: number;
  readonly timeoutMs?: number;
}

export type Severity = 'info' | 'warn' | 'error';

export interface Finding {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
}

export interface WriteTestResult {
  readonly folder: string;
  readonly messages: number;
  /** Median recv-wait (last byte sent → tagged reply), ms: command, literal and CRLF as three writes, Nagle on. */
  readonly splitP50Ms: number | undefined;
  /** The same with one coalesced write and TCP_NODELAY. */
  readonly coalesceP50Ms: number | undefined;
  readonly stalls: boolean;
  readonly diagnosis: Diagnosis[];
  readonly deleted: boolean;
}

export interface Recommended {
  readonly connections: number;
  readonly pipeline: number;
  readonly batch: number;
  readonly literalMode: 'auto' | 'sync';
  readonly nodelay: boolean;
  readonly writeMode: 'coalesce';
  /** The import flags that say the same. */
  readonly flags: string;
  readonly reasons: Record<string, string>;
}

export interface DoctorReport {
  readonly target: { readonly host: string; readonly port: number; readonly tls: string; readonly user: string | undefined };
  readonly addresses: string[];
  readonly dnsMs: number | undefined;
  readonly connectMs: number | undefined;
  /** TLS handshake alone (implicit, or after STARTTLS); undefined without TLS. */
  readonly tlsMs: number | undefined;
  readonly greetingMs: number | undefined;
  /** LOGIN / AUTHENTICATE round trip. */
  readonly loginMs: number | undefined;
  readonly capabilities: string[];
  readonly importCapabilities: Record<string, boolean | number>;
  /** Sessions the server accepted before refusing one; null when it accepted `connectionCapBound` and more. */
  readonly connectionCap: number | null;
  readonly connectionCapBound: number;
  readonly connectionCapRefusal: string | undefined;
  readonly writeTest: WriteTestResult | undefined;
  readonly limits: { readonly fd: Limit | undefined; readonly ports: PortRange | undefined };
  /** Only for a server doctor logged in to: advice for a server it never reached would be invented. */
  readonly recommended: Recommended | undefined;
  readonly findings: Finding[];
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** The raw first contact: TCP, TLS, greeting, each timed. Closes its socket whatever happens. */
async function probeHandshake(t: DoctorTarget, timeoutMs: number): Promise<{ connectMs: number; tlsMs: number | undefined; greetingMs: number }> {
  const sockets: net.Socket[] = [];
  let buf = '';
  // Lines are queued, not handed to whoever waits: several replies often arrive in one chunk, and a reply that
  // lands before its waiter is set must not be lost.
  const queue: string[] = [];
  let waiter: { prefix: string; ok: (line: string) => void } | undefined;
  let failure: ((e: Error) => void) | undefined;
  const pump = (): void => {
    while (waiter && queue.length > 0) {
      const l = queue.shift()!;
      if (l.startsWith(waiter.prefix)) {
        const w = waiter;
        waiter = undefined;
        w.ok(l);
      }
    }
  };
  const attach = (s: net.Socket): void => {
    sockets.push(s);
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        queue.push(buf.slice(0, nl));
        buf = buf.slice(nl + 2);
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
  const line = (prefix: string): Promise<string> =>
    step(`waiting for ${prefix.trim()}`, (ok) => {
      waiter = { prefix, ok };
      pump();
    });
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
    const greeting = await line('* ');
    const greetingMs = systemClock.now() - g0;
    const current = sockets[sockets.length - 1]!;
    if (/^\* BYE/i.test(greeting)) throw new Error(`server refused the connection: ${greeting.slice(0, 200)}`);
    if (t.tls === 'starttls' || t.tls === 'starttls-optional') {
      current.write('p1 CAPABILITY\r\n');
      const caps = await line('* CAPABILITY');
      await line('p1 ');
      if (/\bSTARTTLS\b/i.test(caps)) {
        current.write('p2 STARTTLS\r\n');
        const ok = await line('p2 ');
        if (/^p2 OK/i.test(ok)) tlsMs = await handshake(current);
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

function importCapabilities(c: Connection['capabilities']): Record<string, boolean | number> {
  return {
    'LITERAL+': c.literalPlus,
    'LITERAL-': c.literalMinus,
    MULTIAPPEND: c.multiappend,
    UIDPLUS: c.uidplus,
    APPENDLIMIT: c.appendLimit ?? c.has('APPENDLIMIT'),
    BINARY: c.binary,
    COMPRESS: c.compress,
    'SPECIAL-USE': c.specialUse,
  };
}

function scratchMessage(folder: string, i: number): AppendMessage {
  const data = Buffer.from(
    `From: doctor@mailmigrate.test\r\nTo: doctor@mailmigrate.test\r\nSubject: mailmigrate doctor probe ${i}\r\n` +
      `Message-ID: <doctor-${Date.now()}-${i}@mailmigrate.test>\r\n\r\n${'probe '.repeat(600)}\r\n`,
  );
  return { mailbox: folder, data, flags: [] };
}

async function appendRun(t: DoctorTarget, folder: string, n: number, split: boolean, timeoutMs: number): Promise<TimingRecord[]> {
  const records: TimingRecord[] = [];
  const conn = await Connection.open({
    ...t,
    noDelay: !split,
    writeMode: split ? 'split' : 'coalesce',
    // A synchronizing literal would add a round trip of its own and hide the write pattern: LITERAL+ when offered.
    literalMode: 'auto',
    timeouts: { connectMs: timeoutMs, greetingMs: timeoutMs },
    onRecord: (r) => {
      if (r.verb === 'APPEND') records.push(r);
    },
  });
  try {
    for (let i = 0; i < n; i++) await conn.append(folder, [scratchMessage(folder, i)]);
  } finally {
    await conn.close();
  }
  return records;
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

async function writeTest(o: DoctorOptions, n: number, timeoutMs: number): Promise<WriteTestResult> {
  if (!o.controlPlane) throw new Error('the write test needs control-plane options');
  const cp = await ControlPlane.connect(o.controlPlane);
  let folder = '';
  let deleted = false;
  try {
    folder = await cp.ensureFolder([`mailmigrate-doctor-${Date.now().toString(36)}`]);
    const loopback = /^(127\.|localhost$|::1$)/.test(o.target.host);
    const before = loopback ? readKernelCounters() : undefined;
    const split = await appendRun(o.target, folder, n, true, timeoutMs);
    const after = loopback ? readKernelCounters() : undefined;
    const coalesce = await appendRun(o.target, folder, n, false, timeoutMs);
    const waits = (rs: TimingRecord[]): number[] => rs.map((r) => derivePhases(r).recvWaitMs).filter((x): x is number => x !== undefined);
    // Kernel counters witness only what happens in this kernel: used when the server is on this machine.
    const diagnosis = diagnose({ records: split, ...(before && after ? { counters: diffCounters(before, after) } : {}) });
    return {
      folder, messages: n,
      splitP50Ms: median(waits(split)),
      coalesceP50Ms: median(waits(coalesce)),
      stalls: diagnosis.some((d) => d.code === 'delayed-ack-stall'),
      diagnosis,
      deleted: true,
    };
  } finally {
    if (folder) {
      try {
        await cp.deleteFolder(folder);
        deleted = true;
      } catch {
        deleted = false;
      }
    }
    await cp.close();
    // A scratch folder left on the admin's server must be reported even when the probe failed: it is the one thing
    // doctor leaves behind.
    // eslint-disable-next-line no-unsafe-finally
    if (!deleted && folder) throw new Error(`could not delete the scratch folder ${folder}; delete it by hand`);
  }
}

/** Pure: the import settings for what was found, each with its reason. */
export function recommend(caps: Record<string, boolean | number>, cap: number | null, stalls: boolean | undefined): Recommended {
  const reasons: Record<string, string> = {};
  // docs/measurements.md (Dovecot): MULTIAPPEND 50 on 2 connections 1340 msg/s, the best measured; 1 connection 1022.
  let connections = 2;
  reasons['connections'] = '2: MULTIAPPEND on 2 connections was the fastest measured (1,340 msg/s vs 1,022 on one, docs/measurements.md)';
  if (cap !== null && cap <= 2) {
    connections = 1;
    reasons['connections'] = `1: the server accepts only ${cap} session(s) per user; leave room for the user's own mail client`;
  }
  const multi = caps['MULTIAPPEND'] === true;
  const batch = multi ? 50 : 1;
  reasons['batch'] = multi
    ? '50: MULTIAPPEND (RFC 3502) sends 50 messages per command: 1,022 msg/s vs 394 sequential (docs/measurements.md)'
    : '1: the server does not offer MULTIAPPEND';
  const pipeline = multi ? 1 : 4;
  reasons['pipeline'] = multi
    ? '1: with MULTIAPPEND batches, deeper pipelining measured slower (depth 32: 225 vs 394 msg/s, docs/measurements.md)'
    : '4: without MULTIAPPEND, a few commands in flight hide the round trip';
  const nonsync = caps['LITERAL+'] === true || caps['LITERAL-'] === true;
  reasons['literalMode'] = nonsync
    ? `auto: ${caps['LITERAL+'] === true ? 'LITERAL+ up to 100 KiB (as mbsync), synchronizing above' : 'LITERAL- up to 4 KiB'} (RFC 7888) saves a round trip per message`
    : 'sync: the server offers neither LITERAL+ nor LITERAL-, so each literal waits for "+"';
  reasons['nodelay'] =
    stalls === true
      ? 'on: the write test measured delayed-ACK stalls with Nagle on and split writes'
      : 'on: with Nagle on, a split write stalls one delayed-ACK timeout (44 ms here, docs/measurements.md) on servers that delay ACKs';
  reasons['writeMode'] = 'coalesce: command, literal and CRLF in one write never wait for an ACK';
  const flags = `--connections ${connections} --batch ${batch} --pipeline ${pipeline} --nodelay`;
  return { connections, pipeline, batch, literalMode: nonsync ? 'auto' : 'sync', nodelay: true, writeMode: 'coalesce', flags, reasons };
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const t = o.target;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const bound = Math.max(1, o.maxSessions ?? 20);
  const findings: Finding[] = [];
  const add = (code: string, severity: Severity, message: string): void => void findings.push({ code, severity, message });

  let addresses: string[] = [];
  let dnsMs: number | undefined;
  const d0 = systemClock.now();
  try {
    addresses = (await lookup(t.host, { all: true })).map((a) => a.address);
    dnsMs = systemClock.now() - d0;
  } catch (err) {
    add('dns', 'error', `cannot resolve ${t.host}: ${toMailmigrateError(err).message}`);
  }

  let hs: Awaited<ReturnType<typeof probeHandshake>> | undefined;
  if (addresses.length > 0) {
    try {
      hs = await probeHandshake(t, timeoutMs);
    } catch (err) {
      add('connect', 'error', `cannot reach ${t.host}:${t.port}: ${toMailmigrateError(err).message}`);
    }
  }
  if (t.tls === 'none' && !/^(127\.|localhost$|::1$)/.test(t.host)) {
    add('no-tls', 'warn', 'the password goes over the network in clear text (--plain)');
  }

  // Login (timed from the transport's own record of the LOGIN/AUTHENTICATE command), then the connection cap:
  // the first session stays open and more are opened one at a time until one is refused or the bound is reached.
  const sessions: Connection[] = [];
  let loginMs: number | undefined;
  let caps: Connection['capabilities'] | undefined;
  let connectionCap: number | null = null;
  let refusal: string | undefined;
  if (hs) {
    try {
      for (let i = 0; i < bound; i++) {
        let login: TimingRecord | undefined;
        let conn: Connection;
        try {
          conn = await Connection.open({
            ...t,
            timeouts: { connectMs: timeoutMs, greetingMs: timeoutMs },
            onRecord: (r) => {
              if (r.verb === 'LOGIN' || r.verb === 'AUTHENTICATE') login = r;
            },
          });
        } catch (err) {
          const e = toMailmigrateError(err);
          if (i === 0) {
            add('login', 'error', e.message);
            break;
          }
          connectionCap = i;
          refusal = e.message;
          break;
        }
        sessions.push(conn);
        if (i === 0) {
          caps = conn.capabilities;
          loginMs = login ? derivePhases(login).totalMs : undefined;
        }
      }
    } finally {
      await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    }
  }

  const capabilities = caps ? [...caps.raw].sort() : [];
  const ic = caps ? importCapabilities(caps) : {};
  if (caps) {
    if (!caps.literalPlus && !caps.literalMinus) add('no-literal-plus', 'warn', 'no LITERAL+ or LITERAL-: every message waits one round trip for the server\'s "+"');
    if (!caps.multiappend) add('no-multiappend', 'warn', 'no MULTIAPPEND: one message per APPEND command (docs/measurements.md: 394 vs 1,022 msg/s with batches of 50)');
    if (!caps.uidplus) add('no-uidplus', 'info', 'no UIDPLUS: appended messages get no UID back; resume checks rely on Message-ID searches');
    if (caps.appendLimit !== undefined) add('append-limit', 'info', `APPENDLIMIT ${caps.appendLimit} bytes: larger messages will be refused`);
    if (!caps.compress) add('no-compress', 'info', 'no COMPRESS=DEFLATE');
  }
  if (connectionCap !== null) {
    add('connection-cap', 'warn', `the server refused session ${connectionCap + 1} of one user (${refusal}); use at most ${Math.max(1, connectionCap - 1)} import connection(s)`);
  } else if (sessions.length === bound) {
    add('connection-cap', 'info', `the server accepted ${bound} sessions of one user (the probe's bound)`);
  }

  let wt: WriteTestResult | undefined;
  if (o.writeTest && caps) {
    try {
      wt = await writeTest(o, Math.max(3, o.writeTestMessages ?? 20), timeoutMs);
      if (wt.stalls) {
        add('delayed-ack-stall', 'warn', `split writes with Nagle on stall on this server (median ${wt.splitP50Ms?.toFixed(1)} ms vs ${wt.coalesceP50Ms?.toFixed(2)} ms coalesced): keep --nodelay`);
      } else add('no-ack-stall', 'info', `split writes did not stall (median ${wt.splitP50Ms?.toFixed(2)} ms vs ${wt.coalesceP50Ms?.toFixed(2)} ms coalesced); this server answers ACKs promptly`);
    } catch (err) {
      add('write-test', 'error', `write test failed: ${toMailmigrateError(err).message}`);
    }
  }

  const fd = readFdLimit();
  const ports = readEphemeralPortRange();
  if (fd && fd.soft < 1024) add('fd-limit', 'warn', `open-file limit ${fd.soft} is low: each connection takes one`);
  const recommended = caps ? recommend(ic, connectionCap, wt?.stalls) : undefined;
  return {
    target: { host: t.host, port: t.port, tls: t.tls, user: t.auth?.user },
    addresses, dnsMs,
    connectMs: hs?.connectMs,
    tlsMs: hs?.tlsMs,
    greetingMs: hs?.greetingMs,
    loginMs,
    capabilities,
    importCapabilities: ic,
    connectionCap,
    connectionCapBound: bound,
    connectionCapRefusal: refusal,
    writeTest: wt,
    limits: { fd, ports },
    recommended,
    findings,
  };
}
