
import { type Clock, systemClock } from '../core/clock.js';
import { AbortedError, JournalError, type MailmigrateError, ServerResponseError, toMailmigrateError } from '../core/errors.js';
import type { AppendMessage, SourceMessage } from '../core/types.js';
import type { Journal } from '../journal/journal.js';
import type { Source, SourceItem } from '../sources/index.js';
import { readAhead } from '../sources/index.js';
import { Pool, type PoolOptions, type MessageOutcome } from '../transport/pool.js';
import type { TimingRecord } from '../transport/timing.js';
import { derivePhases } from '../transport/timing.js';
import { type MappedFolder, mapFolder, type ServerFolders } from './folder-map.js';
import { type ServerControl, findOnServer, fingerprintOf } from './server-lookup.js';

// The import pipeline: sources → (skip what the journal confirms) → read ahead → folder map and flag filter →
// journal intent (fsync'd, group commit) → MULTIAPPEND batches over the pool → journal confirmation.
// Exactly-once rests on one ordering rule (mbsync does the same): a message's 'sent' record is durable before
// any byte of it goes to the server. After a crash every message that may be on the server is 'sent' or
// 'confirmed' in the journal; 'sent' ones are looked up on the server before being sent again.

export interface ImportOptions {
  readonly pool: PoolOptions;
  /** MULTIAPPEND size (1 = plain APPEND). */
  readonly batch: number;
  /** Names to import under (--folder), as a list. */
  readonly folderPrefix?: readonly string[];
  /** Messages read from disk ahead of sending. */
  readonly readAhead?: number;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly onRecord?: (r: TimingRecord) => void;
  readonly onEvent?: (e: ImportEvent) => void;
}

export type ImportEvent =
  | { type: 'folder-created'; path: string; specialUse?: string | undefined }
  | { type: 'resume-checked'; found: number; missing: number }
  | { type: 'pool'; event: unknown }
  | { type: 'warning'; message: string };

export interface ImportProgress {
  appended: number;
  skipped: number;
  failed: number;
  bytes: number;
  seen: number;
}

export interface Failure {
  readonly source: string;
  readonly code: string;
  readonly reason: string;
}

export interface ImportResult extends ImportProgress {
  readonly total: number;
  readonly elapsedMs: number;
  readonly failures: Failure[];
  readonly flagsDropped: Record<string, number>;
  readonly foldersCreated: string[];
  readonly repairs: string[];
  readonly resumed: { found: number; resent: number };
  readonly unknownResolved: number;
  readonly aborted: boolean;
  /** A bounded sample of timing records, for diagnosis. */
  readonly records: TimingRecord[];
  readonly connections: { opened: number; cap: number | undefined };
}

interface Prepared {
  readonly message: SourceMessage;
  readonly append: AppendMessage;
  readonly messageId: string | undefined;
  readonly fingerprint: string;
}

const RECORD_SAMPLE = 20_000;

export class Importer {
  private readonly progress: ImportProgress = { appended: 0, skipped: 0, failed: 0, bytes: 0, seen: 0 };
  private readonly failures: Failure[] = [];
  private readonly flagsDropped: Record<string, number> = {};
  private readonly folders = new Map<string, Promise<MappedFolder>>();
  private readonly foldersCreated: string[] = [];
  private readonly repairs = new Set<string>();
  private readonly permanent = new Map<string, Promise<{ flags: Set<string>; anyKeyword: boolean } | undefined>>();
  private readonly records: TimingRecord[] = [];
  private recordsSeen = 0;
  private unknown: Prepared[] = [];
  private unknownResolved = 0;
  private pool!: Pool;
  private server!: ServerFolders;
  private readonly clock: Clock;
  private fatal: MailmigrateError | undefined;
  /** Set by NO [OVERQUOTA] (RFC 5530 §3): every later APPEND would fail too, so the run stops reading. */
  private halted: MailmigrateError | undefined;

