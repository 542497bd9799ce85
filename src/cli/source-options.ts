import { type Command, Option } from 'commander';
import { FolderRules } from '../migrate/folder-rules.js';
import type { SourceFormat, SourceOptions } from '../sources/index.js';

// The options that say which source folders go where and how the source is read. `import` and `verify` share them
// (verify must look exactly where import put the mail), so they are declared once, here.

export interface SourceCliOptions {
  folder?: string;
  to?: string;
  include: string[];
  exclude: string[];
  map: string[];
  mapFile?: string;
  format?: SourceFormat;
  followSymlinks?: boolean;
}

/** commander's reducer for a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--folder <prefix>', 'import under this folder ("A/B" for a nested one)')
    .option('--to <folder>', 'where the top level of the source goes (default INBOX), e.g. import ~/Maildir/.Sent --to Sent')
    .option('--include <glob>', 'only these source folders and their subfolders (repeatable; "*" one level, "**" any; case-insensitive)', collect, [])
    .option('--exclude <glob>', 'leave out these source folders and their subfolders (repeatable), e.g. --exclude Trash --exclude "Junk*"', collect, [])
    .option('--map <src=dst>', 'put source folder SRC (and below) into DST (repeatable), e.g. --map "Sent Items=Sent"', collect, [])
    .option('--map-file <file>', 'one "regex => target" rule per line, applied to source folder paths (first match wins)')
    .addOption(new Option('--format <format>', 'read the source as this format instead of detecting it').choices(['maildir', 'maildir++', 'mbox', 'mbox-dir', 'eml']))
    .option('--follow-symlinks', 'follow symbolic links that point outside the source tree (default: skipped and reported)');
}

export function folderRulesOf(o: SourceCliOptions): FolderRules {
  return new FolderRules({ include: o.include, exclude: o.exclude, map: o.map, mapFile: o.mapFile, to: o.to });
}

export function sourceOptionsOf(o: SourceCliOptions): Pick<SourceOptions, 'followSymlinks' | 'format'> {
  return { followSymlinks: o.followSymlinks === true, format: o.format };
}
