// Shared by the reliability tests and `npm run bench:chaos`: an embedded server with fault switches, a small
// Maildir corpus with one Message-ID per message, one importer run against them, and an exact census of what
// the server holds (every Message-ID counted, so a lost or doubled message cannot hide in a total).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, type JournalOptions } from '../../src/journal/journal.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { transportIndexer } from '../../src/migrate/bulk-index.js';
import { ControlAdapter } from '../../src/migrate/control-adapter.js';
import type { SyncFlagsMode } from '../../src/migrate/flag-sync.js';
import { Importer, type ImportEvent, type ImportResult } from '../../src/migrate/importer.js';
import { startServer, type ImapServer, type ServerOptions } from '../../src/server/server.js';
import type { Store } from '../../src/server/store.js';
import { openSource } from '../../src/sources/index.js';
import type { PoolEvent, PoolOptions } from '../../src/transport/pool.js';

export type After = { after(fn: () => unknown): void };

export async function withServer(t: After, opts: ServerOptions = {}): Promise<ImapServer> {
  const s = await startServer({ noDelay: true, ...opts });
  t.after(() => s.close());
  return s;
}

/** A server that can be stopped and started again on the same port with the same store (a restart). */
export async function restartableServer(t: After, opts: ServerOptions = {}): Promise<{ readonly server: ImapServer; restart(downMs: number): Promise<void> }> {
  let server = await startServer({ noDelay: true, ...opts });
  t.after(() => server.close());
  return {
    get server() {
      return server;
    },
    async restart(downMs: number) {
      const { port, store } = server;
      await server.close();
      await new Promise((r) => setTimeout(r, downMs));
      server = await startServer({ noDelay: true, ...opts, port, store });
    },
  };
}

export function tempDir(t: After, prefix = 'mm-rel-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const messageIdOf = (i: number, tag: string): string => `<${tag}-${i}@reliability.test>`;

/** A CRLF message of about `size` bytes with a unique Message-ID. */
export function message(i: number, tag: string, size = 1200): Buffer {
  const head =
    `From: Sender <sender@example.org>\r\nTo: you@example.org\r\nSubject: reliability ${tag} ${i}\r\n` +
    `Message-ID: ${messageIdOf(i, tag)}\r\nDate: Wed, 01 Jan 2020 12:00:00 +0000\r\n\r\n`;
  const line = 'Nothing lost, nothing doubled: 0123456789 abcdefghij.\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body);
}

/**
 * Writes a Maildir++ tree: `count` messages spread over INBOX and `folders` (".Name" subfolders), returning the
 * Message-IDs written. Each message lives in exactly one folder.
 */
export function writeCorpus(root: string, count: number, tag: string, folders: string[] = [], size = 1200): string[] {
  const dirs = ['', ...folders.map((f) => `.${f}`)];
  for (const d of dirs) for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, d, sub), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const d = dirs[i % dirs.length]!;
    writeFileSync(join(root, d, 'cur', `${1_700_000_000 + i}.M${i}P1.reliability:2,S`), message(i, tag, size));
    ids.push(messageIdOf(i, tag));
  }
  return ids;
}

/** Message-ID → how many copies the server holds, over every mailbox. */
export function census(store: Store): Map<string, number> {
  const out = new Map<string, number>();
  for (const box of store.list()) {
    for (const m of box.messages) {
      const head = store.body(box, m).subarray(0, 4096).toString('latin1');
      const id = /^Message-ID:\s*(<[^>\r\n]*>)/im.exec(head)?.[1] ?? `(no id, ${box.name} uid ${m.uid})`;
      out.set(id, (out.get(id) ?? 0) + 1);
    }
  }
  return out;
}

export interface Tally {
  source: number;
  onServer: number;
  duplicates: number;
  lost: number;
}

/** Compares the server against the expected Message-IDs: every one exactly once, nothing else. */
export function tally(store: Store, expected: readonly string[]): Tally {
  const c = census(store);
  let duplicates = 0;
  let lost = 0;
  let onServer = 0;
  for (const n of c.values()) onServer += n;
  for (const id of expected) {
    const n = c.get(id) ?? 0;
    if (n === 0) lost++;
    if (n > 1) duplicates += n - 1;
  }
  return { source: expected.length, onServer, duplicates, lost };
}

export interface RunOptions {
  pool?: Partial<PoolOptions>;
  batch?: number;
  journalPath?: string;
  journalOptions?: JournalOptions;
  signal?: AbortSignal;
  /** Called for each pool event (connected, disconnected, throttled, ...). */
  onPoolEvent?: (e: PoolEvent) => void;
  onEvent?: (e: ImportEvent) => void;
  onProgress?: (appended: number) => void;
  recheck?: boolean;
  syncFlags?: SyncFlagsMode;
  includeDeleted?: boolean;
  dryRun?: boolean;
}

/** Short per-phase timeouts: a stalled connection is given up in half a second, not a minute. */
export const FAST_TIMEOUTS = { connectMs: 2000, greetingMs: 2000, continuationMs: 1500, replyMs: 1500 };

/** One importer run of `src` into `server` (plain text on loopback, user test/test), with a journal. */
export async function importOnce(server: { host: string; port: number }, src: string, journal: string, o: RunOptions = {}): Promise<ImportResult> {
  const connect = () => ControlPlane.connect({
    host: server.host, port: server.port, secure: false, starttls: 'off', user: 'test', password: 'test', connectTimeoutMs: 3000,
  });
  const plane = await connect();
  const control = new ControlAdapter(plane, connect, transportIndexer({ host: server.host, port: server.port, tls: 'none', auth: { user: 'test', password: 'test' } }));
  const j = await Journal.open(journal, { account: `imap://test@${server.host}:${server.port}` }, o.journalOptions ?? { batchMs: 5 });
  try {
    const importer = new Importer(control, j, {
      pool: {
        host: server.host, port: server.port, tls: 'none', auth: { user: 'test', password: 'test' },
        connections: 3, pipelineDepth: 2, timeouts: FAST_TIMEOUTS, backoffMinMs: 20, backoffMaxMs: 400,
        ...o.pool,
      },
      batch: o.batch ?? 1,
      recheck: o.recheck === true,
      syncFlags: o.syncFlags ?? 'changed',
      includeDeleted: o.includeDeleted === true,
      dryRun: o.dryRun === true,
      ...(o.signal ? { signal: o.signal } : {}),
      onEvent: (e) => {
        if (e.type === 'pool') o.onPoolEvent?.(e.event as PoolEvent);
        o.onEvent?.(e);
      },
      onProgress: (p) => o.onProgress?.(p.appended),
    });
    return await importer.run([await openSource(src)]);
  } finally {
    await j.close().catch(() => undefined);
    await control.close();
    await plane.close().catch(() => undefined);
  }
}