  constructor(
    private readonly control: ServerControl,
    private readonly journal: Journal,
    private readonly options: ImportOptions,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  async run(sources: readonly Source[]): Promise<ImportResult> {
    const started = this.clock.now();
    const delimiter = await this.control.delimiter();
    const specialUse = new Map<string, string>();
    for (const f of await this.control.listFolders()) if (f.specialUse) specialUse.set(f.specialUse, f.path);
    this.server = { delimiter, specialUse, namespacePrefix: await this.control.namespacePrefix() };
    const resumed = await this.resolveUnconfirmed();
    this.pool = await Pool.open({
      ...this.options.pool,
      onRecord: (r) => this.onRecord(r),
      onEvent: (e) => this.options.onEvent?.({ type: 'pool', event: e }),
    });
    let aborted = false;
    try {
      for (const source of sources) {
        if (this.halted) break;
        if (await this.importSource(source)) {
          aborted = true;
          break;
        }
      }
      await this.resendUnknown();
    } finally {
      await this.pool.close().catch(() => undefined);
      await this.journal.flush().catch((e) => (this.fatal ??= toMailmigrateError(e)));
    }
    if (this.fatal) throw this.fatal;
    if (this.halted) {
      const reason = `run stopped: the server's quota is full (${this.halted.message}); messages not yet sent were left alone — free space and re-run the same command to continue`;
      this.failures.push({ source: '(run)', code: 'E_OVERQUOTA', reason });
      this.options.onEvent?.({ type: 'warning', message: reason });
    }
    const elapsedMs = this.clock.now() - started;
    return {
      ...this.progress,
      total: this.progress.seen,
      elapsedMs,
      failures: this.failures,
      flagsDropped: this.flagsDropped,
      foldersCreated: this.foldersCreated,
      repairs: [...this.repairs],
      resumed,
      unknownResolved: this.unknownResolved,
      aborted: aborted || this.options.signal?.aborted === true,
      records: this.records,
      connections: { opened: this.pool.stats.connects, cap: this.pool.connectionCap },
    };
  }

  private onRecord(r: TimingRecord): void {
    this.options.onRecord?.(r);
    // Reservoir sample (Vitter's algorithm R): bounded memory, unbiased over a run of any length.
    this.recordsSeen++;
    if (this.records.length < RECORD_SAMPLE) this.records.push(r);
    else {
      const j = Math.floor(Math.random() * this.recordsSeen);
      if (j < RECORD_SAMPLE) this.records[j] = r;
    }
  }

  /** Sent-but-unconfirmed messages of a previous run: look them up on the server, confirm those found. */
  private async resolveUnconfirmed(): Promise<{ found: number; resent: number }> {
    let found = 0;
    let missing = 0;
    for (const e of this.journal.unconfirmed()) {
      const uid = await findOnServer(this.control, e.mailbox, e.messageId, e.size, e.fingerprint);
      if (uid !== undefined) {
        this.journal.recordConfirmed([{ id: e.id, uid, mailbox: e.mailbox }]);
        found++;
      } else missing++;
    }
    if (found || missing) this.options.onEvent?.({ type: 'resume-checked', found, missing });
    return { found, resent: missing };
  }

  /** Returns true when stopped by the abort signal. */
  private async importSource(source: Source): Promise<boolean> {
    const signal = this.options.signal;
    const windowMax = Math.max(64, this.pool.capacity * this.options.batch * 2);
    const windowBytesMax = 32 * 1024 * 1024;
    let window: Prepared[] = [];
    let windowBytes = 0;
    const inflight = new Set<Promise<void>>();
    const flush = async (): Promise<void> => {
      if (window.length === 0) return;
      const w = window;
      window = [];
      windowBytes = 0;
      await this.dispatch(w, inflight);
    };
    for await (const item of readAhead(this.unconfirmedOnly(source.items()), { depth: this.options.readAhead ?? 32 })) {
      if (signal?.aborted || this.fatal || this.halted) break;
      if (item.kind === 'skipped') continue; // not mail (clutter, state files, links out of the tree): the lead reports these
      this.progress.seen++;
      if (item.kind === 'rejected') {
        this.fail(item.message?.origin ?? item.error.path, item.error);
        continue;
      }
      const prepared = await this.prepare(item.message, item.normalized);
      if (!prepared) continue;
      window.push(prepared);
      windowBytes += prepared.append.data.length;
      if (window.length >= windowMax || windowBytes >= windowBytesMax) await flush();
    }
    if (!signal?.aborted && !this.fatal && !this.halted) await flush();
    await Promise.all(inflight);
    return signal?.aborted === true;
  }

  /** Skips, without reading their bytes, messages the journal has confirmed. */
  private async *unconfirmedOnly(items: AsyncIterable<SourceItem>): AsyncGenerator<SourceItem> {
    for await (const item of items) {
      if (item.kind === 'message' && this.journal.status(item.message.id) === 'confirmed') {
        this.progress.seen++;
        this.progress.skipped++;
        this.report();
        continue;
      }
      yield item;
    }
  }

  private async prepare(
    message: SourceMessage,
    normalized: { data: Buffer; messageId: string | undefined; hasNul: boolean; fingerprint?: string | undefined },
  ): Promise<Prepared | undefined> {
    if (normalized.hasNul && !this.pool.capabilities?.binary) {
      this.fail(message.origin, { code: 'E_SOURCE_NUL', message: 'message contains NUL bytes and the server does not offer BINARY (RFC 3516)' });
      return undefined;
    }
    let folder: MappedFolder;
    try {
      folder = await this.ensureFolder(message.folder);
    } catch (e) {
      this.fail(message.origin, toMailmigrateError(e));
      return undefined;
    }
    const flags = await this.acceptedFlags(folder.path, message.flags);
    return {
      message,
      append: {
        mailbox: folder.path,
        flags,
        internalDate: message.internalDate,
        data: normalized.data,
        ...(normalized.hasNul ? { binary: true } : {}),
      },
      messageId: normalized.messageId,
      fingerprint: normalized.fingerprint ?? fingerprintOf(normalized.data),
    };
  }

  private ensureFolder(parts: readonly string[]): Promise<MappedFolder> {
    const key = JSON.stringify(parts);
    let p = this.folders.get(key);
    if (!p) {
      p = (async () => {
        const mapped = mapFolder(parts, this.server, this.options.folderPrefix);
        for (const r of mapped.repairs) this.repairs.add(r);
        if (mapped.path.toUpperCase() !== 'INBOX') {
          const created = await this.control.ensureFolder(mapped.path, mapped.specialUse);
          if (created) {
            this.foldersCreated.push(mapped.path);
            this.options.onEvent?.({ type: 'folder-created', path: mapped.path, specialUse: mapped.specialUse });
          }
        }
        return mapped;
      })();
      // A failure (control connection lost mid-CREATE) must not poison the folder for the rest of the run.
      p.catch(() => this.folders.delete(key));
      this.folders.set(key, p);
    }
    return p;
  }

  /** Drops flags the folder's PERMANENTFLAGS do not accept (RFC 3501 §7.1), counting them, instead of failing. */
  private async acceptedFlags(path: string, flags: readonly string[]): Promise<string[]> {
    if (flags.length === 0) return [];
    let p = this.permanent.get(path);
    if (!p) {
      p = this.control.permanentFlags(path).then(
        (r) => ({ flags: new Set(r.flags.map((f) => f.toLowerCase())), anyKeyword: r.anyKeyword }),
        () => undefined,
      );
      this.permanent.set(path, p);
    }
    const perm = await p;
    if (!perm) return [...flags];
    const out: string[] = [];
    for (const f of flags) {
      const ok = perm.flags.has(f.toLowerCase()) || (!f.startsWith('\\') && perm.anyKeyword);
      if (ok) out.push(f);
      else this.flagsDropped[f] = (this.flagsDropped[f] ?? 0) + 1;
    }
    return out;
  }

  /** Journals the window's intents with one fsync, then sends it as MULTIAPPEND batches per mailbox. */
  private async dispatch(window: Prepared[], inflight: Set<Promise<void>>): Promise<void> {
    try {
      await this.journal.recordSent(
        window.map((p) => ({
          id: p.message.id,
          mailbox: p.append.mailbox,
          messageId: p.messageId,
          size: p.append.data.length,
          fingerprint: p.fingerprint,
        })),
      );
    } catch (e) {
      // Without a durable intent we could not tell, after a crash, whether these reached the server: stop.
      this.fatal = e instanceof JournalError ? e : toMailmigrateError(e);
      return;
    }
    const byBox = new Map<string, Prepared[]>();
    for (const p of window) {
      const list = byBox.get(p.append.mailbox) ?? [];
      list.push(p);
      byBox.set(p.append.mailbox, list);
    }
    const batch = Math.max(1, this.options.batch);
    for (const [box, list] of byBox) {
      for (let i = 0; i < list.length; i += batch) {
        await this.pool.whenWritable();
        // Journalled as 'sent' but not sent: a re-run looks them up (absent) and sends them then.
        if (this.halted) return;
        const group = list.slice(i, i + batch);
        const p = this.pool
          .append(box, group.map((g) => g.append))
          .then(
            (outcomes) => this.settle(group, outcomes),
            (e) => this.settle(group, group.map(() => ({ status: 'failed', error: toMailmigrateError(e) }) as const)),
          );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }
  }

  private settle(group: Prepared[], outcomes: MessageOutcome[]): void {
    const confirmed: Array<{ id: string; uid?: number; uidValidity?: number; mailbox: string }> = [];
    outcomes.forEach((o, i) => {
      const p = group[i]!;
      if (o.status === 'appended') {
        confirmed.push({ id: p.message.id, uid: o.uid, uidValidity: o.uidValidity, mailbox: p.append.mailbox });
        this.progress.appended++;
        this.progress.bytes += p.append.data.length;
      } else if (o.status === 'unknown') {
        this.unknown.push(p);
      } else {
        if (o.error instanceof ServerResponseError && o.error.responseCode === 'OVERQUOTA') this.halted ??= o.error;
        this.fail(p.message.origin, o.error, p.message.id);
      }
    });
    try {
      if (confirmed.length) this.journal.recordConfirmed(confirmed);
    } catch (e) {
      this.fatal ??= toMailmigrateError(e);
    }
    this.report();
  }

  /** Messages whose APPEND had no answer (connection lost mid-command): re-send only those not on the server. */
  private async resendUnknown(): Promise<void> {
    for (let round = 0; round < 3 && this.unknown.length && !this.fatal; round++) {
      const list = this.unknown;
      this.unknown = [];
      const again: Prepared[] = [];
      let lookupFailed = false;
      for (const p of list) {
        let uid: number | undefined;
        try {
          uid = await findOnServer(this.control, p.append.mailbox, p.messageId, p.append.data.length, p.fingerprint);
        } catch {
          // The lookup itself failed (control connection lost, server restarting): the message may be there, so it
          // stays unknown for the next round — sending it now could double it.
          this.unknown.push(p);
          lookupFailed = true;
          continue;
        }
        if (uid !== undefined) {
          this.journal.recordConfirmed([{ id: p.message.id, uid, mailbox: p.append.mailbox }]);
          this.progress.appended++;
          this.progress.bytes += p.append.data.length;
          this.unknownResolved++;
        } else again.push(p);
      }
      const inflight = new Set<Promise<void>>();
      if (again.length) await this.dispatch(again, inflight);
      await Promise.all(inflight);
      if (lookupFailed) await new Promise((r) => setTimeout(r, 500 * (round + 1)));
    }
    for (const p of this.unknown) {
      this.fail(p.message.origin, { code: 'E_UNKNOWN_OUTCOME', message: 'no answer from the server after 3 attempts; re-run to check and resend' });
    }
    this.unknown = [];
  }

  private fail(source: string, err: { code: string; message: string }, id?: string): void {
    this.progress.failed++;
    this.failures.push({ source, code: err.code, reason: err.message });
    if (id) {
      try {
        this.journal.recordFailed(id, err.code, err.message);
      } catch (e) {
        this.fatal ??= toMailmigrateError(e);
      }
    }
    this.report();
  }

  private report(): void {
    this.options.onProgress?.(this.progress);
  }
}

/** recv-wait values of a record list, for summaries. */
export function recvWaits(records: readonly TimingRecord[], verb = 'APPEND'): number[] {
  const out: number[] = [];
  for (const r of records) {
    if (r.verb !== verb) continue;
    const w = derivePhases(r).recvWaitMs;
    if (w !== undefined) out.push(w);
  }
  return out;
}

export { AbortedError };
