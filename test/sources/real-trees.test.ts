// Source trees shaped like real hand-overs (issue 12), built by the tests themselves: every message must arrive in
// its expected folder with its flags and date, and every other path must be in a bucket with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SourceError } from '../../src/core/errors.js';
import { AmbiguousSourceError, openSource, type Source, type SourceFolder } from '../../src/sources/index.js';
import { appleMailExport, courierMaildir, mboxMsg, msg, outlookExport, thunderbirdProfile, writeTree } from '../helpers/real-trees.js';
import { drain, tempDir, text, type Drained } from './source-helpers.js';

/** "folder | subject | flags | deleted" per message, sorted: the whole outcome in one comparable list. */
function outcome(d: Drained): string[] {
  return d.messages
    .map((m) => {
      const subject = /Subject: (.*)\r\n/.exec(text(m))?.[1] ?? '?';
      return `${m.message.folder.join('/') || 'INBOX'} | ${subject} | ${m.message.flags.join(' ')}${m.message.deleted ? ' | deleted' : ''}`;
    })
    .sort();
}

function buckets(d: Drained, root: string): string[] {
  return [
    ...d.skipped.map((s) => `skipped ${s.reason} ${s.path.slice(root.length + 1)}`),
    ...d.errors.map((e) => `failed ${e.code} ${e.path.slice(root.length + 1)}`),
  ].sort();
}

async function folderList(source: Source): Promise<string[]> {
  const out: string[] = [];
  for await (const f of source.folders()) out.push(`${f.folder.join('/') || 'INBOX'}${f.subscribed === undefined ? '' : f.subscribed ? ' (subscribed)' : ' (not subscribed)'}`);
  return out.sort();
}

test('a home directory with Maildir/ (Maildir++) beside mail/ (mutt mbox files): every store in its natural place', async (t) => {
  const home = await tempDir(t);
  writeTree(home, {
    '.bashrc': 'export PATH=$PATH\n',
    'Maildir/cur/1700000000.M1P1.host:2,S': msg('inbox read'),
    'Maildir/new/1700000001.M2P2.host': msg('inbox new'),
    'Maildir/tmp/': '',
    'Maildir/.Sent/cur/1700000002.M3P3.host:2,S': msg('sent one'),
    'Maildir/.Sent/maildirfolder': '',
    'Maildir/.Archive.2019/cur/1700000003.M4P4.host:2,ST': msg('archived and trashed'),
    'Maildir/.Drafts/cur/': '',
    'Maildir/subscriptions': 'Sent\nArchive.2019\n',
    'Maildir/dovecot-uidlist': '3 V1 N1\n',
    'Maildir/dovecot.index.log': Buffer.from([0, 1, 2, 3]),
    'mail/sent-mail': mboxMsg('mutt sent') + mboxMsg('mutt sent 2', 'Tue Apr  2 10:00:00 2024'),
    'mail/postponed': mboxMsg('mutt draft', 'Mon Apr  1 10:00:00 2024', 'Status: RO\nX-Status: T\n'),
    'mail/lists/debian': mboxMsg('debian list', 'Mon Apr  1 10:00:00 2024', 'Status: RO\nX-Status: D\n'),
    'Documents/notes.txt': 'remember the milk\n',
  });
  const source = await openSource(home);
  assert.equal(source.format, 'mixed');
  const d = await drain(source);
  assert.deepEqual(outcome(d), [
    'Archive/2019 | archived and trashed | \\Seen | deleted',
    'INBOX | inbox new | ',
    'INBOX | inbox read | \\Seen',
    'Sent | sent one | \\Seen',
    'lists/debian | debian list | \\Seen | deleted',
    'postponed | mutt draft | \\Seen \\Draft',
    'sent-mail | mutt sent 2 | ',
    'sent-mail | mutt sent | ',
  ]);
  assert.deepEqual(buckets(d, home), [
    'skipped not-mail .bashrc',
    'skipped not-mail Documents/notes.txt',
    'skipped not-mail Maildir/.Sent/maildirfolder',
    'skipped not-mail Maildir/dovecot-uidlist',
    'skipped not-mail Maildir/dovecot.index.log',
    'skipped not-mail Maildir/subscriptions',
  ]);
  assert.deepEqual(source.stats, { yielded: 8, rejected: 0, skipped: 6, skippedBy: { 'not-mail': 6 } });
  // Empty folders are listed, with the Maildir++ subscription list applied.
  assert.deepEqual(await folderList(source), [
    'Archive/2019 (subscribed)',
    'Drafts (not subscribed)',
    'INBOX (subscribed)',
    'Sent (subscribed)',
    'lists',
    'lists/debian',
    'postponed',
    'sent-mail',
  ]);
});

