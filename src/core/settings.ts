import type { LiteralMode, WriteMode } from './types.js';

// The one settings module: the transport settings an import starts with, the bounds adaptation may move them within,
// and the measurements that chose each number. The CLI, the benchmarks and the adaptation policy all read these, so a
// default cannot drift between the help text, the bench profile called "default" and what adaptation starts from.
// Numbers cite docs/measurements.md (Dovecot, this machine) and docs/adaptation.md (Courier, Cyrus, a 40 ms path).

export interface TransportSettings {
  readonly literalMode: LiteralMode;
  readonly writeMode: WriteMode;
  readonly noDelay: boolean;
  /** Commands in flight per connection (1 = no pipelining). */
  readonly pipelineDepth: number;
  /** MULTIAPPEND size; 1 = plain APPEND. */
  readonly batch: number;
  readonly connections: number;
}

/**
 * mailmigrate's defaults. Measured against the embedded server and a private Dovecot (README "Performance"):
 * TCP_NODELAY and coalesced writes remove the delayed-ACK stall (imaplib-like 22.6 msg/s, p50 44 ms → thousands);
 * LITERAL+ (auto, ≤100 KiB) removes a round trip per message; MULTIAPPEND amortizes Dovecot's per-command
 * save transaction (~2 ms per APPEND command vs ~0.19 ms per message inside a MULTIAPPEND: sequential ~400-500
 * msg/s vs 2242 msg/s on one connection); 2 connections × depth 2 keep a second Dovecot process busy. Deeper
 * pipelines into one mailbox only queue: Dovecot runs one connection's commands one at a time and reads at most 4
 * ahead (depth 32: recv-wait p50 1.9 → 28.5 ms for +26 %).
 *
 * Batch 200, not 50: a MULTIAPPEND commits once, and a commit's cost grows with the folder. At each commit Dovecot's
 * Maildir syncs its uidlist, hashing the name of every file the folder holds (perf: maildir_filename_base_hash), and
 * rewrites it through a lock file; so at 50 per command the server's CPU per message rose with the folder: 104–130
 * µs at 5000 messages, 204–225 at 20 000, 411 at 50 000 (one folder, realistic corpus, docs/measurements.md "Batch
 * size and the folder's size"). At 200 it stays 85–106 up to 20 000 and is 189 at 50 000: 2.07× the msg/s of batch
 * 50 at 50 000, 1.6× at 20 000, the same at 5000; Cyrus (an fsync per command) 1.66× at 5000. The price is memory:
 * ~4 MiB per command of realistic mail, bounded by the pool's 16 MiB in flight and the send window's 32 MiB, and
 * +9–15 MB of peak RSS for small messages (50 000 to a million; 800 messages in flight instead of 200).
 *
 * They are a starting point, not a verdict: on Courier (no LITERAL+, no MULTIAPPEND) depth 2 costs ~48 ms per
 * message in the continuation phase (22 msg/s against 255 at depth 1, docs/adaptation.md), which is why an import
 * reads its first seconds of timing records and adapts (src/migrate/adapt-policy.ts) unless --no-adapt.
 */
export const DEFAULT_SETTINGS: TransportSettings = {
  literalMode: 'auto',
  writeMode: 'coalesce',
  noDelay: true,
  pipelineDepth: 2,
  batch: 200,
  connections: 2,
};

/** How far adaptation may move the settings. It never goes above these, nor above what the user gave. */
export interface SettingsBounds {
  readonly maxPipelineDepth: number;
  readonly maxBatch: number;
  readonly maxConnections: number;
}

/**
 * Depth 8: over a 40 ms path, Dovecot's ~22 ms per MULTIAPPEND of 50 needs 1 + 40/22 ≈ 3 commands in flight per
 * connection to stay busy (docs/adaptation.md); 8 leaves room for faster servers and longer paths, while depth 32
 * measured slower on loopback (recv-wait p50 1.9 → 28.5 ms, Dovecot queues what it does not read).
 * Batch 800: 4× the default, for the path rule (adapt-policy.ts rule 4) when depth alone cannot cover a long path.
 * Measured here: Dovecot stored MULTIAPPENDs of 800 at 6124 msg/s into a 50 000-message folder (200: 5224), Cyrus
 * at 2162 msg/s into 5000 (200: 2502–2574); a refused batch is split in log2(800) ≈ 10 steps, and the pool's byte
 * bound (16 MiB) caps what large messages can hold.
 * Connections 8: `--connections 8` was the best fixed setting over the 40 ms path (795 msg/s vs 520 at 2); Courier's
 * Debian default MAXPERIP is 20 and Dovecot's mail_max_userip_connections 10, so 8 leaves the user's own client room.
 */
export const DEFAULT_BOUNDS: SettingsBounds = { maxPipelineDepth: 8, maxBatch: 800, maxConnections: 8 };

/** Bounds that also cover what the user asked for: adaptation may lower a user's --pipeline 16, never raise past it. */
export function boundsFor(given: Pick<TransportSettings, 'pipelineDepth' | 'batch' | 'connections'>, bounds: SettingsBounds = DEFAULT_BOUNDS): SettingsBounds {
  return {
    maxPipelineDepth: Math.max(1, bounds.maxPipelineDepth, given.pipelineDepth),
    maxBatch: Math.max(1, bounds.maxBatch, given.batch),
    maxConnections: Math.max(1, bounds.maxConnections, given.connections),
  };
}

