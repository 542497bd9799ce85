import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandQueue, type TaggedResult, type WireIO } from '../../src/transport/command-queue.js';
import { compileAppend, compileSimple, type CompiledCommand, type LiteralKind } from '../../src/imap/compiler.js';
import { ConnectionClosedError, type MailmigrateError, ProtocolError, ServerResponseError, isOutcomeUnknown } from '../../src/core/errors.js';
import { seededRandom } from '../../src/core/prng.js';
import type { ResponseItem } from '../../src/imap/response-reader.js';
import type { TimingRecord } from '../../src/transport/timing.js';

// A model-based test of the command queue (issue 13): a seeded random interleaving of enqueues, continuations,
// tagged replies (OK, NO, early refusals of a synchronizing literal), untagged chatter, socket 'drain' and a dying
// connection, with an observer that sometimes throws. Every byte the queue writes is attributed to its command by
// buffer identity and checked against an oracle of the send rules (src/transport/send-gate.ts); at the end every
// command must have settled exactly once, with the outcome the server gave it, and its record observed once.

const DEPTH_MAX = 4;
const MAX_BUFFERED = 64;

interface Cmd {
  readonly tag: string;
  readonly compiled: CompiledCommand;
  readonly exclusive: boolean;
  readonly mailbox: string | undefined;
  readonly wants: readonly string[];
  state: 'pending' | 'started' | 'written' | 'answered' | 'failed';
  /** The server's verdict, once given (or the connection's failure). */
  expected?: 'OK' | 'NO' | 'unknown' | 'not-sent';
  settledAs: Array<'resolved' | 'rejected'>;
  result?: TaggedResult;
  error?: MailmigrateError;
  observed: number;
  untaggedSent: number;
}

class Model {
  readonly cmds: Cmd[] = [];
  readonly byTag = new Map<string, Cmd>();
  readonly owner = new Map<Buffer, { cmd: Cmd; kind: 'text' | 'literal'; index: number }>();
  open = false;
  /** The command whose synchronizing literal header went out and whose '+' has not come. */
  awaiting: Cmd | undefined;
  inflight = new Set<Cmd>();
  confirmed = new Set<string>();
  nextStart = 0;
  violations: string[] = [];
  depth = 1;
}

class CheckedIO implements WireIO {
  writableLength = 0;
  constructor(private readonly m: Model) {}
  write(data: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.check(data);
    this.writableLength += data.length;
    if (cb) queueMicrotask(() => cb());
    return this.writableLength <= MAX_BUFFERED;
  }
  cork(): void {}
  uncork(): void {}

  /** The oracle: may these bytes be written now? */
  private check(data: Buffer): void {
    const m = this.m;
    const v = (why: string): void => void m.violations.push(why);
    if (!m.open) v('bytes written on a connection that is not open');
    const o = m.owner.get(data);
    if (!o) {
      // A SASL answer: only for an exclusive command in flight.
      if (![...m.inflight].some((c) => c.exclusive)) v('unattributed bytes written');
      return;
    }
    const c = o.cmd;
    // RFC 3501 §7.5: after a synchronizing literal's header, nothing may go before the server's '+'.
    if (m.awaiting) v(`${c.tag} wrote while ${m.awaiting.tag} awaits '+'`);
    const isStart = o.kind === 'text' && o.index === 0;
    if (isStart) {
      // FIFO: commands start in the order they were queued.
      const expectedNext = m.cmds[m.nextStart];
      if (expectedNext !== c) v(`${c.tag} started before ${expectedNext?.tag}`);
      m.nextStart++;
      if ([...m.inflight].some((x) => x.exclusive)) v(`${c.tag} started while an exclusive command runs`);
      if (c.exclusive && m.inflight.size > 0) v(`exclusive ${c.tag} started with ${m.inflight.size} in flight`);
      if (m.inflight.size >= m.depth) v(`${c.tag} started at depth ${m.inflight.size} ≥ ${m.depth}`);
      if (this.writableLength > MAX_BUFFERED) v(`${c.tag} started with ${this.writableLength} bytes unflushed`);
      if (c.mailbox !== undefined && !m.confirmed.has(c.mailbox) && m.inflight.size > 0) {
        v(`first APPEND to unconfirmed ${c.mailbox} (${c.tag}) pipelined`);
      }
      m.inflight.add(c);
      c.state = 'started';
    } else if (c.state !== 'started') v(`${c.tag} wrote a later piece in state ${c.state}`);
    const pieces = c.compiled.pieces;
    const piece = pieces[o.index]!;
    if (o.kind === 'text' && piece.literal?.kind === 'sync') m.awaiting = c;
    const last = o.index === pieces.length - 1 && o.kind === 'text';
    if (last) c.state = 'written';
  }
}

