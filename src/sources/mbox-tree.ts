// An mbox source: one mbox file (its messages go to INBOX; `--to` retargets them) or a directory of them (a folder
// tree: sub-directories are folder levels; Thunderbird's "Name.sbd/" holds the children of the mbox file "Name";
// Apple Mail's "Name.mbox/mbox" is the folder "Name"). The walk is TreeSource's, reading mbox files only: other
// message files are skipped as 'excluded' (the format was forced), clutter as 'not-mail'.
import { TreeSource } from './tree-source.js';
import type { SourceOptions } from './source.js';

export { mboxFolderName } from './mbox.js';

export class MboxSource extends TreeSource {
  constructor(root: string, format: 'mbox' | 'mbox-dir', options: SourceOptions = {}) {
    super(root, format, { ...options, only: 'mbox' });
  }
}
