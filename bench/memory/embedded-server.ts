// The embedded server of the memory benches (`mailmigrate serve --maildir`), in a process of its own so the client's
// RSS and CPU are measured alone. Stopped by its pid (SIGTERM, then SIGKILL after 5 s).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from '../../test/helpers/dovecot.js';

export interface Account {
  port: number;
  user: string;
  password: string;
}

export async function startEmbedded(cli: string, maildir: string): Promise<Account & { stop: () => Promise<void> }> {
  const port = await freePort();
  const password = 'bench-' + Math.random().toString(36).slice(2);
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--maildir', maildir, '--user', 'bench', '--nodelay'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', MAILMIGRATE_PASSWORD: password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`mailmigrate serve did not listen on ${port}: ${stderr.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    user: 'bench',
    password,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}
