import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderBatchSummary } from '../../src/cli/render/batch.js';
import type { AccountSpec } from '../../src/fleet/account.js';
import type { AccountOutcome, RunAccountOptions } from '../../src/fleet/account-runner.js';
import { renderBatchHtml } from '../../src/fleet/batch-html.js';
import { batchJsonPath, runBatch } from '../../src/fleet/batch-run.js';
import { byAttention, newEntry, readSummary, summarize, writeJsonAtomic } from '../../src/fleet/batch-state.js';
import { CONTROL_CONNECTIONS, HostBudget } from '../../src/fleet/host-budget.js';

const spec = (i: number, host = 'mail.example.com', connections = 2): AccountSpec => ({
  id: `u${i}@${host}:143`, line: i + 1, source: `/src/u${i}`, user: `u${i}`, host, port: undefined, security: undefined,
  passwordFile: undefined, passwordEnv: 'PW', oauthTokenFile: undefined, importArgs: [], connections,
});

// Test names are not resolved through the system's DNS: each keeps its own (lower-cased) name as its budget key.
const noDns = async (h: string): Promise<string[]> => {
  throw new Error(`ENOTFOUND ${h}`);
};

const outcome = (o: Partial<AccountOutcome>): AccountOutcome => ({
  status: 'complete', exitCode: 0, total: 2, appended: 2, skipped: 0, failed: 0, bytes: 100, elapsedMs: 5,
  startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), connections: 1, ...o,
});

test('the host budget counts the control session, never exceeds its cap, and lowers an account that asks for more', () => {
  // Each account also holds CONTROL_CONNECTIONS (3: the control plane, the folder survey and the bulk reader).
  assert.equal(CONTROL_CONNECTIONS, 3);
  assert.throws(() => new HostBudget(3), /at least 4/);
  const b = new HostBudget(9);
  assert.equal(b.appendConnections(8), 6);
  const r1 = b.tryAcquire('h', 2)!; // 5 of 9
  assert.ok(r1);
  assert.equal(b.tryAcquire('h', 2), undefined, '5 + 5 > 9');
  const r2 = b.tryAcquire('h', 1)!; // 9 of 9
  assert.equal(b.inUse('h'), 9);
  assert.ok(b.tryAcquire('other', 4), 'another server has its own budget');
  r1();
  r1(); // a second release changes nothing
  assert.equal(b.inUse('h'), 4);
  r2();
  assert.equal(b.peak.get('h'), 9);
});

