import { ConfigError } from '../core/errors.js';

// The per-server connection budget of a batch on one machine (issue 15: `--max-connections-per-host`). Servers cap
// connections per IP or per user (Dovecot mail_max_userip_connections, 10 by default; Gmail 15; Microsoft 365
// about 16 per mailbox); a fleet that opens more gets refusals that look like failures. So every account of one
// server draws from one budget and starts only when its whole share is free — the cap is never exceeded, at the
// price of an account waiting.
//
// An account's share is its APPEND connections plus CONTROL_CONNECTIONS: `import` also keeps one control-plane
// session (LIST, look-ups, STORE over imapflow) open for the whole run, prepares its folders in bursts on a connection
// of its own (src/migrate/folder-survey.ts: at the start of each source and for the checkpoint), and reconciliation
// reads folders in bulk on one more (src/migrate/bulk-index.ts) — the last two close after a second idle, but can be
// open together with the others at the start of a re-run. The scheduler (batch-run.ts) keeps grants
// first come, first served per host, so a large account is not starved by small ones slipping past it.

/** Sessions an import holds besides its APPEND connections (the control plane, the folder survey, the bulk reader). */
export const CONTROL_CONNECTIONS = 3;

export class HostBudget {
  readonly perHost: number;
  readonly #used = new Map<string, number>();
  /** Highest number of connections ever granted at once per host (tests, batch.json). */
  readonly peak = new Map<string, number>();

  constructor(perHost: number) {
    if (!Number.isInteger(perHost) || perHost < 1 + CONTROL_CONNECTIONS) {
      throw new ConfigError('--max-connections-per-host', `must be at least ${1 + CONTROL_CONNECTIONS} (per account: the control session, the folder survey, the bulk reader and one APPEND connection), got ${perHost}`);
    }
    this.perHost = perHost;
  }

  /** APPEND connections an account asking for `wanted` gets under this budget (at least 1). */
  appendConnections(wanted: number): number {
    return Math.max(1, Math.min(wanted, this.perHost - CONTROL_CONNECTIONS));
  }

  /** Takes `appendConnections` + the CONTROL_CONNECTIONS sessions on `host` if they are free: the release function, else undefined. */
  tryAcquire(host: string, appendConnections: number): (() => void) | undefined {
    const n = appendConnections + CONTROL_CONNECTIONS;
    if (this.inUse(host) + n > this.perHost) return undefined;
    const used = this.inUse(host) + n;
    this.#used.set(host, used);
    this.peak.set(host, Math.max(this.peak.get(host) ?? 0, used));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used.set(host, this.inUse(host) - n);
    };
  }

  inUse(host: string): number {
    return this.#used.get(host) ?? 0;
  }
}
