// Shared by the reliability tests and `npm run bench:chaos`: an embedded server with fault switches, a small
// Maildir corpus with one Message-ID per message, one import run against them (ImportRun, as the CLI runs it), and
// an exact census of what the server holds (every Message-ID counted, so a lost or doubled message cannot hide in a
// total).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JournalOptions } from '../../src/journal/journal.js';
import type { SyncFlagsMode } from '../../src/migrate/flag-sync.js';
import { FolderRules } from '../../src/migrate/folder-rules.js';
import { ImportRun } from '../../src/migrate/import-run.js';
import type { ImportEvent, ImportResult } from '../../src/migrate/import-types.js';
import type { ResolvedTarget } from '../../src/migrate/target.js';
import { startServer, type ImapServer, type ServerOptions } from '../../src/server/server.js';
import type { Store } from '../../src/server/store.js';
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
  /** Transport settings; `connections` and `pipelineDepth` become the run's own, the rest is tuning. */
  pool?: Partial<PoolOptions>;
  batch?: number;
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
  /** Adapt to the server met, as `import` does by default; off here so a test's settings are the ones used. */
  adapt?: boolean;
}

/** Short per-phase timeouts: a stalled connection is given up in seconds, not minutes (a whole APPEND gets 1 s more for a late answer). */
export const FAST_TIMEOUTS = { connectMs: 2000, greetingMs: 2000, continuationMs: 1500, replyMs: 1500, lateAnswerMs: 1000 };

/** The harness's servers: plain text on loopback, user test/test unless given. */
export function loopbackTarget(server: { host: string; port: number; user?: string; password?: string }): ResolvedTarget {
  const { user = 'test', password = 'test' } = server;
  return { host: server.host, port: server.port, tls: 'none', ca: undefined, rejectUnauthorized: true, user, password, loopback: true };
}

/**
 * One import of `src` into `server` with a journal, run the way `mailmigrate import` runs it (ImportRun: options in,
 * report out), so the reliability tests exercise the code users run; the transport is tuned for tests (short
 * timeouts, fast reconnects), which the CLI does not expose.
 */
export async function importOnce(server: { host: string; port: number; user?: string; password?: string }, src: string, journal: string, o: RunOptions = {}): Promise<ImportResult> {
  const { connections = 3, pipelineDepth = 2, ...tuning } = o.pool ?? {};
  const run = new ImportRun(
    {
      sources: [src],
      target: loopbackTarget(server),
      journal,
      connections,
      pipeline: pipelineDepth,
      batch: o.batch ?? 1,
      folderPrefix: [],
      folderRules: new FolderRules(),
      readThreads: 0,
      noDelay: true,
      literal: 'auto',
      write: 'coalesce',
      recheck: o.recheck === true,
      syncFlags: o.syncFlags ?? 'changed',
      includeDeleted: o.includeDeleted === true,
      dryRun: o.dryRun === true,
      adapt: o.adapt === true,
      ...(o.signal ? { signal: o.signal } : {}),
      tuning: {
        pool: { timeouts: FAST_TIMEOUTS, backoffMinMs: 20, backoffMaxMs: 400, ...tuning },
        journal: o.journalOptions ?? { batchMs: 5 },
      },
    },
    {
      event: (e) => {
        if (e.type === 'pool') o.onPoolEvent?.(e.event as PoolEvent);
        o.onEvent?.(e);
      },
      progress: (p) => o.onProgress?.(p.appended),
    },
  );
  return (await run.run()).result;
}
