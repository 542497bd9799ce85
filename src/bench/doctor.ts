import { lookup } from 'node:dns/promises';
import { systemClock } from '../core/clock.js';
import { toMailmigrateError } from '../core/errors.js';
import { readEphemeralPortRange, readFdLimit } from '../core/kernel-counters.js';
import { Connection } from '../transport/connection.js';
import { derivePhases, type TimingRecord } from '../transport/timing.js';
import { recommend } from './doctor-advice.js';
import { probeHandshake } from './doctor-handshake.js';
import type { DoctorOptions, DoctorReport, Finding, Severity, WriteTestResult } from './doctor-types.js';
import { writeTest } from './write-test.js';

export type { DoctorOptions, DoctorReport, DoctorTarget, Finding, Recommended, Severity, WriteRun, WriteTestResult } from './doctor-types.js';

// `mailmigrate doctor` (issue 8), the core: probes one server and returns data; src/cli/commands/doctor.ts prints.
// Steps, each timed on its own: DNS → TCP connect → TLS handshake (implicit or after STARTTLS) → greeting → login;
// the capabilities that matter for import; the connection cap (sessions opened one by one, up to a bound, until
// refused — Dovecot refuses past mail_max_userip_connections = 10, docs/measurements.md); unless --no-write-test, a
// bounded write test (at most 40 messages of 4 KiB, 30 s) into a scratch folder it creates and deletes: the split-write
// stall probe and the candidate import settings, each timed by phase; local limits. Then the settings it recommends,
// each with its reason, from that measurement. Nothing here holds or returns the password.

// The parts: doctor-handshake.ts (TCP, TLS, greeting, timed), write-test.ts (the scratch-folder runs),
// doctor-advice.ts (the recommendation), doctor-types.ts (options and report). This file runs them in order and
// turns what they found into findings.

const DEFAULT_TIMEOUT_MS = 10_000;

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
      wt = await writeTest(o, caps, connectionCap, timeoutMs);
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
  const recommended = caps ? recommend(ic, connectionCap, wt) : undefined;
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
