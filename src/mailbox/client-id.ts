import { readFileSync } from 'node:fs';

// What we say in IMAP ID (RFC 2971 §3.3: "name", "version", "vendor"...). imapflow fills in its own name, version,
// vendor and support URL; merged with ours, the server logged imapflow's vendor and version as mailmigrate's
// (issue 16). Server admins read these fields when a client misbehaves, so they must name this program.

/** mailmigrate's version from its package.json (the dist layout keeps it three levels up), "unknown" if unreadable. */
export const MAILMIGRATE_VERSION: string = readVersion();

function readVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mailmigrate' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there in this layout: try the next
    }
  }
  return 'unknown';
}

/**
 * The ID fields we send. Every key imapflow would add on its own is listed: an empty value makes imapflow drop the
 * field (its ID command filters empty values), so nothing of imapflow's is sent as ours.
 */
export function clientIdFields(): Record<string, string> {
  return { name: 'mailmigrate', version: MAILMIGRATE_VERSION, vendor: '', 'support-url': '' };
}
