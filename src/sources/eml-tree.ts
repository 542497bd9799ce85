// A tree of .eml files (one RFC 5322 message per file): files at the root go to INBOX, sub-directories become
// folders, a top-level "Inbox" directory is INBOX too (Outlook-style exports). The walk is TreeSource's, reading
// message files only (eml-file.ts has the INTERNALDATE rules): mbox files are skipped as 'excluded' (the format
// was forced), clutter as 'not-mail'.
import { TreeSource } from './tree-source.js';
import type { SourceOptions } from './source.js';

export class EmlTreeSource extends TreeSource {
  constructor(root: string, options: SourceOptions = {}) {
    super(root, 'eml', { ...options, only: 'eml' });
  }
}
