// Whether the memory benches have room for their trees: statfs for the space and, on a tmpfs (whose pages are memory),
// MemAvailable with 2 GB kept for everything else on the machine.
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { isTmpfs } from '../peers/machine.js';

function memAvailableBytes(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function roomFor(dir: string, need: number): Promise<string | undefined> {
  const st = await statfs(dir);
  const free = st.bavail * st.bsize;
  if (free < need) return `${dir} has ${(free / 1e9).toFixed(1)} GB free, the run needs ~${(need / 1e9).toFixed(1)} GB`;
  if (isTmpfs(dir)) {
    // tmpfs pages are memory: keep 2 GB for everything else on the machine.
    const avail = memAvailableBytes();
    if (avail - need < 2e9) return `${dir} is a tmpfs and ${(avail / 1e9).toFixed(1)} GB of memory is available; the run needs ~${(need / 1e9).toFixed(1)} GB + 2 GB spare`;
  }
  return undefined;
}
