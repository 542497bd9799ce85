// A worker that is stopped (SIGTERM, Ctrl-C: the signal its CLI turns into an abort) while an account runs puts
// that account back in the queue without spending one of its tries. Against a private Redis, with a stand-in
// `mailmigrate` binary that hangs until interrupted, so no IMAP server is needed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AccountSpec } from '../../src/fleet/account.js';
import { enqueueBatch, parseQueueUrl, queueStatus, runWorker, type WorkerEvent } from '../../src/fleet/queue.js';
import { redisSkipReason, startRedis, type RedisInstance } from '../helpers/redis.js';

const HANG = `
process.on('SIGINT', () => process.exit(130));
setInterval(() => {}, 1000);
`;

describe('stopping a worker mid-account', { skip: redisSkipReason() }, () => {
  let redis: RedisInstance;
  let dir: string;
  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'mm-worker-stop-'));
    writeFileSync(join(dir, 'hang.mjs'), HANG);
  });
  after(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('returns the account to the queue with its tries intact, and the account is not reported failed', async () => {
    const t = parseQueueUrl(redis.url, {});
    const account: AccountSpec = {
      id: 'alice@mail.example.com:143', line: 2, source: '/src/alice', user: 'alice', host: 'mail.example.com', port: undefined, security: undefined,
      passwordFile: undefined, passwordEnv: 'PW', oauthTokenFile: undefined, importArgs: [], connections: 1,
    };
    await enqueueBatch(t, [account], { source: 'a.csv', maxConnectionsPerHost: 5, retries: 0, backoffMs: 100 });
    const stop = new AbortController();
    const events: WorkerEvent[] = [];
    const worker = runWorker(t, {
      concurrency: 1, stateDir: join(dir, 'state'), bin: join(dir, 'hang.mjs'), env: { PATH: process.env.PATH, PW: 'x' },
      accountTimeoutMs: 600_000, lockMs: 5000, signal: stop.signal,
      onEvent: (e) => {
        events.push(e);
        // Let the stand-in start before stopping (it installs its SIGINT handler first thing).
        if (e.kind === 'start') setTimeout(() => stop.abort(), 1500);
      },
    });
    await worker;
    assert.ok(events.some((e) => e.kind === 'start'), 'the account was started');
    const s = await queueStatus(t);
    assert.deepEqual(s.accounts, { total: 1, complete: 0, failed: 0, pending: 1, running: 0 }, 'back in the queue, not failed (retries 0 would have failed it)');
    assert.equal(s.list[0]!.attempts, 0, 'no try spent');
  });
});
