// What `mailmigrate doctor` is asked and what it reports (src/bench/doctor.ts runs it; src/cli/commands/doctor.ts
// renders it). Data only: the report holds no password.
import type { Diagnosis } from '../analysis/diagnosis.js';
import type { Limit, PortRange } from '../core/kernel-counters.js';
import type { ConnectOptions } from '../mailbox/control-plane.js';
import type { ConnectionOptions } from '../transport/connection.js';

/** What doctor needs to reach the server: the transport's options (TLS mode, CA, credentials). */
export type DoctorTarget = Pick<ConnectionOptions, 'host' | 'port' | 'tls' | 'ca' | 'rejectUnauthorized' | 'auth' | 'servername'>;

export interface DoctorOptions {
  readonly target: DoctorTarget;
  /** The same target for the control plane (imapflow); needed only for the write test's scratch folder. */
  readonly controlPlane?: ConnectOptions;
  /** The connection-cap probe stops after this many sessions (default 20). */
  readonly maxSessions?: number;
  /** Append a few probe messages to a scratch folder (created and deleted) and recommend from the measurement. */
  readonly writeTest?: boolean;
  readonly timeoutMs?: number;
}

export type Severity = 'info' | 'warn' | 'error';

export interface Finding {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
}

/** One measured way of appending, in the write test. */
export interface WriteRun {
  /** e.g. "split+Nagle depth 1", "coalesced depth 2", "MULTIAPPEND 8", "2 connections" */
  readonly name: string;
  readonly messages: number;
  readonly connections: number;
  readonly depth: number;
  readonly batch: number;
  readonly split: boolean;
  /** Wall time of the run divided by its messages: what an import would pay per message this way. */
  readonly perMessageMs: number;
  /** Medians over the run's APPEND commands, by phase (src/transport/timing.ts derivePhases). */
  readonly continuationWaitP50Ms: number | undefined;
  readonly serverWaitP50Ms: number | undefined;
  readonly totalP50Ms: number | undefined;
}

export interface WriteTestResult {
  readonly folder: string;
  /** Messages appended, all runs together (at most WRITE_TEST_MAX_MESSAGES). */
  readonly messages: number;
  /** Their bytes (at most WRITE_TEST_MAX_MESSAGES × WRITE_TEST_MESSAGE_BYTES). */
  readonly bytes: number;
  readonly runs: WriteRun[];
  /** Runs left out because the time bound (WRITE_TEST_DEADLINE_MS) was reached first. */
  readonly skippedRuns: string[];
  /** Median recv-wait (last byte sent → tagged reply), ms: command, literal and CRLF as three writes, Nagle on. */
  readonly splitP50Ms: number | undefined;
  /** The same with one coalesced write and TCP_NODELAY. */
  readonly coalesceP50Ms: number | undefined;
  readonly stalls: boolean;
  readonly diagnosis: Diagnosis[];
  /** The scratch folder (and every message in it) was deleted. */
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