test('a Thunderbird profile: Local Folders, .sbd children, .msf summaries, expunged-not-compacted messages', async (t) => {
  const profile = await tempDir(t);
  writeTree(profile, thunderbirdProfile());
  const source = await openSource(profile);
  assert.equal(source.format, 'mbox-dir');
  const d = await drain(source);
  assert.deepEqual(outcome(d), [
    'Archives/2019 | old | \\Seen $Forwarded $label1',
    'INBOX | expunged | \\Seen | deleted',
    'INBOX | kept | \\Seen',
    'Sent | sent | \\Seen \\Answered',
  ]);
  const dates = Object.fromEntries(d.messages.map((m) => [/Subject: (.*)\r\n/.exec(text(m))![1], `${m.message.internalDate?.toISOString()} ${m.message.internalDateSource}`]));
  assert.equal(dates['old'], '2019-04-04T13:00:00.000Z from-line');
  assert.equal(dates['expunged'], '2024-04-02T11:00:00.000Z from-line');
  assert.deepEqual(buckets(d, profile), [
    'skipped not-mail Mail/Local Folders/Archives',
    'skipped not-mail Mail/Local Folders/Archives.msf',
    'skipped not-mail Mail/Local Folders/Archives.sbd/2019.msf',
    'skipped not-mail Mail/Local Folders/Inbox.msf',
    'skipped not-mail Mail/Local Folders/Sent.msf',
    'skipped not-mail Mail/Local Folders/Trash',
    'skipped not-mail Mail/Local Folders/Trash.msf',
    'skipped not-mail Mail/Local Folders/msgFilterRules.dat',
    'skipped not-mail prefs.js',
    'skipped not-mail times.json',
  ]);
  assert.match(d.skipped.find((s) => s.path.endsWith('Trash'))!.detail, /empty mbox folder/);
  // Bookkeeping headers are not part of the message sent.
  assert.ok(d.messages.every((m) => !/X-Mozilla/i.test(text(m))));
  assert.deepEqual(await folderList(source), ['Archives', 'Archives/2019', 'INBOX', 'Sent', 'Trash']);
});

test('a mutt mbox directory given directly: every file is a folder, Status/X-Status flags and deletions kept', async (t) => {
  const dir = await tempDir(t);
  writeTree(dir, {
    'inbox': mboxMsg('in one', 'Mon Apr  1 10:00:00 2024', 'Status: RO\nX-Status: A\n') + mboxMsg('in gone', 'Mon Apr  1 11:00:00 2024', 'Status: RO\nX-Status: D\n'),
    'sent-mail': mboxMsg('out'),
    'old.mbox.gz': gzipSync(Buffer.from(mboxMsg('zipped'))),
    'backup.tar.gz': gzipSync(Buffer.from('not mail at all, a tarball\n')),
    '.muttrc': 'set folder=~/mail\n',
    '.mutt_cache.lock': '',
  });
  const d = await drain(await openSource(dir));
  assert.deepEqual(outcome(d), [
    'INBOX | in gone | \\Seen | deleted',
    'INBOX | in one | \\Seen \\Answered',
    'old | zipped | ',
    'sent-mail | out | ',
  ]);
  assert.deepEqual(buckets(d, dir), ['skipped not-mail .mutt_cache.lock', 'skipped not-mail .muttrc', 'skipped not-mail backup.tar.gz']);
});

