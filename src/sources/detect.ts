// Format detection: one entry point, openSource(path), that looks at what is on disk and picks a reader.
import { open, stat } from 'node:fs/promises';

import { ConfigError, SourceError } from '../core/errors.js';
import { listDir } from './fs-walk.js';
import { EmlTreeSource } from './eml-tree.js';
import { isMaildir, MaildirSource } from './maildir.js';
import { isMboxSidecar, MboxSource } from './mbox-tree.js';
import { SourceCodes, type Source, type SourceFormat, type SourceOptions } from './source.js';

const FORMATS: readonly SourceFormat[] = ['maildir', 'maildir++', 'mbox', 'mbox-dir', 'eml'];

async function head(path: string, n = 5): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** An mbox file starts with "From " (or is gzip-compressed: 1f 8b). */
export async function looksLikeMbox(path: string): Promise<boolean> {
  try {
    const b = await head(path);
    return (b[0] === 0x1f && b[1] === 0x8b) || b.toString('latin1') === 'From ';
  } catch {
    return false;
  }
}

/**
 * Detects the format of a directory: a Maildir at the root (with ".Folder" Maildir++ sub-folders or not), else
 * the first kind of evidence met walking at most 3 levels and 2,000 entries: a nested Maildir, .eml files, mbox files.
 */
export async function detectFormat(path: string): Promise<SourceFormat | undefined> {
  const st = await stat(path);
  if (st.isFile()) {
    if (/\.eml$/i.test(path)) return 'eml';
    return (await looksLikeMbox(path)) ? 'mbox' : undefined;
  }
  if (!st.isDirectory()) return undefined;
  if (await isMaildir(path)) {
    for (const e of await listDir(path)) if (e.name.startsWith('.') && e.name.length > 1 && e.name !== '..' && (await isMaildir(e.path))) return 'maildir++';
    return 'maildir';
  }
  let level = [path];
  let budget = 2000;
  let sawEml = false;
  let sawMbox = false;
  for (let depth = 0; depth < 3 && level.length && budget > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = await listDir(dir);
      } catch {
        continue;
      }
      for (const e of entries) {
        if (--budget < 0) break;
        if (e.name.startsWith('.')) {
          if (depth === 0 && (await isMaildir(e.path))) return 'maildir++';
          continue;
        }
        let es;
        try {
          es = await stat(e.path);
        } catch {
          continue;
        }
        if (es.isDirectory()) {
          if (await isMaildir(e.path)) return 'maildir';
          next.push(e.path);
        } else if (/\.eml$/i.test(e.name)) sawEml = true;
        else if (!sawMbox && es.isFile() && !isMboxSidecar(e.name) && (await looksLikeMbox(e.path))) sawMbox = true;
      }
    }
    if (sawEml) return 'eml';
    if (sawMbox) return 'mbox-dir';
    level = next;
  }
  return undefined;
}

/** Opens a mail source, detecting its format unless `options.format` says it. */
export async function openSource(path: string, options: SourceOptions = {}): Promise<Source> {
  if (options.format !== undefined && !FORMATS.includes(options.format)) {
    throw new ConfigError('format', `unknown source format "${String(options.format)}" (expected ${FORMATS.join(', ')})`);
  }
  let format = options.format;
  if (format === undefined) {
    try {
      format = await detectFormat(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code === 'ENOENT') throw new SourceError(path, 'no such file or directory', SourceCodes.NOT_FOUND, { cause: err });
      throw new SourceError(path, `cannot inspect: ${e?.message ?? String(err)}`, SourceCodes.UNREADABLE, { cause: err });
    }
    if (format === undefined) {
      throw new SourceError(path, 'not a recognised mail source (no Maildir cur/new, no .eml files, no mbox starting with "From ")', SourceCodes.UNKNOWN_FORMAT);
    }
  }
  switch (format) {
    case 'maildir':
    case 'maildir++':
      return new MaildirSource(path, format, options);
    case 'mbox':
    case 'mbox-dir':
      return new MboxSource(path, format, options);
    case 'eml':
      return new EmlTreeSource(path, options);
  }
}

