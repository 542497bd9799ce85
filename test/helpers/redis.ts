// A private redis-server for fleet tests and the fleet benchmark (BullMQ's backend).
//
// Each instance has its own temp dir (working dir, pid file, log), listens on 127.0.0.1 only on a random port, and
// keeps nothing on disk (`--save ''`, no AOF): a test's queue dies with it. It runs in the foreground as our child
// (`--daemonize no`), so its pid is the spawned one; stop() sends SIGTERM, waits, then SIGKILL — by pid, never by
// name. Instances still running when the test process exits are killed synchronously from an 'exit' handler (and on
// SIGINT/SIGTERM), like the Dovecot harness.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './dovecot.js';

export interface RedisInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const REDIS_PATHS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

export function redisBinary(): string | undefined {
  for (const p of REDIS_PATHS) if (existsSync(p)) return p;
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, 'redis-server'))) return join(d, 'redis-server');
  return undefined;
}

/** undefined when a private Redis can be started here; else why not (the test's skip reason). */
export function redisSkipReason(): string | undefined {
  return redisBinary() ? undefined : 'no redis-server binary (apt-get install -y redis-server, or run .ci/run)';
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Resolves once the server answers PING with +PONG, within `timeoutMs`. */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await new Promise<void>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error('no PONG within 1 s'));
        }, 1000);
        let buf = '';
        sock.on('connect', () => sock.write('PING\r\n'));
        sock.on('data', (d) => {
          buf += d.toString('latin1');
          if (buf.includes('\r\n')) {
            clearTimeout(timer);
            sock.destroy();
            if (buf.startsWith('+PONG')) resolve();
            else reject(new Error(`unexpected reply ${JSON.stringify(buf.slice(0, 80))}`));
          }
        });
        sock.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms: ${String(last)}`);
}

export async function startRedis(): Promise<RedisInstance> {
  const bin = redisBinary();
  if (!bin) throw new Error(redisSkipReason());
  const dir = await mkdtemp(join(tmpdir(), 'mailmigrate-redis-'));
  const logFile = join(dir, 'redis.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
        '--logfile', logFile, '--protected-mode', 'yes'],
      { stdio: 'ignore' },
    );
    live.add(child);
    hookExit();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await Promise.race([
        waitForPong(port, 10_000),
        exited.then((code) => {
          throw new Error(`redis-server exited (${code}) at start`);
        }),
      ]);
    } catch (err) {
      live.delete(child);
      child.kill('SIGKILL');
      const log = await readFile(logFile, 'utf8').catch(() => '');
      if (/Address already in use/.test(log) && attempt < 5) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`${(err as Error).message}\n${log.trimEnd().split('\n').slice(-10).join('\n')}`);
    }
    return {
      host: '127.0.0.1',
      port,
      url: `redis://127.0.0.1:${port}`,
      pid: child.pid!,
      dir,
      async stop() {
        if (live.has(child)) {
          child.kill('SIGTERM');
          const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
          if (!gone) {
            child.kill('SIGKILL');
            await exited;
          }
          live.delete(child);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
