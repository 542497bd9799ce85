// Whether a run counts: the corpus's Message-IDs per folder (INBOX: the Maildir's own cur/ and new/; a Maildir++
// folder ".F1": F1 under the server's personal namespace), and whether every folder on the server holds exactly them.
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlane, parseMessageIdHeader } from '../../src/mailbox/control-plane.js';
import { type BenchServer } from './bench-server.js';

export interface CorpusIds {
  /** Every Message-ID of the corpus. */
  readonly ids: Set<string>;
  /** Folder name ('' = INBOX, else the Maildir++ name without its dot) → its Message-IDs. */
  readonly folders: Map<string, Set<string>>;
  readonly count: number;
  readonly bytes: number;
}

/** Message-IDs of the corpus, read from each file's header block: its INBOX and its Maildir++ folders. */
export async function corpusIds(dir: string): Promise<CorpusIds> {
  const ids = new Set<string>();
  const folders = new Map<string, Set<string>>();
  let count = 0;
  let bytes = 0;
  const subs = (await readdir(dir)).filter((n) => n.startsWith('.') && n.length > 1 && n !== '..').sort();
  for (const folder of ['', ...subs.map((n) => n.slice(1))]) {
    const inFolder = new Set<string>();
    folders.set(folder, inFolder);
    const fdir = folder ? join(dir, `.${folder}`) : dir;
    for (const sub of ['cur', 'new']) {
      const names = await readdir(join(fdir, sub)).catch(() => [] as string[]);
      for (const n of names) {
        if (n.startsWith('.')) continue;
        const fh = await open(join(fdir, sub, n), 'r');
        try {
          const st = await fh.stat();
          const head = Buffer.alloc(Math.min(8192, st.size));
          await fh.read(head, 0, head.length, 0);
          const text = head.toString('latin1');
          const end = text.indexOf('\r\n\r\n');
          const id = parseMessageIdHeader(end >= 0 ? text.slice(0, end) : text);
          if (id) {
            ids.add(id.trim());
            inFolder.add(id.trim());
          }
          count++;
          bytes += st.size;
        } finally {
          await fh.close();
        }
      }
    }
  }
  return { ids, folders, count, bytes };
}

/** Does every folder hold exactly its part of the corpus? Count and Message-ID set (an extra, missing or doubled
 *  message, or one in the wrong folder, fails). */
export async function verify(d: BenchServer, corpus: CorpusIds): Promise<{ ok: boolean; note?: string; count: number }> {
  const cp = await ControlPlane.connect({ host: d.host, port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
  try {
    let count = 0;
    const notes: string[] = [];
    for (const [folder, expected] of corpus.folders) {
      const msgs = await cp.listMessages(folder ? `${d.folderPrefix}${folder}` : 'INBOX');
      count += msgs.length;
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
      if (msgs.length !== expected.size || dup || unknown || missing) notes.push(`${folder || 'INBOX'}: ${msgs.length} on server, ${missing} missing, ${dup} doubled, ${unknown} unknown`);
    }
    return { ok: notes.length === 0, count, ...(notes.length ? { note: notes.join('; ') } : {}) };
  } finally {
    await cp.close();
  }
}
