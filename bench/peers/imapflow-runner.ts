// Peer client for `npm run bench:peers`: imapflow's append(), as a Node script would use it.
//
//     node dist/bench/peers/imapflow-runner.js HOST PORT USER MAILDIR CONNECTIONS   (password in MM_BENCH_PASSWORD)
//
// CONNECTIONS ImapFlow clients each take the next file from one shared list and await client.append('INBOX',
// data) — imapflow keeps one command in flight per connection (docs/measurements.md), so more clients is the only way it goes
// parallel. Library defaults otherwise (no TCP_NODELAY, LITERAL+ only up to 4 KiB), logging off. Prints one JSON
// line {"appended", "bytes", "seconds"}, from the first connect to the last logout.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';

async function listMaildir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    out.push(...names.filter((n) => !n.startsWith('.')).sort().map((n) => join(dir, sub, n)));
  }
  return out;
}

async function main(): Promise<void> {
  const [host, portText, user, maildir, connText] = process.argv.slice(2);
  if (!host || !portText || !user || !maildir) throw new Error('usage: imapflow-runner HOST PORT USER MAILDIR [CONNECTIONS]');
  const password = process.env['MM_BENCH_PASSWORD'];
  if (!password) throw new Error('MM_BENCH_PASSWORD is not set');
  const connections = Math.max(1, Number(connText ?? 1));
  const files = await listMaildir(maildir);
  let next = 0;
  let appended = 0;
  let bytes = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    const client = new ImapFlow({ host, port: Number(portText), secure: false, auth: { user, pass: password }, logger: false });
    client.on('error', () => undefined);
    await client.connect();
    try {
      while (next < files.length) {
        const data = await readFile(files[next++]!);
        const res = await client.append('INBOX', data);
        if (!res) throw new Error('APPEND refused');
        appended++;
        bytes += data.length;
      }
    } finally {
      await client.logout().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  process.stdout.write(JSON.stringify({ appended, bytes, seconds: (performance.now() - t0) / 1000 }) + '\n');
}

main().catch((err: unknown) => {
  process.stdout.write(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n');
  process.exitCode = 1;
});