function makeCommand(m: Model, rnd: () => number, n: number): Cmd {
  const tag = `T${n}`;
  const r = rnd();
  let compiled: CompiledCommand;
  let exclusive = false;
  let mailbox: string | undefined;
  let wants: readonly string[] = [];
  const kind = (): LiteralKind => (rnd() < 0.5 ? 'sync' : 'nonsync');
  if (r < 0.15) {
    compiled = compileSimple(tag, 'NOOP');
  } else if (r < 0.25) {
    compiled = compileSimple(tag, 'CAPABILITY');
    wants = ['CAPABILITY'];
  } else if (r < 0.32) {
    compiled = compileSimple(tag, 'SELECT', ['INBOX']);
    exclusive = true;
  } else {
    mailbox = `box${Math.floor(rnd() * 3)}`;
    const count = 1 + Math.floor(rnd() * 3);
    const msgs = Array.from({ length: count }, (_, i) => ({ flags: [], data: Buffer.from(`${tag}-m${i}-${'x'.repeat(Math.floor(rnd() * 40))}`) }));
    compiled = compileAppend(tag, mailbox, msgs, kind);
  }
  const c: Cmd = { tag, compiled, exclusive, mailbox, wants, state: 'pending', settledAs: [], observed: 0, untaggedSent: 0 };
  compiled.pieces.forEach((p, i) => {
    m.owner.set(p.text, { cmd: c, kind: 'text', index: i });
    if (p.literal) m.owner.set(p.literal.data, { cmd: c, kind: 'literal', index: i });
  });
  return c;
}

const untagged = (type: string, text = ''): ResponseItem => ({
  kind: 'untagged',
  type,
  number: type === 'EXISTS' ? 1 : undefined,
  code: undefined,
  text,
  literals: [],
  raw: Buffer.from(`* ${type} ${text}\r\n`),
});