/**
 * When a look happens: after this many messages have settled or this many ms since the first APPEND (or the previous
 * look), whichever comes first, and only once at least ADAPT_MIN_COMMANDS commands have timing records. 200 messages
 * at Courier's stalled 22 msg/s is 9 s, so the time bound decides there: 1.5 s ≈ 33 stalled commands, well above the
 * 5 a stall needs, and the time spent at the stalled rate is what adaptation costs against the best fixed setting
 * (measured on Courier here: 600 messages, adaptive 42–64 msg/s with a 3 s window against 62–90 for depth 1 fixed).
 * On Dovecot 200 messages take ~0.1–0.3 s and the message bound decides.
 */
export const ADAPT_AFTER_MESSAGES = 200;
export const ADAPT_AFTER_MS = 1500;
export const ADAPT_MIN_COMMANDS = 20;

/**
 * While adaptation looks, MULTIAPPENDs carry at most this many messages; once its rules have nothing left to fix the
 * run goes on at its own batch (DEFAULT_SETTINGS.batch, or --batch). The rules judge from commands (ADAPT_MIN_COMMANDS
 * for a look, 4 over a path, and the commands still in flight under the settings before a change must settle first),
 * and at 200 messages a command that evidence took 4000 messages: over the 40 ms relay the first look came after
 * 2800 of 5000 messages, the look that would have raised the connections never came, and the defaults kept 0.33× of
 * their own 0 ms msg/s, against 0.63× with batches of 50 in the same run (bench/results/peers-2026-12-01-115018-
 * dovecot-rtt40.json). A folder's first thousand messages are where a small batch costs least: a commit's cost grows
 * with what the folder holds (DEFAULT_SETTINGS).
 */
export const ADAPT_LOOK_BATCH = 50;

/**
 * The path's bandwidth assumed from the login's round trip until the first look has measured it: 100 Mbit/s
 * (12 500 bytes/ms). Over a path the LITERAL+ limit starts at RTT × this (literal-policy.ts literalPlusMaxForPath,
 * adapt-policy.ts pathStartChange) instead of mbsync's 100 KiB, because a synchronizing literal costs a round trip
 * on every message above the limit, refused or not, while a non-synchronizing one costs something only when the
 * server refuses the command. Over the 40 ms relay the first commands of 50 carried 3.5 synchronizing literals each:
 * 550 messages took the first 600 ms, the other 4450 the next 800 (wire log, docs/adaptation.md "The first commands
 * over a path"). If the path is slower than assumed, the bet's worst case is one refused literal of RTT × 100 Mbit/s
 * uploading at the real rate (at 10 Mbit/s: 10 round trips instead of one), and only until the first look, which
 * replaces the assumption with the rate the run delivered (up or down, never below 100 KiB).
 */
export const PATH_ASSUMED_BYTES_PER_MS = 12_500;

/**
 * How far ahead of the walk folders are opened — reconcile (FolderRuns.#advance) and verify (verify.ts openAhead):
 * at most 8 folders, and no further once the ones opened ahead held 20 000 messages at the start. Their indexes are
 * held until the walk reaches them (~150–200 bytes an entry: a few MB), on top of the current folder's; their reads
 * go on the bulk reader's connection behind one another, one round trip for all of them (docs/adaptation.md, "The
 * first commands over a path, and reading folders over a path"). 8, not 2: an account's tree is mostly small
 * folders, and with 2 ahead a fresh re-run of 50 folders of 100 messages through a 40 ms round trip still went
 * two folders a round trip; the message bound is what keeps memory in check where folders are large.
 */
export const READ_AHEAD_FOLDERS = 8;
export const READ_AHEAD_MESSAGES = 20_000;

/**
 * How long a reader's connection of its own (the folder survey, the bulk index: src/migrate) stays open with nothing
 * to do. Kept between folders it saves a connect and a login each time (~2.5 round trips); kept for the whole run it
 * would hold a slot the pool may want: Dovecot allows 10 connections per user and address by default
 * (mail_max_userip_connections), and the pool (up to 8, DEFAULT_BOUNDS), the control connection and these two
 * readers would be 11. A second covers the gap between one folder's read and the next, and between the survey's
 * bursts at the start of a source.
 */
export const READER_IDLE_MS = 1000;

/** How a child import's process is started: flags for its `node`, and variables added to its environment. */
export interface ChildHeap {
  readonly nodeFlags: readonly string[];
  /** Set only where the environment does not set them already (an admin's own value wins). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * For imports whose memory matters more than their CPU: `mailmigrate batch --lean-heap` and `mailmigrate worker
 * --lean-heap` start each account's import this way. The flags must be on node's command line (`NODE_OPTIONS`
 * refuses --heap-growing-percent); glibc reads MALLOC_ARENA_MAX only from the environment a process starts with.
 * Measured (docs/measurements.md, fourth and fifth passes): a 1M-message import peaks at 120 MB with the flags and
 * 107–112 MB with MALLOC_ARENA_MAX=2 as well, against 166–167 MB by default; a 200k one at 90–99 MB against 143–148; for
 * +12–23 % client CPU at 200k (more scavenges: a 2 MiB young generation instead of V8's 16 MiB, and an old
 * generation collected once it doubles its live size instead of V8's up to 4×). Two malloc arenas instead of up to
 * 8 per core cost no CPU that was measurable (the other threads' arenas 10 → 3.4 MB). Not the default: an import on
 * its own is bound by CPU, not memory; many accounts at once on one machine are bound by memory.
 */
export const LEAN_HEAP: ChildHeap = {
  nodeFlags: ['--max-semi-space-size=2', '--heap-growing-percent=100'],
  env: { MALLOC_ARENA_MAX: '2' },
};
