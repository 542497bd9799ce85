// Whether a run counts: the corpus's Message-IDs, and whether the server's INBOX holds exactly them afterwards.
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlane, parseMessageIdHeader } from '../../src/mailbox/control-plane.js';
import { type BenchServer } from './bench-server.js';

export interface CorpusIds {
  readonly ids: Set<string>;
  readonly count: number;
  readonly bytes: number;
}

/** Message-IDs of the corpus, read from each file's header block. */
export async function corpusIds(dir: string): Promise<CorpusIds> {
  const ids = new Set<string>();
  let count = 0;
  let bytes = 0;
  for (const sub of ['cur', 'new']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const fh = await open(join(dir, sub, n), 'r');
      try {
        const st = await fh.stat();
        const head = Buffer.alloc(Math.min(8192, st.size));
        await fh.read(head, 0, head.length, 0);
        const text = head.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const id = parseMessageIdHeader(end >= 0 ? text.slice(0, end) : text);
        if (id) ids.add(id.trim());
        count++;
        bytes += st.size;
      } finally {
        await fh.close();
      }
    }
  }
  return { ids, count, bytes };
}

/** Does INBOX hold exactly the corpus? Count and Message-ID set (an extra, missing or doubled message fails). */
export async function verify(d: BenchServer, expected: Set<string>): Promise<{ ok: boolean; note?: string; count: number }> {
  const cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  try {
    const msgs = await cp.listMessages('INBOX');
    const seen = new Set<string>();
    let dup = 0;
    let unknown = 0;
    for (const m of msgs) {
      const id = m.messageId?.trim();
      if (!id || !expected.has(id)) unknown++;
      else if (seen.has(id)) dup++;
      else seen.add(id);
    }
    const missing = expected.size - seen.size;
    const ok = msgs.length === expected.size && dup === 0 && unknown === 0 && missing === 0;
    return { ok, count: msgs.length, ...(ok ? {} : { note: `${msgs.length} on server: ${missing} missing, ${dup} doubled, ${unknown} unknown` }) };
  } finally {
    await cp.close();
  }
}