test('an Outlook-style .eml export: Inbox/ fills INBOX (no collision), clutter is skipped, empty folders are listed', async (t) => {
  const root = await tempDir(t);
  writeTree(root, outlookExport());
  const source = await openSource(root);
  assert.equal(source.format, 'eml');
  const d = await drain(source);
  assert.deepEqual(outcome(d), ['Archive/2019 | archived d | ', 'INBOX | inbox a | ', 'INBOX | inbox b | ', 'Sent Items | sent c | ']);
  assert.deepEqual(buckets(d, root), [
    'skipped not-mail .DS_Store',
    'skipped not-mail Inbox/Thumbs.db',
    'skipped not-mail README.txt',
    'skipped not-mail Sent Items/desktop.ini',
    'skipped not-mail empty.eml',
  ]);
  // Nothing here is a failure: a run over this export must not exit 2.
  assert.equal(source.stats.rejected, 0);
  assert.deepEqual(await folderList(source), ['Archive', 'Archive/2019', 'Drafts', 'INBOX', 'Sent Items']);
});

test('an Apple Mail export: Name.mbox/mbox bundles, nested bundles, Info.plist and table_of_contents skipped', async (t) => {
  const root = await tempDir(t);
  writeTree(root, appleMailExport());
  const d = await drain(await openSource(root));
  assert.deepEqual(outcome(d), ['INBOX | apple inbox | \\Seen', 'Work | apple work | ', 'Work/Clients | apple clients | ']);
  assert.deepEqual(buckets(d, root), [
    'skipped not-mail Inbox.mbox/Info.plist',
    'skipped not-mail Inbox.mbox/table_of_contents',
    'skipped not-mail Work.mbox/Info.plist',
  ]);
  assert.equal(d.messages.find((m) => /apple inbox/.test(text(m)))!.message.internalDate?.toISOString(), '2024-03-01T09:00:00.000Z');
});

test('a Courier Maildir: courierimapkeywords/:list and update files, courierimapsubscribed, Courier state skipped', async (t) => {
  const md = await tempDir(t);
  writeTree(md, courierMaildir());
  const source = await openSource(md);
  assert.equal(source.format, 'maildir++');
  const d = await drain(source);
  assert.deepEqual(outcome(d), [
    'INBOX | courier new | ',
    'INBOX | courier one | \\Seen $Label1 Project',
    'INBOX | courier trashed | \\Seen Urgent | deleted',
    'Sent | courier sent | \\Answered \\Seen',
  ]);
  assert.deepEqual(buckets(d, md), [
    'skipped not-mail .Sent/courierimapuiddb',
    'skipped not-mail courierimapkeywords',
    'skipped not-mail courierimapsubscribed',
    'skipped not-mail courierimapuiddb',
    'skipped not-mail courierpop3dsizelist',
  ]);
  assert.deepEqual(await folderList(source), ['INBOX (subscribed)', 'Sent (subscribed)', 'Trash (not subscribed)']);
});

test('natural targets: one mbox file (a /var/mail spool) and one Maildir++ folder given directly both fill INBOX', async (t) => {
  const dir = await tempDir(t);
  writeTree(dir, {
    'var/mail/alice': mboxMsg('spool'),
    'Maildir/.Sent/cur/1700000000.M1P1.host:2,S': msg('sent via subfolder'),
    'Maildir/.Sent/maildirfolder': '',
    'Maildir/cur/': '',
  });
  const spool = await drain(await openSource(join(dir, 'var/mail/alice')));
  assert.deepEqual(outcome(spool), ['INBOX | spool | ']);
  const sent = await drain(await openSource(join(dir, 'Maildir/.Sent')));
  assert.deepEqual(outcome(sent), ['INBOX | sent via subfolder | \\Seen']);
});

