// What is found in mail trees and is not mail: OS clutter and the index/state files of mail programs. Such paths
// are 'skipped' with reason 'not-mail' (reported, never a failure), so a Thumbs.db or a zero-byte file does not
// make every run exit 2. Names come from the programs' documentation and real hand-overs: Dovecot (index files,
// dovecot-uidlist, dovecot-keywords), Courier (courierimapuiddb, courierimapkeywords/, maildirfolder), Thunderbird
// (.msf summaries, msgFilterRules.dat, popstate.dat), Apple Mail (Info.plist, table_of_contents), Windows/macOS.

const EXACT: ReadonlyMap<string, string> = new Map([
  ['thumbs.db', 'Windows thumbnail cache'],
  ['desktop.ini', 'Windows folder settings'],
  ['.ds_store', 'macOS Finder metadata'],
  ['.localized', 'macOS folder metadata'],
  ['dovecot-uidlist', 'Dovecot UID list'],
  ['dovecot-keywords', 'Dovecot keyword names'],
  ['dovecot-uidvalidity', 'Dovecot UIDVALIDITY file'],
  ['dovecot.mailbox.log', 'Dovecot mailbox log'],
  ['dovecot-acl', 'Dovecot ACL file'],
  ['dovecot-acl-list', 'Dovecot ACL list'],
  ['dovecot.sieve', 'Dovecot Sieve script'],
  ['courierimapuiddb', 'Courier UID database'],
  ['courierimapsubscribed', 'Courier subscription list'],
  ['courierimapacl', 'Courier ACL file'],
  ['courierimaphieracl', 'Courier ACL file'],
  ['courierpop3dsizelist', 'Courier POP3 size list'],
  ['courierimapkeywords', 'Courier keyword directory'],
  ['maildirfolder', 'Maildir++ folder marker'],
  ['maildirsize', 'Maildir++ quota file'],
  ['subscriptions', 'folder subscription list'],
  ['info.plist', 'Apple Mail bundle metadata'],
  ['table_of_contents', 'Apple Mail bundle index'],
  ['msgfilterrules.dat', 'Thunderbird filter rules'],
  ['popstate.dat', 'Thunderbird POP state'],
  ['filterlog.html', 'Thunderbird filter log'],
  ['.mh_sequences', 'MH sequences file'],
]);

const PATTERNS: readonly [RegExp, string][] = [
  [/^dovecot\.(list\.)?index/i, 'Dovecot index file'],
  [/^dovecot-uidvalidity\./i, 'Dovecot UIDVALIDITY file'],
  [/^dovecot\.(lda-dupes|svbin)/i, 'Dovecot state file'],
  [/\.msf$/i, 'Thunderbird summary file (.msf)'],
  [/\.(lock|lck)$/i, 'lock file'],
  [/^\._/, 'macOS AppleDouble metadata'],
  [/\.(sqlite|sqlite-wal|sqlite-shm|db-journal)$/i, 'database file'],
  [/^(readme|license|copying)(\.(txt|md))?$/i, 'documentation'],
  [/~$/, 'editor backup file'],
];

/** All patterns in one expression: the common case (a message name) costs one test, not one per pattern. */
const ANY_PATTERN = new RegExp(PATTERNS.map(([re]) => `(?:${re.source})`).join('|'), 'i');

/** Returns what the file is when its name says it is not mail, else undefined. Called once per message file. */
export function notMailName(name: string): string | undefined {
  const exact = EXACT.get(name.toLowerCase());
  if (exact) return exact;
  if (!ANY_PATTERN.test(name)) return undefined;
  for (const [re, what] of PATTERNS) if (re.test(name)) return what;
  return undefined;
}

/**
 * Mail in formats this tool does not read. Such files are failures, never 'not-mail': the admin must hear that
 * mail was left behind, and how to convert it.
 */
const UNSUPPORTED: readonly [RegExp, string][] = [
  [/\.emlx$/i, 'an Apple Mail library message (.emlx), which is not read: export the mailbox from Apple Mail (Mailbox > Export Mailbox) and import the .mbox bundle'],
  [/\.(pst|ost)$/i, 'an Outlook data file (.pst/.ost), which is not read: convert it to mbox or .eml first (readpst, from pst-utils)'],
  [/\.msg$/i, 'an Outlook message file (.msg), which is not read: convert it to .eml first (msgconvert, from libemail-outlook-message-perl)'],
  [/\.dbx$/i, 'an Outlook Express folder (.dbx), which is not read: convert it to mbox or .eml first'],
];

/** Returns why the file is mail this tool cannot read (with the way out), else undefined. */
export function unsupportedMailName(name: string): string | undefined {
  for (const [re, what] of UNSUPPORTED) if (re.test(name)) return what;
  return undefined;
}
