import { ConfigError } from '../core/errors.js';
import { DEFAULT_SETTINGS, type TransportSettings } from '../core/settings.js';

// Bench profiles: named transport settings, each with what it emulates. The first three reproduce the clients
// of the seed report (Python imaplib 23.8 msg/s vs Perl Mail::IMAPClient 632 msg/s); `default` is mailmigrate's
// own defaults (DEFAULT_SETTINGS, src/core/settings.ts: the measurements that chose them are written there).

export type { TransportSettings } from '../core/settings.js';
// The defaults and the measurements that chose them live in one place (src/core/settings.ts); re-exported here for
// the bench profiles and their existing importers.
export { DEFAULT_SETTINGS } from '../core/settings.js';

export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly settings: TransportSettings;
  /** Starts from `settings` and adapts to the server met after the first seconds (src/migrate/adaptive-run.ts). */
  readonly adaptive?: boolean;
}

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

/** The defaults with adaptation on, as an import runs them (`--profiles adaptive`; bench:peers shows it beside the defaults). */
export const ADAPTIVE_PROFILE: Profile = {
  name: 'adaptive',
  description: 'mailmigrate defaults, then adapted to the server after its first seconds (pipeline depth, connections per folder, batch)',
  settings: DEFAULT_SETTINGS,
  adaptive: true,
};

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
  for (const connections of [1, 2, 4, 8]) add({ pipelineDepth: 2, connections });
  return out;
}

export function resolveProfiles(names: readonly string[] | undefined, sweep: boolean): Profile[] {
  const all = [...PROFILES, ADAPTIVE_PROFILE, ...sweepProfiles()];
  if (!names || names.length === 0) return sweep ? [PROFILES[0]!, ...PROFILES.slice(3), ...sweepProfiles()] : [...PROFILES];
  return names.map((n) => {
    const p = all.find((x) => x.name === n);
    if (!p) throw new ConfigError('--profiles', `unknown profile "${n}"; known: ${all.map((x) => x.name).join(', ')}`);
    return p;
  });
}