async function runModel(seed: number, steps: number): Promise<void> {
  const rnd = seededRandom(seed);
  const m = new Model();
  m.depth = 1 + Math.floor(rnd() * DEPTH_MAX);
  const io = new CheckedIO(m);
  let t = 0;
  const throwingObserver = rnd() < 0.7;
  let observerErrors = 0;
  const q = new CommandQueue(io, {
    connectionId: 1,
    depth: m.depth,
    writeMode: rnd() < 0.5 ? 'coalesce' : 'split',
    maxBufferedBytes: MAX_BUFFERED,
    clock: { now: () => ++t, wall: () => new Date() },
    onRecord: (r: TimingRecord) => {
      const c = m.byTag.get(r.tag)!;
      c.observed++;
      if (throwingObserver && rnd() < 0.4) throw new Error('trace writer: ENOSPC');
    },
    onObserverError: () => void observerErrors++,
  });
  // What Connection does with a response the queue rejects: tear the connection down.
  const deliver = (item: ResponseItem): void => {
    try {
      q.onResponse(item);
    } catch (err) {
      dead = true;
      q.failAll(err instanceof ProtocolError ? err : new ProtocolError(String(err)));
      for (const c of m.cmds) if (!c.expected) c.expected = c.state === 'pending' ? 'not-sent' : 'unknown';
    }
  };
  let dead = false;
  let n = 0;
  const enqueue = (): void => {
    const c = makeCommand(m, rnd, n++);
    m.cmds.push(c);
    m.byTag.set(c.tag, c);
    const p = q.enqueue(c.compiled, { exclusive: c.exclusive, mailbox: c.mailbox, untagged: c.wants, messages: c.mailbox ? 1 : 0 });
    p.then(
      (res) => {
        c.settledAs.push('resolved');
        c.result = res;
      },
      (err: MailmigrateError) => {
        c.settledAs.push('rejected');
        c.error = err;
      },
    );
    if (dead && !c.expected) c.expected = 'not-sent';
  };
  const answer = (c: Cmd, status: 'OK' | 'NO'): void => {
    m.inflight.delete(c);
    if (m.awaiting === c) m.awaiting = undefined;
    c.state = 'answered';
    c.expected = status;
    if (status === 'OK' && c.mailbox !== undefined) m.confirmed.add(c.mailbox);
    deliver({ kind: 'tagged', tag: c.tag, status, code: undefined, text: 'done' });
  };
  m.open = true;
  q.setOpen(true);

  for (let step = 0; step < steps; step++) {
    const r = rnd();
    const answerable = [...m.inflight].filter((c) => c.state === 'written' || c === m.awaiting);
    if (r < 0.3) enqueue();
    else if (r < 0.45 && m.awaiting && !dead) {
      m.awaiting = undefined;
      deliver({ kind: 'continuation', text: 'go ahead' });
    } else if (r < 0.7 && answerable.length > 0 && !dead) {
      const c = answerable[Math.floor(rnd() * answerable.length)]!;
      // A command awaiting '+' may be refused early (NO); a fully written one gets OK or NO.
      answer(c, c === m.awaiting || rnd() < 0.2 ? 'NO' : 'OK');
    } else if (r < 0.82 && !dead) {
      const type = rnd() < 0.5 ? 'EXISTS' : 'CAPABILITY';
      if (type === 'CAPABILITY') for (const c of m.inflight) if (c.wants.includes('CAPABILITY')) c.untaggedSent++;
      deliver(untagged(type, type === 'CAPABILITY' ? 'IMAP4rev1' : ''));
    } else if (r < 0.97) {
      io.writableLength = 0;
      q.pump();
    } else if (!dead && rnd() < 0.3) {
      dead = true;
      m.open = false;
      for (const c of m.cmds) if (!c.expected) c.expected = c.state === 'pending' ? 'not-sent' : 'unknown';
      q.failAll(new ConnectionClosedError('connection reset by the model', m.inflight.size));
    }
    await Promise.resolve();
  }
  // Wind down: the server answers everything that is left, as long as the connection lives.
  for (let guard = 0; !dead && guard < 10_000; guard++) {
    io.writableLength = 0;
    q.pump();
    if (m.awaiting) {
      m.awaiting = undefined;
      deliver({ kind: 'continuation', text: '' });
      continue;
    }
    const c = [...m.inflight].find((x) => x.state === 'written');
    if (c) answer(c, 'OK');
    else if (m.cmds.every((x) => x.expected)) break;
    else if (m.inflight.size === 0 && q.queued === 0) break;
  }
  await new Promise((res) => setImmediate(res));

  const ctx = `seed ${seed}, depth ${m.depth}`;
  assert.deepEqual(m.violations, [], ctx);
  for (const c of m.cmds) {
    assert.equal(c.settledAs.length, 1, `${ctx}: ${c.tag} settled ${c.settledAs.length} times (state ${c.state})`);
    switch (c.expected) {
      case 'OK':
        assert.equal(c.settledAs[0], 'resolved', `${ctx}: ${c.tag}`);
        // Untagged responses reach only the commands that asked for their type.
        assert.equal(c.result!.untagged.length, c.untaggedSent, `${ctx}: ${c.tag} untagged`);
        break;
      case 'NO':
        assert.ok(c.error instanceof ServerResponseError && c.error.status === 'NO', `${ctx}: ${c.tag} ${c.error}`);
        break;
      case 'unknown':
        assert.ok(isOutcomeUnknown(c.error), `${ctx}: ${c.tag} sent, outcome must be unknown: ${c.error}`);
        break;
      case 'not-sent':
        assert.ok(c.error instanceof ConnectionClosedError && !c.error.sent, `${ctx}: ${c.tag} never sent: ${c.error}`);
        break;
      default:
        assert.fail(`${ctx}: ${c.tag} has no expected outcome (state ${c.state})`);
    }
    // A command that started has its record observed exactly once; one that never left has none.
    assert.equal(c.observed, c.expected === 'not-sent' ? 0 : 1, `${ctx}: ${c.tag} observed ${c.observed} times`);
  }
  if (!throwingObserver) assert.equal(observerErrors, 0, ctx);
}

test('random interleavings of commands, continuations, replies, chatter and drain keep the send rules and settle every command exactly once', async () => {
  for (let seed = 1; seed <= 300; seed++) await runModel(seed, 200);
});

test('an observer that throws on every record leaves no command unsettled and does not stop the queue', async () => {
  let t = 0;
  const io = { writableLength: 0, write: (_d: Buffer, cb?: () => void) => (cb && queueMicrotask(cb), true), cork() {}, uncork() {} };
  const reported: unknown[] = [];
  const q = new CommandQueue(io, {
    connectionId: 1,
    depth: 2,
    writeMode: 'coalesce',
    maxBufferedBytes: 1 << 20,
    clock: { now: () => ++t, wall: () => new Date() },
    onRecord: () => {
      throw new Error('ENOSPC: no space left on device, write');
    },
    onObserverError: (err) => reported.push(err),
  });
  q.setOpen(true);
  const a = q.enqueue(compileSimple('A1', 'NOOP'));
  const b = q.enqueue(compileSimple('A2', 'NOOP'));
  q.onResponse({ kind: 'tagged', tag: 'A1', status: 'OK', code: undefined, text: 'done' });
  q.onResponse({ kind: 'tagged', tag: 'A2', status: 'NO', code: undefined, text: 'nope' });
  assert.equal((await a).status, 'OK');
  await assert.rejects(b, ServerResponseError);
  assert.equal(reported.length, 2);
  // The queue still works afterwards.
  const c = q.enqueue(compileSimple('A3', 'NOOP'));
  q.onResponse({ kind: 'tagged', tag: 'A3', status: 'OK', code: undefined, text: 'done' });
  assert.equal((await c).status, 'OK');
});
