// The machine a bench:peers run measured on: CPUs, kernel, load, the versions of every client and server, and
// whether a directory is on a tmpfs (where the mail lives, see bench/peers.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { REPO_ROOT } from './clients.js';

/** Is `dir` on a tmpfs? (/proc/mounts: the longest mount point that is a prefix of dir.) */
export function isTmpfs(dir: string): boolean {
  try {
    let best = '';
    let type = '';
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mnt, fstype] = line.split(' ');
      if (mnt && fstype && (dir === mnt || dir.startsWith(mnt.endsWith('/') ? mnt : mnt + '/')) && mnt.length > best.length) {
        best = mnt;
        type = fstype;
      }
    }
    return type === 'tmpfs';
  } catch {
    return false;
  }
}

/** The first line a program prints for its version, or undefined when it is missing or fails. */
export function version(cmd: string, args: string[], pick: (s: string) => string = (s) => s.trim().split('\n')[0] ?? ''): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? pick(r.stdout + r.stderr) : undefined;
}

export function machine(): Record<string, unknown> {
  const gitRev = version('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    versions: {
      mailmigrate: gitRev,
      dovecot: version('dovecot', ['--version']),
      mbsync: version('mbsync', ['--version']),
      python: version('python3', ['--version']),
      mailImapClient: version('perl', ['-MMail::IMAPClient', '-e', 'print $Mail::IMAPClient::VERSION']),
      imapflow: version(process.execPath, ['-e', "console.log(require('imapflow/package.json').version)"]),
    },
  };
}
