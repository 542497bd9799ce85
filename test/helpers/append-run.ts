// Shared by the transport integration tests and `npm run bench:transport`: append a corpus with one set of
// transport settings, collecting every outcome and timing record.
import type { AppendMessage } from '../../src/core/types.js';
import type { TransportSettings } from '../../src/bench/profiles.js';
import { Pool, type MessageOutcome } from '../../src/transport/pool.js';
import type { TimingRecord } from '../../src/transport/timing.js';

export interface AppendTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface AppendRun {
  outcomes: MessageOutcome[];
  records: TimingRecord[];
  elapsedMs: number;
  connections: number;
}

export async function appendAll(target: AppendTarget, settings: TransportSettings, mailbox: string, messages: readonly Buffer[]): Promise<AppendRun> {
  const records: TimingRecord[] = [];
  const pool = await Pool.open({
    host: target.host,
    port: target.port,
    tls: 'none',
    auth: { user: target.user, password: target.password },
    ...settings,
    timeouts: { connectMs: 5000, greetingMs: 5000, replyMs: 30_000, continuationMs: 30_000 },
    onRecord: (r) => records.push(r),
  });
  const t0 = performance.now();
  const pending: Array<Promise<MessageOutcome[]>> = [];
  try {
    for (let i = 0; i < messages.length; i += settings.batch) {
      await pool.whenWritable();
      const group: AppendMessage[] = messages.slice(i, i + settings.batch).map((data, k) => ({
        mailbox,
        flags: (i + k) % 3 === 0 ? ['\\Seen'] : [],
        internalDate: new Date(Date.UTC(2020, 0, 1 + ((i + k) % 28), 12, 0, 0)),
        data,
      }));
      pending.push(pool.append(mailbox, group));
    }
    const outcomes = (await Promise.all(pending)).flat();
    return { outcomes, records, elapsedMs: performance.now() - t0, connections: pool.size };
  } finally {
    await pool.close();
  }
}

/** A small CRLF-correct message with a unique Message-ID. */
export function testMessage(i: number, size = 1500, tag = 't'): Buffer {
  const head = `From: Bench <bench@example.org>\r\nTo: you@example.org\r\nSubject: test ${i}\r\nMessage-ID: <${tag}-${i}@mailmigrate.test>\r\nDate: Wed, 01 Jan 2020 12:00:00 +0000\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog 0123456789.\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body + 'x'.repeat(Math.max(0, size - head.length - body.length - 2)) + '\r\n');
}
