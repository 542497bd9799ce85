import { fork } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer, type ImapServer, type ServerOptions } from '../server/server.js';

// The embedded server in a CHILD process, for the scale benches (issue 8):
// - `bench connections` measures the client's RSS per session; with the server in the same process its sessions
//   would be counted too (docs/measurements.md: ~2.3–4.3 KB per server-side socket).
// - `bench storm` must make the kernel's accept queue overflow. The server's acceptDelayMs only delays the greeting;
//   connections are still accepted at once, so the queue never fills. Blocking the child's event loop (a busy-wait)
//   stops accept() for real, exactly like a server busy for a moment — which we cannot do to our own event loop
//   without also freezing the clients we are timing.
// The parent talks to it over the fork IPC channel. Only JSON-serialisable ServerOptions cross it (no Store object).

export type ChildServerOptions = Pick<
  ServerOptions,
  'port' | 'backlog' | 'noDelay' | 'users' | 'maxConnectionsPerUser' | 'maxConnections' | 'acceptDelayMs' | 'capabilities'
>;

type ToChild = { type: 'busy'; ms: number } | { type: 'stats' } | { type: 'close' };
type FromChild =
  | { type: 'ready'; host: string; port: number }
  | { type: 'busy-start' }
  | { type: 'busy-end' }
  | { type: 'stats'; rss: number; connections: number; activeConnections: number; logins: number; appended: number }
  | { type: 'error'; message: string };

export interface ChildStats {
  readonly rss: number;
  readonly connections: number;
  readonly activeConnections: number;
  readonly logins: number;
  readonly appended: number;
}

export interface ServerChild {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Blocks the child's event loop for `ms` (no accept, no reads). Resolves once the block has begun. */
  busy(ms: number): Promise<void>;
  /** Resolves when the block started by busy() is over. */
  whenIdle(): Promise<void>;
  stats(): Promise<ChildStats>;
  /** Closes the server and waits for the child to exit (killed by pid after a bound). */
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const REPLY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;

/** Starts the embedded server in a child process on 127.0.0.1. */
export async function startServerChild(options: ChildServerOptions = {}): Promise<ServerChild> {
  const here = fileURLToPath(import.meta.url);
  // Compiled: node runs dist/src/bench/server-child.js. Under tsx (tests run without building): the .ts file and
  // the tsx loader, so both ways run the same code.
  const execArgv = here.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(here, ['--mailmigrate-server-child', JSON.stringify(options)], {
    execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const waiters: Array<{ type: FromChild['type']; resolve: (m: FromChild) => void; reject: (e: Error) => void }> = [];
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      for (const w of waiters.splice(0)) w.reject(new Error('server child exited'));
      resolve();
    }),
  );
  child.on('message', (m: FromChild) => {
    const i = waiters.findIndex((w) => w.type === m.type || m.type === 'error');
    if (i < 0) return;
    const [w] = waiters.splice(i, 1);
    if (m.type === 'error') w!.reject(new Error(`server child: ${m.message}`));
    else w!.resolve(m);
  });
  const expect = <T extends FromChild['type']>(type: T, timeoutMs: number): Promise<Extract<FromChild, { type: T }>> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error('server child exited'));
      const timer = setTimeout(() => reject(new Error(`server child: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FromChild, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  const send = (m: ToChild): void => {
    if (!exited && child.connected) child.send(m);
  };
  const kill = (): void => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  };
  let ready: Extract<FromChild, { type: 'ready' }>;
  try {
    ready = await expect('ready', READY_TIMEOUT_MS);
  } catch (err) {
    kill();
    await exit;
    throw err;
  }
  let idle: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;
  return {
    host: ready.host,
    port: ready.port,
    pid: child.pid!,
    async busy(ms: number) {
      const started = expect('busy-start', REPLY_TIMEOUT_MS);
      idle = expect('busy-end', ms + REPLY_TIMEOUT_MS).catch(() => undefined);
      send({ type: 'busy', ms });
      await started;
    },
    async whenIdle() {
      await idle;
    },
    async stats() {
      const p = expect('stats', REPLY_TIMEOUT_MS);
      send({ type: 'stats' });
      const { type: _t, ...s } = await p;
      return s;
    },
    close() {
      closing ??= (async () => {
        send({ type: 'close' });
        const timer = setTimeout(kill, EXIT_TIMEOUT_MS);
        await exit;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

/** The child's side: start the server, answer the parent, exit when told or when the parent goes away. */
async function childMain(optionsJson: string): Promise<void> {
  const reply = (m: FromChild, cb?: () => void): void => {
    process.send?.(m, undefined, {}, cb);
  };
  let server: ImapServer;
  try {
    // The scale experiments open thousands of connections from loopback and hold them idle on purpose: the
    // server's per-address cap and login timeout (server/limits.ts) would measure themselves instead.
    const limits = { maxConnectionsPerIp: Infinity, loginTimeoutMs: Infinity };
    server = await startServer({ limits, ...(JSON.parse(optionsJson) as ChildServerOptions), host: '127.0.0.1' });
  } catch (err) {
    reply({ type: 'error', message: (err as Error).message }, () => process.exit(1));
    return;
  }
  const shutdown = (): void => {
    void server.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('disconnect', shutdown);
  process.on('message', (m: ToChild) => {
    if (m.type === 'busy') {
      // Start blocking only once the parent has been told: it starts its clients on that message, so every
      // connect arrives while this loop runs and no accept() can happen.
      reply({ type: 'busy-start' }, () => {
        const end = Date.now() + m.ms;
        while (Date.now() < end) {
          /* busy: the point is to hold the event loop */
        }
        reply({ type: 'busy-end' });
      });
    } else if (m.type === 'stats') {
      const s = server.stats;
      reply({
        type: 'stats', rss: process.memoryUsage.rss(), connections: s.connections, activeConnections: s.activeConnections,
        logins: s.logins, appended: s.appended,
      });
    } else if (m.type === 'close') shutdown();
  });
  reply({ type: 'ready', host: server.host, port: server.port });
}

function isEntry(): boolean {
  if (process.argv[2] !== '--mailmigrate-server-child' || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) void childMain(process.argv[3] ?? '{}');