test('two stores that would both fill INBOX are refused before anything is read, naming each with a command', async (t) => {
  const root = await tempDir(t);
  writeTree(root, {
    'alice/Maildir/cur/1700000000.M1P1.host:2,S': msg('alice'),
    'alice/Maildir/.Sent/cur/1700000001.M1P1.host:2,S': msg('alice sent'),
    'bob/Maildir/cur/1700000002.M1P1.host:2,S': msg('bob'),
  });
  await assert.rejects(openSource(root), (e: unknown) => {
    assert.ok(e instanceof AmbiguousSourceError && e instanceof SourceError);
    assert.equal(e.code, 'E_SOURCE_AMBIGUOUS');
    assert.deepEqual(e.stores.map((s) => [s.path.slice(root.length + 1), s.format, s.fillsInbox]), [
      ['alice/Maildir', 'maildir++', true],
      ['bob/Maildir', 'maildir', true],
    ]);
    assert.match(e.message, /mailmigrate import ".*alice\/Maildir"/);
    assert.match(e.message, /mailmigrate import ".*bob\/Maildir" --to "bob"/);
    return true;
  });
  // A forced format reads what it is told and is never ambiguous.
  const forced = await drain(await openSource(join(root, 'bob/Maildir'), { format: 'maildir' }));
  assert.deepEqual(outcome(forced), ['INBOX | bob | \\Seen']);
});

test('a directory with no mail at all is "no mail found", not an empty success', async (t) => {
  const root = await tempDir(t);
  writeTree(root, {
    'hosts': '127.0.0.1 localhost\n',
    'ssh/sshd_config': 'Port 22\n',
    'empty': '',
    // "Name: value" lines are not a message without a message field (From, Date, Subject, Message-ID, ...).
    'apt/sources.list.d/debian.sources': 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n',
    // Text that starts with "From " is not an mbox without a From_ line (sender and date).
    'doc/README.Debian': 'From the maintainer: read this first.\n',
  });
  await assert.rejects(openSource(root), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNKNOWN_FORMAT' && /no mail found/.test(e.message));
});

test('a Maildir copied without keeping times: the delivery time in the file name is used, and said once', async (t) => {
  const md = await tempDir(t);
  writeTree(md, {
    'cur/1500000000.M1P1.host:2,S': msg('copied one'),
    'cur/1500000100.M2P2.host:2,S': msg('copied two'),
    '.Sub/cur/1500000200.M3P3.host:2,': msg('copied three'),
    'cur/1700000000.M3P3.host:2,S': msg('kept time'),
  });
  // The last one was copied with its time kept (cp -p, rsync -t): its mtime stays the INTERNALDATE.
  const kept = new Date('2023-11-14T22:13:20Z');
  await utimes(join(md, 'cur/1700000000.M3P3.host:2,S'), kept, kept);
  const source = await openSource(md);
  const d = await drain(source);
  const got = Object.fromEntries(d.messages.map((m) => [/Subject: (.*)\r\n/.exec(text(m))![1], `${m.message.internalDate?.toISOString()} ${m.message.internalDateSource}`]));
  assert.deepEqual(got, {
    'copied one': '2017-07-14T02:40:00.000Z filename',
    'copied two': '2017-07-14T02:41:40.000Z filename',
    'copied three': '2017-07-14T02:43:20.000Z filename',
    'kept time': '2023-11-14T22:13:20.000Z mtime',
  });
  const notes = source.notes.filter((n) => /time from the name/.test(n));
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /^3 message\(s\) in 2 folder\(s\)/);
});

test('folders() lists the folders without reading a message, and items() can run after it', async (t) => {
  const root = await tempDir(t);
  writeTree(root, { 'Inbox/a.eml': msg('a'), 'Projects/Old/': '', 'Projects/x.eml': msg('x') });
  const source = await openSource(root);
  const folders: SourceFolder[] = [];
  for await (const f of source.folders()) folders.push(f);
  assert.deepEqual(folders.map((f) => f.folder.join('/')).sort(), ['', 'Projects', 'Projects/Old']);
  assert.equal(source.stats.yielded, 0);
  assert.equal((await drain(source)).messages.length, 2);
});

