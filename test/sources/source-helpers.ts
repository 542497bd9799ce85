// Shared by the source tests: copy a fixture to a temp dir (git keeps no mtimes), and drain a source.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NormalizedMessage, SourceMessage } from '../../src/core/types.js';
import { SourceError } from '../../src/core/errors.js';
import type { SkippedPath, Source } from '../../src/sources/index.js';

/** Repo root, from test/sources (tsx) or dist/test/sources (compiled): the nearest ancestor with fixtures/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dirname(dir) !== dir) {
    if (existsSync(join(dir, 'fixtures', 'README.md')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root (a directory with fixtures/ and package.json)');
}

export const FIXTURES = join(repoRoot(), 'fixtures');

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mm-sources-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Copies fixtures/<name> into a fresh temp dir and returns its path there. */
export async function copyFixture(t: { after: (fn: () => Promise<void>) => void }, name: string): Promise<string> {
  const dir = await tempDir(t);
  const dest = join(dir, name.split('/').pop()!);
  await cp(join(FIXTURES, name), dest, { recursive: true });
  return dest;
}

export interface Drained {
  readonly messages: { message: SourceMessage; normalized: NormalizedMessage }[];
  /** Yielded 'rejected' items. */
  readonly rejected: SourceError[];
  /** read() rejections. */
  readonly readErrors: SourceError[];
  /** Every error, scan or read, for "the error names the file and the reason" checks. */
  readonly errors: SourceError[];
  /** Yielded 'skipped' items. */
  readonly skipped: SkippedPath[];
}

export async function drain(source: Source): Promise<Drained> {
  const messages: Drained['messages'] = [];
  const rejected: SourceError[] = [];
  const readErrors: SourceError[] = [];
  const skippedPaths: SkippedPath[] = [];
  for await (const item of source.items()) {
    if (item.kind === 'skipped') {
      skippedPaths.push({ path: item.path, reason: item.reason, detail: item.detail });
      continue;
    }
    if (item.kind === 'rejected') {
      rejected.push(item.error);
      continue;
    }
    try {
      messages.push({ message: item.message, normalized: await item.message.read() });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      readErrors.push(err);
    }
  }
  messages.sort((a, b) => (a.message.id < b.message.id ? -1 : 1));
  return { messages, rejected, readErrors, errors: [...rejected, ...readErrors], skipped: skippedPaths };
}

export function bySubject(d: Drained, subject: string): { message: SourceMessage; normalized: NormalizedMessage } {
  const hit = d.messages.find((m) => m.normalized.data.toString('utf8').includes(`\r\nSubject: ${subject}\r\n`) || m.normalized.data.toString('utf8').startsWith(`Subject: ${subject}\r\n`));
  if (!hit) throw new Error(`no message with subject ${JSON.stringify(subject)}`);
  return hit;
}

export function text(m: { normalized: NormalizedMessage }): string {
  return m.normalized.data.toString('utf8');
}
