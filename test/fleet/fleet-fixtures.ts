// Small source trees and helpers for the fleet tests and the fleet benchmark: per account a Maildir (INBOX and a
// subfolder), an mbox file or an .eml tree, each message with a Message-ID that names its account, so the read-back
// from the server can tell "exactly once" per account.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type SourceKind = 'maildir' | 'mbox' | 'eml';

export function messageIdOf(account: string, n: number): string {
  return `<fleet-${account}-${n}@fleet.test>`;
}

function message(account: string, n: number): string {
  const date = new Date(Date.UTC(2024, 0, 1 + n, 10, 0, 0)).toUTCString().replace('GMT', '+0000');
  return [
    `From: Sender ${n} <sender${n}@example.org>`,
    `To: ${account}@example.net`,
    `Subject: fleet message ${n} for ${account}`,
    `Date: ${date}`,
    `Message-ID: ${messageIdOf(account, n)}`,
    '',
    `Body of message ${n} for ${account}.`,
    'A second line, so the body is more than one line.',
    '',
  ].join('\r\n');
}

/** Writes `count` messages for `account` as `kind` under `dir`; returns the source path for the CSV. */
export function writeSource(dir: string, account: string, kind: SourceKind, count: number): string {
  if (kind === 'mbox') {
    const file = join(dir, `${account}.mbox`);
    const parts: string[] = [];
    for (let n = 1; n <= count; n++) parts.push(`From sender${n}@example.org Mon Jan  1 10:00:00 2024\n${message(account, n).replace(/\r\n/g, '\n')}\n`);
    writeFileSync(file, parts.join(''));
    return file;
  }
  const root = join(dir, `${account}-${kind}`);
  if (kind === 'maildir') {
    // Maildir++: INBOX at the root, ".Archive" a subfolder; half the messages in each.
    for (const f of ['', '.Archive']) for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, f, sub), { recursive: true });
    for (let n = 1; n <= count; n++) {
      const folder = n % 2 === 0 ? '.Archive' : '';
      writeFileSync(join(root, folder, 'cur', `17000000${String(n).padStart(2, '0')}.M${n}P1.fleet:2,S`), message(account, n));
    }
    return root;
  }
  mkdirSync(join(root, 'Projects'), { recursive: true });
  for (let n = 1; n <= count; n++) writeFileSync(join(root, n % 2 === 0 ? 'Projects' : '', `msg-${n}.eml`), message(account, n));
  return root;
}

/** Established TCP connections to `port` on loopback (client side: remote port = port), from /proc/net/tcp{,6}. */
export function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[2] = rem_address "0100007F:1F90", cols[3] = state, 01 = ESTABLISHED
      if (cols.length > 3 && cols[3] === '01' && cols[2]!.endsWith(`:${hex}`)) n++;
    }
  }
  return n;
}

/** Samples `establishedTo(port)` every `everyMs` until stopped; returns the highest count seen and the samples taken. */
export function sampleConnections(port: number, everyMs = 10): { stop(): { max: number; samples: number; nonZero: number } } {
  let max = 0;
  let samples = 0;
  let nonZero = 0;
  const timer = setInterval(() => {
    const c = establishedTo(port);
    samples++;
    if (c > 0) nonZero++;
    if (c > max) max = c;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { max, samples, nonZero };
    },
  };
}

/** CSV cell quoting (RFC 4180). */
export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csv(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}
