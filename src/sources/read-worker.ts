// Worker side of ReadPool (read-pool.ts): reads a message file, normalizes it and fingerprints it off the main
// thread, then hands the bytes back without copying (the ArrayBuffer is transferred).
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { SourceError } from '../core/errors.js';
import { normalizeMessage } from './normalize.js';
import { readRegularFileTimedSync } from './safe-read.js';

export interface ReadRequest {
  readonly id: number;
  readonly path: string;
  readonly origin: string;
  readonly maxBytes: number;
}

export type ReadResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly data: Uint8Array;
      readonly messageId: string | undefined;
      /** Where the header block ends (-1: none): the main thread parses the Date header from it only if asked. */
      readonly headerEnd: number;
      readonly mtimeMs: number;
      readonly hasNul: boolean;
      readonly warnings: readonly string[];
      readonly fingerprint: string;
    }
  | { readonly id: number; readonly ok: false; readonly path: string; readonly message: string; readonly code: string; readonly errno?: string };

parentPort?.on('message', (req: ReadRequest) => {
  let res: ReadResponse;
  const transfer: ArrayBuffer[] = [];
  try {
    const raw = readRegularFileTimedSync(req.path, req.maxBytes);
    const n = normalizeMessage(raw.data, req.origin);
    let data = n.data;
    // Transfer only a buffer that owns its whole ArrayBuffer (a pooled slice would hand over its neighbours).
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = Buffer.from(data);
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) transfer.push(data.buffer as ArrayBuffer);
    res = {
      id: req.id,
      ok: true,
      data,
      messageId: n.messageId,
      headerEnd: n.headerEnd,
      mtimeMs: raw.mtimeMs,
      hasNul: n.hasNul,
      warnings: n.warnings,
      fingerprint: createHash('sha256').update(data).digest('base64url').slice(0, 22),
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    res =
      err instanceof SourceError
        ? { id: req.id, ok: false, path: err.path, message: err.message.slice(err.path.length + 2), code: err.code }
        : { id: req.id, ok: false, path: req.path, message: e.message, code: 'E_SOURCE_UNREADABLE', ...(e.code ? { errno: e.code } : {}) };
  }
  parentPort!.postMessage(res, transfer);
});
