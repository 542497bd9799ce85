import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs the built binary (bin/mailmigrate.js → the bundle, dist/bundle/main.js) as a child process, as a user would.

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'mailmigrate.js'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root');
}

export const ROOT = repoRoot();
export const BIN = join(ROOT, 'bin', 'mailmigrate.js');
export const FIXTURES = join(ROOT, 'fixtures');

/** Why CLI tests cannot run here, or undefined. */
export function binarySkipReason(): string | undefined {
  return existsSync(join(ROOT, 'dist', 'bundle', 'main.js')) ? undefined : 'not built (run `npm run build` first)';
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<RunResult> {
  const { child, done } = startCli(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}
