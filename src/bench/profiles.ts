import { ConfigError } from '../core/errors.js';
import type { LiteralMode, WriteMode } from '../core/types.js';

// Bench profiles: named transport settings, each with what it emulates. The first three reproduce the clients
// of the seed report (Python imaplib 23.8 msg/s vs Perl Mail::IMAPClient 632 msg/s); `default` is mailmigrate's
// own defaults (DEFAULT_SETTINGS, chosen from the measurements in README "Performance").

export interface TransportSettings {
  readonly literalMode: LiteralMode;
  readonly writeMode: WriteMode;
  readonly noDelay: boolean;
  readonly pipelineDepth: number;
  /** MULTIAPPEND size; 1 = plain APPEND. */
  readonly batch: number;
  readonly connections: number;
}

export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly settings: TransportSettings;
}

/**
 * mailmigrate's defaults. Measured against the embedded server and a private Dovecot (README "Performance"):
 * TCP_NODELAY and coalesced writes remove the delayed-ACK stall (imaplib-like 22.6 msg/s, p50 44 ms → thousands);
 * LITERAL+ (auto, ≤100 KiB) removes a round trip per message; MULTIAPPEND of 50 amortizes Dovecot's per-command
 * save transaction (~2 ms per APPEND command vs ~0.19 ms per message inside a MULTIAPPEND: sequential ~400-500
 * msg/s vs 2242 msg/s on one connection); 2 connections × depth 2 keep a second Dovecot process busy. Deeper
 * pipelines into one mailbox only queue: Dovecot runs one connection's commands one at a time and reads at most 4
 * ahead (depth 32: recv-wait p50 1.9 → 28.5 ms for +26 %). A sweep of depth 1–4, batch 50–200 and 1–3 connections
 * stayed within the noise of the defaults (client CPU is the limit on this 2-core machine).
 */
export const DEFAULT_SETTINGS: TransportSettings = {
  literalMode: 'auto',
  writeMode: 'coalesce',
  noDelay: true,
  pipelineDepth: 2,
  batch: 50,
  connections: 2,
};

export const PROFILES: readonly Profile[] = [
  {
    name: 'imaplib',
    description: "Python imaplib: synchronizing literal, line / literal / CRLF as three writes, Nagle on, one command at a time",
    settings: { literalMode: 'sync', writeMode: 'split', noDelay: false, pipelineDepth: 1, batch: 1, connections: 1 },
  },
  {
    name: 'imaplib-nodelay',
    description: 'Python imaplib with TCP_NODELAY set (the fix in the seed report)',
    settings: { literalMode: 'sync', writeMode: 'split', noDelay: true, pipelineDepth: 1, batch: 1, connections: 1 },
  },
  {
    name: 'mail-imapclient',
    description: "Perl Mail::IMAPClient: synchronizing literal, literal and CRLF in one write, Nagle on",
    settings: { literalMode: 'sync', writeMode: 'coalesce', noDelay: false, pipelineDepth: 1, batch: 1, connections: 1 },
  },
  { name: 'default', description: 'mailmigrate defaults: LITERAL+, coalesced writes, TCP_NODELAY, MULTIAPPEND, pipelining, parallel connections', settings: DEFAULT_SETTINGS },
];

/** Profiles of a sweep: one knob at a time around the defaults, then the best-known combinations. */
export function sweepProfiles(): Profile[] {
  const out: Profile[] = [];
  const add = (s: Partial<TransportSettings>): void => {
    const settings = { ...DEFAULT_SETTINGS, ...s };
    const name = `d${settings.pipelineDepth}-b${settings.batch}-c${settings.connections}`;
    if (!out.some((p) => p.name === name)) {
      out.push({ name, description: `depth ${settings.pipelineDepth}, batch ${settings.batch}, ${settings.connections} connection(s)`, settings });
    }
  };
  for (const pipelineDepth of [1, 4, 16, 64]) add({ pipelineDepth, batch: 1, connections: 1 });
  for (const batch of [1, 10, 50, 200]) add({ pipelineDepth: 1, batch, connections: 1 });
  for (const connections of [1, 2, 4, 8]) add({ pipelineDepth: 2, batch: 50, connections });
  return out;
}

export function resolveProfiles(names: readonly string[] | undefined, sweep: boolean): Profile[] {
  const all = [...PROFILES, ...sweepProfiles()];
  if (!names || names.length === 0) return sweep ? [PROFILES[0]!, ...PROFILES.slice(3), ...sweepProfiles()] : [...PROFILES];
  return names.map((n) => {
    const p = all.find((x) => x.name === n);
    if (!p) throw new ConfigError('--profiles', `unknown profile "${n}"; known: ${all.map((x) => x.name).join(', ')}`);
    return p;
  });
}