test('a batch keeps every server under its budget, runs the others meanwhile, and keeps per-server order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-batch-'));
  try {
    const inUse = new Map<string, number>();
    const max = new Map<string, number>();
    const order: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const accounts = [...Array.from({ length: 6 }, (_, i) => spec(i, 'a.example', 3)), ...Array.from({ length: 4 }, (_, i) => spec(10 + i, 'b.example', 1))];
    const s = await runBatch({
      accounts, source: 'x.csv', stateDir: dir, parallel: 4, maxConnectionsPerHost: 6, bin: '/none', env: {}, accountTimeoutMs: 1000, retries: 0,
      resolve: noDns,
      run: async (a: AccountSpec, o: RunAccountOptions) => {
        const h = a.host;
        inUse.set(h, (inUse.get(h) ?? 0) + o.connections + CONTROL_CONNECTIONS);
        max.set(h, Math.max(max.get(h) ?? 0, inUse.get(h)!));
        maxRunning = Math.max(maxRunning, ++running);
        order.push(a.id);
        await new Promise((r) => setTimeout(r, 20));
        inUse.set(h, inUse.get(h)! - o.connections - CONTROL_CONNECTIONS);
        running--;
        return outcome({ connections: o.connections });
      },
    });
    assert.equal(s.accounts.complete, 10);
    assert.ok(max.get('a.example')! <= 6, `a.example peaked at ${max.get('a.example')}`);
    assert.ok(max.get('b.example')! <= 6);
    assert.ok(maxRunning <= 4);
    assert.ok(maxRunning >= 2, 'accounts of b.example ran while a.example was at its cap');
    const aOrder = order.filter((id) => id.includes('a.example'));
    assert.deepEqual(aOrder, accounts.filter((a) => a.host === 'a.example').map((a) => a.id), 'first come, first served per server');
    assert.equal(s.peakConnections['a.example:143'], 6, 'each a.example account got 3 connections + control + survey + reader, one at a time');
    assert.deepEqual(readSummary(batchJsonPath(dir))?.accounts, s.accounts);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file is left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two spellings of one server (localhost, 127.0.0.1, a name in capitals) share one connection budget', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-batch-'));
  try {
    // Resolver table: what the system resolver answers for these names (localhost: both families, IPv6 first).
    const table: Record<string, string[]> = { localhost: ['::1', '127.0.0.1'], 'mail.example.org': ['127.0.0.1'] };
    const resolve = async (h: string): Promise<string[]> => {
      const a = table[h.toLowerCase()];
      if (!a) throw new Error(`ENOTFOUND ${h}`);
      return a;
    };
    let inUse = 0;
    let max = 0;
    const accounts = [spec(1, 'localhost', 1), spec(2, '127.0.0.1', 1), spec(3, 'MAIL.example.org', 1), spec(4, 'other.example', 1)];
    const s = await runBatch({
      accounts, source: 'x.csv', stateDir: dir, parallel: 4, maxConnectionsPerHost: 4, bin: '/none', env: {}, accountTimeoutMs: 1000, retries: 0,
      resolve,
      run: async (a: AccountSpec, o: RunAccountOptions) => {
        const local = a.host !== 'other.example';
        if (local) max = Math.max(max, (inUse += o.connections + CONTROL_CONNECTIONS));
        await new Promise((r) => setTimeout(r, 20));
        if (local) inUse -= o.connections + CONTROL_CONNECTIONS;
        return outcome({ connections: o.connections });
      },
    });
    assert.equal(s.accounts.complete, 4);
    assert.equal(max, 4, 'the three spellings of 127.0.0.1 ran one at a time: 1 APPEND connection + control + survey + reader each');
    assert.equal(s.peakConnections['127.0.0.1:143'], 4);
    assert.equal(s.peakConnections['other.example:143'], 4, 'a name that does not resolve keeps its own budget');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a transient failure is retried with backoff and a permanent one is not; a re-run re-checks complete accounts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-batch-'));
  try {
    const calls = new Map<string, number>();
    const run = async (a: AccountSpec): Promise<AccountOutcome> => {
      const n = (calls.get(a.id) ?? 0) + 1;
      calls.set(a.id, n);
      if (a.user === 'u1' && n === 1) return outcome({ status: 'failed', exitCode: 1, error: { code: 'E_CONNREFUSED', message: 'refused', transient: true } });
      if (a.user === 'u2') return outcome({ status: 'failed', exitCode: 1, error: { code: 'E_AUTH', message: 'login refused', transient: false } });
      return outcome({});
    };
    const base = { accounts: [spec(1), spec(2), spec(3)], source: 'x.csv', stateDir: dir, parallel: 2, maxConnectionsPerHost: 10, bin: '/none', env: {}, accountTimeoutMs: 1000, retries: 2, retryDelayMs: 10, run, resolve: noDns };
    const s1 = await runBatch(base);
    assert.equal(calls.get('u1@mail.example.com:143'), 2);
    assert.equal(calls.get('u2@mail.example.com:143'), 1, 'a refused login is not retried');
    assert.deepEqual(s1.accounts, { total: 3, complete: 2, failed: 1, pending: 0, running: 0 });
    assert.equal(s1.list.find((e) => e.user === 'u2')!.error!.code, 'E_AUTH');
    assert.match(renderBatchSummary(s1), /Failed accounts:\n {2}line 3 u2@mail\.example\.com:143: login refused \(E_AUTH\)/);

    calls.clear();
    const s2 = await runBatch(base);
    assert.equal(calls.size, 3, 'complete accounts are run again: the quick check against the server');
    assert.ok(s2.list.find((e) => e.user === 'u3')!.wasComplete);

    calls.clear();
    const s3 = await runBatch({ ...base, skipComplete: true });
    assert.deepEqual([...calls.keys()], ['u2@mail.example.com:143'], '--skip-complete runs only what is not complete');
    assert.equal(s3.accounts.complete, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the aggregate counts accounts and messages, and lists failures first', () => {
  const list = [1, 2, 3, 4].map((i) => newEntry({ id: `u${i}`, line: i + 1, user: `u${i}`, host: 'h:143', source: '/s' }));
  Object.assign(list[0]!, { status: 'complete', appended: 5, total: 5, bytes: 500 });
  Object.assign(list[1]!, { status: 'failed', error: { code: 'E_AUTH', message: 'no', transient: false } });
  Object.assign(list[2]!, { status: 'running' });
  const t0 = new Date('2026-01-01T00:00:00Z');
  const s = summarize(list, { mode: 'local', source: 'a.csv', startedAt: t0, now: new Date(t0.getTime() + 2000), finished: false, maxConnectionsPerHost: 8 });
  assert.deepEqual(s.accounts, { total: 4, complete: 1, failed: 1, pending: 1, running: 1 });
  assert.equal(s.messages.appended, 5);
  assert.equal(s.msgsPerSec, 2.5);
  assert.equal(s.finishedAt, null);
  assert.deepEqual(byAttention(list).map((e) => e.status), ['failed', 'running', 'pending', 'complete']);
});

test('the HTML page is self-contained, escapes what accounts and servers say, and starts with the failures', () => {
  const list = [1, 2].map((i) => newEntry({ id: `u${i}`, line: i + 1, user: `u${i}`, host: 'h:143', source: '/s' }));
  Object.assign(list[0]!, { status: 'complete', appended: 5 });
  Object.assign(list[1]!, { status: 'failed', user: '<img src=x onerror=alert(1)>', error: { code: 'E_AUTH', message: 'NO [AUTH] <b>bad</b> & "wrong"', transient: false } });
  const html = renderBatchHtml(summarize(list, { mode: 'local', source: 'a.csv', startedAt: new Date(), now: new Date(), finished: true, maxConnectionsPerHost: 8 }));
  assert.doesNotMatch(html, /<img|<b>bad/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /NO \[AUTH\] &lt;b&gt;bad&lt;\/b&gt; &amp; &quot;wrong&quot;/);
  assert.doesNotMatch(html, /\b(src|href)=["']?(https?:|\/\/)|@import|<link /i, 'no external asset');
  assert.ok(html.indexOf('<tr class="failed">') < html.indexOf('<tr class="complete">'), 'failures first');
  assert.match(html, /addEventListener\('click'/, 'the table sorts on a click');
});

test('batch.json is replaced atomically and an unreadable one is ignored, not fatal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-state-'));
  try {
    const f = join(dir, 'batch.json');
    writeJsonAtomic(f, { version: 1, list: [] });
    assert.deepEqual(JSON.parse(readFileSync(f, 'utf8')), { version: 1, list: [] });
    writeJsonAtomic(f, 'not a summary');
    assert.equal(readSummary(f), undefined);
    assert.equal(readSummary(join(dir, 'none.json')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
