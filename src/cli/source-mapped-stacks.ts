import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Stack traces of the bundled CLI name the TypeScript sources (src/…/file.ts:line), not chunk-XXXX.js:40321.
//
// Why not Node's own source-map support (--enable-source-maps, process.setSourceMapsEnabled): it reads and
// parses every module's map, and measures every line of its source, when the module is loaded — measured here
// ~130 ms CPU at every start of `mailmigrate import` (docs/measurements.md "Start-up"), nearly as much as the rest
// of its start-up. Stacks are rare, so this pays when one is formatted: V8 calls Error.prepareStackTrace the first
// time an error's `stack` is read, and only then is the map of a file named in it read (once per file).
//
// Only files under `root` (the bundle's directory) are mapped; a frame elsewhere (node:internal, a dependency
// outside the bundle) is printed as V8 would. Each map is read once; a file without one is printed as is.

/** A frame's location as V8 prints it: "file:///…/chunk-X.js:12:5" or "/…/chunk-X.js:12:5". */
const LOCATION = /((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)/;

export interface MappedLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Maps generated locations to sources with the .map files beside the generated files under `root`. */
export class SourceLocator {
  readonly #root: string;
  readonly #maps = new Map<string, { map: SourceMap; url: URL } | null>();

  constructor(root: string) {
    this.#root = root.endsWith('/') ? root : `${root}/`;
  }

  /** The source location of a 1-based line and column in a generated file, or undefined when there is none. */
  locate(file: string, line: number, column: number): MappedLocation | undefined {
    const path = file.startsWith('file://') ? fileURLToPath(file) : file;
    if (!path.startsWith(this.#root)) return undefined;
    let entry = this.#maps.get(path);
    if (entry === undefined) {
      entry = null;
      try {
        const payload = JSON.parse(readFileSync(`${path}.map`, 'utf8')) as SourceMapPayload;
        entry = { map: new SourceMap(payload), url: pathToFileURL(`${path}.map`) };
      } catch {
        // no map (or an unreadable one): the frame is printed as generated
      }
      this.#maps.set(path, entry);
    }
    if (!entry) return undefined;
    const found = entry.map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (found.originalSource === undefined || found.originalLine === undefined || found.originalColumn === undefined) return undefined;
    // `sources` in the map are relative to the map file (esbuild writes "../../src/cli/main.ts").
    const source = new URL(found.originalSource, entry.url);
    const mapped = source.protocol === 'file:' ? fileURLToPath(source) : source.href;
    // A merged file (scripts/merge-chunks.mjs) maps the import statements of the one-line facades and entry chunks it
    // took in to those generated files: no better than the location as it is.
    if (mapped.startsWith(this.#root)) return undefined;
    return { file: mapped, line: found.originalLine + 1, column: found.originalColumn + 1 };
  }

  /** One printed frame ("fn (file:line:col)") with its location mapped when it can be. */
  mapFrame(frame: string): string {
    return frame.replace(LOCATION, (whole: string, file: string, line: string, column: string) => {
      const m = this.locate(file, Number(line), Number(column));
      return m ? `${m.file}:${m.line}:${m.column}` : whole;
    });
  }
}

/** Formats every error's stack with source locations for files under `root` (see the header). */
export function installSourceMappedStacks(root: string): void {
  const locator = new SourceLocator(root);
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): string => {
    let head: string;
    try {
      head = Error.prototype.toString.call(error);
    } catch {
      head = '<error>';
    }
    const lines = frames.map((f) => {
      let text: string;
      try {
        text = locator.mapFrame(String(f));
      } catch {
        text = String(f); // a broken map must never hide the error itself
      }
      return `\n    at ${text}`;
    });
    return head + lines.join('');
  };
}
