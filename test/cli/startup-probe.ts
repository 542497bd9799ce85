import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// What `mailmigrate` loads before its first connect and its first byte on the wire (issue 14, docs/measurements.md
// "Start-up"). One probe for test/cli/start-up.test.ts (which code is loaded: the order the code guarantees) and
// scripts/startup-time.mjs (how much: files, bytes, bundled sources, Node built-ins).
//
// A preload given with `--import` registers a load hook (module.register) that appends each ES module's URL to a log
// before the module runs, wraps Module._resolveFilename for the CommonJS files require() finds, and appends a marker
// line when the process first opens a socket (FIRST-CONNECT) and first writes to one that is not stdout/stderr
// (FIRST-BYTE), the latter followed by the Node built-ins loaded by then (process.moduleLoadList). What precedes a
// marker was loaded before it. The hook slows loading: a probed run is never a timed one.

export const FIRST_CONNECT = 'FIRST-CONNECT';
export const FIRST_BYTE = 'FIRST-BYTE';
const BUILTINS = 'BUILTINS ';

/** Writes the preload into `dir`; returns the `--import` URL to start the child with and the log it writes. */
export function writeStartupProbe(dir: string): { importUrl: string; log: string } {
  const log = join(dir, 'loaded.txt');
  const hooks = join(dir, 'hooks.mjs');
  const L = JSON.stringify(log);
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(${L}, url + '\\n'); return next(url, context); }
`);
  writeFileSync(join(dir, 'register.mjs'), `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import net from 'node:net';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const Module = createRequire(import.meta.url)('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (...a) { const f = resolve.apply(this, a); if (f.startsWith('/')) appendFileSync(${L}, 'file://' + f + '\\n'); return f; };
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) { net.Socket.prototype.connect = connect; appendFileSync(${L}, '${FIRST_CONNECT}\\n'); return connect.apply(this, a); };
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (...a) {
  if (this !== process.stdout && this !== process.stderr) {
    net.Socket.prototype.write = write;
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    appendFileSync(${L}, '${FIRST_BYTE}\\n${BUILTINS}' + builtins.join(' ') + '\\n');
  }
  return write.apply(this, a);
};
`);
  return { importUrl: pathToFileURL(join(dir, 'register.mjs')).href, log };
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

export interface LoadedBefore {
  /** Files loaded (absolute paths, each once, in load order). */
  readonly files: string[];
  /** Their size on disk: what was read and compiled. */
  readonly bytes: number;
  /** The source modules in them: a bundle's chunks are looked up in its metafile; any other file is its own. */
  readonly sources: string[];
}

export interface StartupProbe {
  readonly beforeFirstConnect: LoadedBefore;
  readonly beforeFirstByte: LoadedBefore;
  /** Node built-in modules (internal ones included) loaded when the first byte was written. */
  readonly builtinsAtFirstByte: string[];
}

/** Reads the log a probed run wrote. `root`: the checkout whose dist/bundle.meta.json names the chunks' sources. */
export function readStartupProbe(log: string, root: string): StartupProbe {
  const lines = readFileSync(log, 'utf8').split('\n');
  if (!lines.includes(FIRST_CONNECT) || !lines.includes(FIRST_BYTE)) throw new Error(`the probed run never wrote to a socket (${log})`);
  const metaFile = join(root, 'dist', 'bundle.meta.json');
  const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as Metafile) : undefined;
  const before = (marker: string): LoadedBefore => {
    const files = [...new Set(lines.slice(0, lines.indexOf(marker)).filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u)))];
    const sources = files.flatMap((f) => {
      const out = meta?.outputs[relative(root, f)];
      return out ? Object.keys(out.inputs) : [f];
    });
    return { files, bytes: files.reduce((n, f) => n + statSync(f).size, 0), sources: [...new Set(sources)] };
  };
  const builtins = lines.find((l) => l.startsWith(BUILTINS));
  return { beforeFirstConnect: before(FIRST_CONNECT), beforeFirstByte: before(FIRST_BYTE), builtinsAtFirstByte: builtins?.slice(BUILTINS.length).split(' ') ?? [] };
}
