// One entry point, openSource(path), that looks at what is on disk (discover.ts) or takes the format it is told.
import { ConfigError, SourceError } from '../core/errors.js';
import { discover } from './discover.js';
import { EmlTreeSource } from './eml-tree.js';
import { MaildirSource } from './maildir.js';
import { MboxSource } from './mbox-tree.js';
import { SourceCodes, type Source, type SourceFormat, type SourceOptions } from './source.js';

/** The formats a user may force ('mixed' is what discovery reports for a tree of several kinds). */
const FORMATS: readonly SourceFormat[] = ['maildir', 'maildir++', 'mbox', 'mbox-dir', 'eml'];

/** The format discovery finds, or undefined when the path holds no mail. Throws like openSource otherwise. */
export async function detectFormat(path: string): Promise<SourceFormat | undefined> {
  try {
    return (await discover(path)).format;
  } catch (err) {
    if (err instanceof SourceError && err.code === SourceCodes.UNKNOWN_FORMAT) return undefined;
    throw err;
  }
}

/** Opens a mail source: discovery (discover.ts) unless `options.format` says what it is. */
export async function openSource(path: string, options: SourceOptions = {}): Promise<Source> {
  const format = options.format;
  if (format !== undefined && !FORMATS.includes(format)) {
    throw new ConfigError('format', `unknown source format "${String(format)}" (expected ${FORMATS.join(', ')})`);
  }
  switch (format) {
    case undefined:
      return discover(path, options);
    case 'maildir':
    case 'maildir++':
      return new MaildirSource(path, format, options);
    case 'mbox':
    case 'mbox-dir':
      return new MboxSource(path, format, options);
    case 'eml':
      return new EmlTreeSource(path, options);
    default:
      throw new ConfigError('format', `unknown source format "${String(format)}"`);
  }
}
