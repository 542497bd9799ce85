import { closeSync, writeSync } from 'node:fs';
import { createFileNoFollow, writeFileNoFollow } from '../../core/safe-file.js';

// JSON and NDJSON output files (--report, --trace). Both are created 0600: they name folders, Message-IDs and
// the account, which are private metadata (the same rule as the journal). Never a credential: the objects written
// here are built from settings and results that carry no password. Neither follows a symbolic link at the path
// (core/safe-file.ts): in a shared /tmp that once truncated and chmod'ed the link's target.

/** Writes `value` as pretty JSON to `path` (a new 0600 file renamed over any old one); `option` names it in errors. */
export function writeJsonFile(path: string, value: unknown, option = '--report'): void {
  writeFileNoFollow(path, `${JSON.stringify(value, null, 2)}\n`, { option });
}

/**
 * An NDJSON writer (one JSON object per line). Lines are buffered and written synchronously in chunks, so the
 * trace costs one syscall per ~64 KB rather than one per command, and a SIGINT path can flush it without awaiting.
 */
export class NdjsonWriter {
  readonly path: string;
  #fd: number | undefined;
  #buf: string[] = [];
  #bytes = 0;
  lines = 0;

  constructor(path: string, option = '--trace') {
    this.path = path;
    this.#fd = createFileNoFollow(path, { option });
  }

  write(value: unknown): void {
    if (this.#fd === undefined) return;
    const line = `${JSON.stringify(value)}\n`;
    this.#buf.push(line);
    this.#bytes += line.length;
    this.lines++;
    if (this.#bytes >= 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.#fd === undefined || this.#buf.length === 0) return;
    writeSync(this.#fd, this.#buf.join(''));
    this.#buf = [];
    this.#bytes = 0;
  }

  close(): void {
    if (this.#fd === undefined) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