test('a Thunderbird profile with several accounts (Local Folders, a POP account, an IMAP cache) is refused as ambiguous', async (t) => {
  const profile = await tempDir(t);
  writeTree(profile, {
    'Mail/Local Folders/Inbox': mboxMsg('local'),
    'Mail/Local Folders/Inbox.msf': '// mork\n',
    'Mail/pop.example.com/Inbox': mboxMsg('pop'),
    'Mail/pop.example.com/Sent': mboxMsg('pop sent'),
    'ImapMail/imap.example.com/INBOX': mboxMsg('imap cache'),
  });
  await assert.rejects(openSource(profile), (e: unknown) => {
    assert.ok(e instanceof AmbiguousSourceError);
    assert.deepEqual(e.stores.map((s) => s.path.slice(profile.length + 1)).sort(), ['ImapMail/imap.example.com', 'Mail/Local Folders', 'Mail/pop.example.com']);
    assert.match(e.message, /3 stores found that would each fill INBOX/);
    return true;
  });
  // Each account on its own is fine: its Inbox is INBOX.
  const pop = await drain(await openSource(join(profile, 'Mail/pop.example.com')));
  assert.deepEqual(outcome(pop), ['INBOX | pop | ', 'Sent | pop sent | ']);
});

test('mail in formats that are not read (.pst, .emlx, .msg) is a failure that says how to convert it, never "not mail"', async (t) => {
  const root = await tempDir(t);
  writeTree(root, {
    'backup.pst': Buffer.from('!BDN....'),
    'Library/INBOX.mbox/Messages/1.emlx': `120\n${msg('emlx')}`,
    'saved.msg': Buffer.from([0xd0, 0xcf, 0x11, 0xe0]),
    'mail/inbox': mboxMsg('readable'),
  });
  const d = await drain(await openSource(root));
  assert.deepEqual(outcome(d), ['INBOX | readable | ']);
  assert.deepEqual(buckets(d, root), ['failed E_SOURCE_UNSUPPORTED Library/INBOX.mbox/Messages/1.emlx', 'failed E_SOURCE_UNSUPPORTED backup.pst', 'failed E_SOURCE_UNSUPPORTED saved.msg']);
  assert.match(d.errors.find((e) => e.path.endsWith('.pst'))!.message, /readpst/);
  assert.match(d.errors.find((e) => e.path.endsWith('.emlx'))!.message, /Export Mailbox/);
  // Nothing readable at all: the open itself fails with the reason, not "no mail found".
  const only = await tempDir(t);
  writeTree(only, { 'outlook.pst': Buffer.from('!BDN....') });
  await assert.rejects(openSource(only), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNSUPPORTED' && /readpst/.test(e.message));
  await assert.rejects(openSource(join(only, 'outlook.pst')), (e: unknown) => e instanceof SourceError && e.code === 'E_SOURCE_UNSUPPORTED');
});

test('a forced format over a mixed tree reads only its kind; the other mail is skipped as excluded, never lost silently', async (t) => {
  const root = await tempDir(t);
  writeTree(root, {
    'inbox.mbox': mboxMsg('mbox mail'),
    'Saved/a.eml': msg('eml mail'),
    'Thumbs.db': Buffer.from([1]),
  });
  const m = await drain(await openSource(root, { format: 'mbox-dir' }));
  assert.deepEqual(outcome(m), ['INBOX | mbox mail | ']);
  assert.deepEqual(buckets(m, root), ['skipped excluded Saved/a.eml', 'skipped not-mail Thumbs.db']);
  const e = await drain(await openSource(root, { format: 'eml' }));
  assert.deepEqual(outcome(e), ['Saved | eml mail | ']);
  assert.deepEqual(buckets(e, root), ['skipped excluded inbox.mbox', 'skipped not-mail Thumbs.db']);
});
