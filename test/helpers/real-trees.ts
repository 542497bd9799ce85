// Builds source trees shaped like real hand-overs (issue 12): the files, the messages in them, and the shapes that
// the source-level tests (test/sources/real-trees.test.ts) and the import tests on a server (test/cli, test/
// integration) both use, so the two views check the very same tree. Not a test file itself.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file's content, with an mtime when the test cares about it (Maildir INTERNALDATE comes from the mtime). */
export type Entry = string | Buffer | { content: string | Buffer; mtime: Date };

/** Writes files: relative path → content; a path ending with '/' is a directory. */
export function writeTree(root: string, files: Record<string, Entry>): void {
  for (const [rel, e] of Object.entries(files)) {
    const p = join(root, rel);
    if (rel.endsWith('/')) {
      mkdirSync(p, { recursive: true });
      continue;
    }
    mkdirSync(dirname(p), { recursive: true });
    const content = typeof e === 'string' || Buffer.isBuffer(e) ? e : e.content;
    writeFileSync(p, content);
    if (typeof e === 'object' && !Buffer.isBuffer(e)) utimesSync(p, e.mtime, e.mtime);
  }
}

export const DATE_HEADER = 'Mon, 1 Apr 2024 10:00:00 +0000';
/** A message whose Subject names it; `extra` adds header lines (each ending in \n). */
export const msg = (subject: string, extra = ''): string => `From: a@example.org\nSubject: ${subject}\nDate: ${DATE_HEADER}\nMessage-ID: <${subject.replace(/\W+/g, '.')}@test>\n${extra}\nbody of ${subject}\n`;
/** One mbox entry: the From_ line (asctime, UTC) and the message. */
export const mboxMsg = (subject: string, date = 'Mon Apr  1 10:00:00 2024', extra = ''): string => `From a@example.org ${date}\n${msg(subject, extra)}\n`;

/** `content`, with `mtime` when one is given. */
const at = (content: string, mtime: Date | undefined): Entry => (mtime ? { content, mtime } : content);

/**
 * A Thunderbird profile with one account: Local Folders with .sbd children and .msf summaries, an empty Trash and
 * Archives, and an Inbox holding one live and one expunged-but-not-compacted message (X-Mozilla-Status 0009).
 */
export function thunderbirdProfile(): Record<string, Entry> {
  const lf = 'Mail/Local Folders';
  return {
    'prefs.js': 'user_pref("mail.root", "x");\n',
    'times.json': '{}',
    [`${lf}/Inbox`]: mboxMsg('kept', 'Mon Apr  1 10:00:00 2024', 'X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\n') + mboxMsg('expunged', 'Tue Apr  2 11:00:00 2024', 'X-Mozilla-Status: 0009\n'),
    [`${lf}/Inbox.msf`]: '// <!-- <mdb:mork:z v="1.4"/> -->\n',
    [`${lf}/Sent`]: mboxMsg('sent', 'Wed Apr  3 12:00:00 2024', 'X-Mozilla-Status: 0003\n'),
    [`${lf}/Sent.msf`]: '// mork\n',
    [`${lf}/Trash`]: '',
    [`${lf}/Trash.msf`]: '// mork\n',
    [`${lf}/Archives`]: '',
    [`${lf}/Archives.msf`]: '// mork\n',
    [`${lf}/Archives.sbd/2019`]: mboxMsg('old', 'Thu Apr  4 13:00:00 2019', 'X-Mozilla-Status: 1001\nX-Mozilla-Keys: $label1\n'),
    [`${lf}/Archives.sbd/2019.msf`]: '// mork\n',
    [`${lf}/msgFilterRules.dat`]: 'version="9"\n',
  };
}

/** An Outlook-style .eml export: Inbox/ (which must fill INBOX), nested folders, an empty one, and Windows clutter. */
export function outlookExport(): Record<string, Entry> {
  return {
    'Inbox/a.eml': msg('inbox a'),
    'Inbox/b.EML': msg('inbox b'),
    'Inbox/Thumbs.db': Buffer.from([0xd0, 0xcf, 0x11, 0xe0]),
    'Sent Items/c.eml': msg('sent c'),
    'Sent Items/desktop.ini': '[.ShellClassInfo]\n',
    'Archive/2019/d.eml': msg('archived d'),
    'Drafts/': '',
    '.DS_Store': Buffer.from([0, 0, 0, 1]),
    'empty.eml': '',
    'README.txt': 'Exported by Outlook\n',
  };
}

/** An Apple Mail export: Name.mbox/mbox bundles, one nested in another, with Info.plist and table_of_contents. */
export function appleMailExport(): Record<string, Entry> {
  return {
    'Inbox.mbox/mbox': mboxMsg('apple inbox', 'Fri Mar  1 09:00:00 2024', 'Status: RO\n'),
    'Inbox.mbox/Info.plist': '<?xml version="1.0"?><plist/>\n',
    'Inbox.mbox/table_of_contents': Buffer.from([1, 2, 3]),
    'Work.mbox/mbox': mboxMsg('apple work', 'Sat Mar  2 09:00:00 2024'),
    'Work.mbox/Info.plist': '<plist/>\n',
    'Work.mbox/Clients.mbox/mbox': mboxMsg('apple clients', 'Sun Mar  3 09:00:00 2024'),
  };
}

/**
 * A Courier Maildir: keywords in courierimapkeywords/ (the :list file and a later update file), a trashed message,
 * courierimapsubscribed, and Courier's own state files. `kept`: the mtime of the messages a copy kept times for.
 */
export function courierMaildir(kept?: Date): Record<string, Entry> {
  return {
    'cur/1700000000.M1P1.mx,S=80:2,S': at(msg('courier one'), kept),
    'cur/1700000001.M2P2.mx,S=80:2,ST': msg('courier trashed'),
    'new/1700000002.M3P3.mx,S=80': at(msg('courier new'), kept),
    // :list: keyword names, an empty line, then "<name without :2,...>:<indexes>"; a later update file wins.
    'courierimapkeywords/:list': '$Label1\nProject\nbad keyword(\n\n1700000000.M1P1.mx,S=80:0 1 2\n1700000001.M2P2.mx,S=80:0\n',
    'courierimapkeywords/.5000000.1700000001.M2P2.mx,S=80': 'Urgent\n',
    'courierimapuiddb': '1 1700000000 3\n',
    'courierimapsubscribed': 'INBOX.Sent\n',
    'courierpop3dsizelist': '/1\n',
    '.Sent/cur/1700000003.M4P4.mx:2,RS': at(msg('courier sent'), kept),
    '.Sent/courierimapuiddb': '1 1 2\n',
    '.Trash/cur/': '',
  };
}
