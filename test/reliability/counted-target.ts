// A server for the exactly-once scenarios (late-store, late-answer): where to connect, and every Message-ID in INBOX
// with how often it is there — read back with imapflow on a real server, from the store on the embedded one, never
// through mailmigrate's own look-ups. Not a test file itself.
import assert from 'node:assert/strict';
import { normalizeMessageId } from '../../src/core/message-id.js';
import type { ImapServer } from '../../src/server/server.js';
import type { RunningServer } from '../helpers/imap-servers.js';
import { census } from './harness.js';

export interface CountedTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  count(): Promise<Map<string, number>>;
}

const countBy = (ids: readonly (string | undefined)[]): Map<string, number> => {
  const count = new Map<string, number>();
  for (const raw of ids) {
    const id = normalizeMessageId(raw) ?? '(none)';
    count.set(id, (count.get(id) ?? 0) + 1);
  }
  return count;
};

/** The first user of a private real server (Dovecot, Cyrus, Courier). */
export function realTarget(r: RunningServer): CountedTarget {
  const user = r.users[0]!;
  return {
    host: r.host, port: r.port, user: user.name, password: user.password,
    count: async () => countBy((await r.listMessages(user, 'INBOX')).map((m) => m.messageId)),
  };
}

export function embeddedTarget(s: ImapServer): CountedTarget {
  return {
    host: s.host, port: s.port, user: 'test', password: 'test',
    count: async () => countBy([...census(s.store)].flatMap(([id, n]) => Array<string>(n).fill(id))),
  };
}

/** Every expected Message-ID is in INBOX exactly once and nothing else is there; `detail` adds to the failure message. */
export async function assertExactlyOnce(target: CountedTarget, ids: readonly string[], detail = ''): Promise<void> {
  const count = await target.count();
  const wrong = ids.filter((id) => count.get(normalizeMessageId(id)!) !== 1).map((id) => `${id} ×${count.get(normalizeMessageId(id)!) ?? 0}`);
  assert.deepEqual(wrong, [], `${wrong.length} of ${ids.length} not exactly once${detail}`);
  assert.equal([...count.values()].reduce((a, b) => a + b, 0), ids.length);
}
