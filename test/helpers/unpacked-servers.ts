// Where .ci/install-servers unpacked the servers whose Debian packages conflict with the installed Dovecot
// (.cache/servers/<name>, or $MAILMIGRATE_SERVERS_DIR/<name>), and whether that tree is complete.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, '.ci'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (.ci/) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface UnpackedServer {
  /** root of the extracted packages (contains usr/, etc/, lib/) */
  dir: string;
  /** "<package> <version>" from the stamp, e.g. "cyrus-imapd 3.6.1-4+deb12u5" */
  version: string;
  /** LD_LIBRARY_PATH value that puts the tree's libraries first */
  libraryPath: string;
}

export function serversDir(): string {
  return process.env.MAILMIGRATE_SERVERS_DIR ?? join(repoRoot(), '.cache', 'servers');
}

/** The unpacked tree, or a sentence saying why it cannot be used (the test's skip reason). */
export function unpackedServer(name: 'cyrus' | 'courier', needed: string[]): UnpackedServer | string {
  if (process.platform !== 'linux') return `private ${name} tests need Linux (this is ${process.platform})`;
  const dir = join(serversDir(), name);
  const stamp = join(dir, '.installed');
  if (!existsSync(stamp)) return `${name} is not unpacked in ${dir} (run .ci/install-servers as root: apt-get download + dpkg -x)`;
  for (const f of needed) if (!existsSync(join(dir, f))) return `${join(dir, f)} is missing (re-run .ci/install-servers --force)`;
  const version = readFileSync(stamp, 'utf8').split('\n')[0] ?? name;
  const libraryPath = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu', 'usr/lib'].map((d) => join(dir, d)).join(':');
  return { dir, version, libraryPath };
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
