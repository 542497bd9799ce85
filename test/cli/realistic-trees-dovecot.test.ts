// Source trees shaped like real hand-overs (issue 12, "Must show"), imported through the built CLI into a private
// Dovecot and read back: every message in its expected folder exactly once, with its flags and INTERNALDATE; every
// other path of the tree in the JSON report with its bucket and reason; the dry run's exit code and per-folder plan
// on the same tree, with nothing sent. The source-level view of the same shapes is test/sources/real-trees.test.ts;
// this file checks what an admin sees on the server. One Dovecot for the file, emptied before each tree.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { binarySkipReason, runCli } from './cli-helpers.js';
import {
  appleMailExport, courierMaildir, mboxMsg, msg, outlookExport, thunderbirdProfile, writeTree, type Entry,
} from '../helpers/real-trees.js';
import { folderPlan, readServer, skippedPaths } from './tree-helpers.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# realistic trees on Dovecot skipped: ${skip}`);

/** The Date: header of every built message, as INTERNALDATE (the .eml rule). */
const HEADER_DATE = '2024-04-01T10:00:00.000Z';
/** The delivery time in the Maildir unique names below (1700000000 s). */
const NAME_DATE = '2023-11-14T22:13:20.000Z';
/** An mtime within a day of the name's time: a copy that kept times, so the mtime is the date. */
const KEPT = new Date('2023-11-15T08:00:00Z');
const sorted = (a: string[]): string[] => [...a].sort();

describe('realistic source trees imported into a private Dovecot and read back', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  let n = 0;
  const conn = (): string[] => ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain'];
  const env = (): Record<string, string> => ({ MAILMIGRATE_PASSWORD: d.password });

  before(async () => {
    d = await startDovecot();
    work = mkdtempSync(join(tmpdir(), 'mm-trees-'));
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh tree under the work dir. */
  function build(name: string, files: Record<string, Entry>): string {
    const root = join(work, name);
    writeTree(root, files);
    return root;
  }

  /**
   * Empties the account, runs the dry run (exit code and plan checked by the caller; nothing may reach the server),
   * then the import; returns both reports and the server read back.
   */
  async function importBoth(source: string, extra: string[] = []) {
    await d.emptyAccount();
    const dryReport = join(work, `dry-${n++}.json`);
    const dry = await runCli(['import', source, ...extra, ...conn(), '--dry-run', '--report', dryReport], env(), 60_000);
    const afterDry = await readServer(d);
    assert.deepEqual(afterDry.folders, { INBOX: 0 }, 'the dry run created and appended nothing');
    const report = join(work, `run-${n++}.json`);
    const run = await runCli(['import', source, ...extra, ...conn(), '--journal', join(work, `j-${n++}.jsonl`), '--report', report], env(), 90_000);
    return {
      dry,
      dryReport: JSON.parse(readFileSync(dryReport, 'utf8')),
      run,
      report: JSON.parse(readFileSync(report, 'utf8')),
      server: await readServer(d),
    };
  }

  test('a home directory with Maildir/ (Maildir++) beside mail/ (mutt mbox files): every store lands in its natural place', async () => {
    const home = build('home', {
      '.bashrc': 'export PATH=$PATH\n',
      'Maildir/cur/1700000000.M1P1.host:2,S': { content: msg('inbox read'), mtime: KEPT },
      'Maildir/new/1700000001.M2P2.host': msg('inbox new'),
      'Maildir/tmp/': '',
      'Maildir/.Sent/cur/1700000002.M3P3.host:2,S': msg('sent one'),
      'Maildir/.Sent/maildirfolder': '',
      'Maildir/.Archive.2019/cur/1700000003.M4P4.host:2,S': msg('archived'),
      'Maildir/.Archive.2019/cur/1700000004.M5P5.host:2,ST': msg('archived and trashed'),
      'Maildir/.Drafts/cur/': '',
      'Maildir/subscriptions': 'Sent\nArchive.2019\n',
      'Maildir/dovecot-uidlist': '3 V1 N1\n',
      'Maildir/dovecot.index.log': Buffer.from([0, 1, 2, 3]),
      'mail/sent-mail': mboxMsg('mutt sent') + mboxMsg('mutt sent 2', 'Tue Apr  2 10:00:00 2024'),
      'mail/postponed': mboxMsg('mutt draft', 'Wed Apr  3 10:00:00 2024', 'Status: RO\nX-Status: T\n'),
      'mail/lists/debian': mboxMsg('debian list', 'Thu Apr  4 10:00:00 2024', 'Status: RO\n') + mboxMsg('debian gone', 'Thu Apr  4 11:00:00 2024', 'Status: RO\nX-Status: D\n'),
      'Documents/notes.txt': 'remember the milk\n',
    });
    const { dry, dryReport, run, report, server } = await importBoth(home);

    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = [
      'Archive/2019 (new): messages=2 appended=1 deleted=1',
      'Drafts (new):',
      'INBOX: messages=2 appended=2',
      'Sent (new): messages=1 appended=1',
      'lists (new):',
      'lists/debian (new): messages=2 appended=1 deleted=1',
      'postponed (new): messages=1 appended=1',
      'sent-mail (new): messages=2 appended=2',
    ];
    assert.deepEqual(folderPlan(dryReport), plan);

    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(folderPlan(report), plan, 'the import did what the dry run said');
    assert.deepEqual(server.folders, { INBOX: 2, Sent: 1, Drafts: 0, 'Archive/2019': 1, Archive: 0, lists: 0, 'lists/debian': 1, postponed: 1, 'sent-mail': 2 });
    assert.deepEqual(server.messages, sorted([
      `Archive/2019 | archived | \\seen | ${NAME_DATE.replace(':20.', ':23.')}`,
      `INBOX | inbox new | - | ${NAME_DATE.replace(':20.', ':21.')}`,
      `INBOX | inbox read | \\seen | ${KEPT.toISOString()}`,
      `Sent | sent one | \\seen | ${NAME_DATE.replace(':20.', ':22.')}`,
      'lists/debian | debian list | \\seen | 2024-04-04T10:00:00.000Z',
      'postponed | mutt draft | \\draft \\seen | 2024-04-03T10:00:00.000Z',
      'sent-mail | mutt sent | - | 2024-04-01T10:00:00.000Z',
      'sent-mail | mutt sent 2 | - | 2024-04-02T10:00:00.000Z',
    ]));
    assert.deepEqual(skippedPaths(report, home), [
      'not-mail .bashrc',
      'not-mail Documents/notes.txt',
      'not-mail Maildir/.Sent/maildirfolder',
      'not-mail Maildir/dovecot-uidlist',
      'not-mail Maildir/dovecot.index.log',
      'not-mail Maildir/subscriptions',
    ]);
    assert.deepEqual(report.skippedBy, { journal: 0, checked: 0, deleted: 2, excluded: 0, foldersOnly: 0 });
    assert.deepEqual(report.failures, []);
    // Files copied without their times: the name's time was used, and the report says so once.
    assert.equal(report.sourceNotes.filter((s: string) => /4 message\(s\) .* delivery time in their name/.test(s)).length, 1, report.sourceNotes.join('\n'));
    // The Maildir++ subscription list is honoured: Drafts is created but not subscribed.
    const subscribed = (await d.doveadm(['mailbox', 'list', '-u', d.user, '-s'])).split('\n').map((l) => l.trim()).filter(Boolean);
    assert.ok(subscribed.includes('Sent') && subscribed.includes('Archive/2019') && !subscribed.includes('Drafts'), subscribed.join(', '));
  });

  test('a Thunderbird profile (Local Folders, .sbd, .msf, an expunged-not-compacted message): only live mail arrives', async () => {
    const profile = build('thunderbird', thunderbirdProfile());
    const { dry, dryReport, run, report, server } = await importBoth(profile);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = ['Archives (new):', 'Archives/2019 (new): messages=1 appended=1', 'INBOX: messages=2 appended=1 deleted=1', 'Sent (new): messages=1 appended=1', 'Trash (new):'];
    assert.deepEqual(folderPlan(dryReport), plan);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(folderPlan(report), plan);
    assert.deepEqual(server.folders, { INBOX: 1, Sent: 1, Trash: 0, Archives: 0, 'Archives/2019': 1 });
    assert.deepEqual(server.messages, sorted([
      'Archives/2019 | old | $forwarded $label1 \\seen | 2019-04-04T13:00:00.000Z',
      'INBOX | kept | \\seen | 2024-04-01T10:00:00.000Z',
      'Sent | sent | \\answered \\seen | 2024-04-03T12:00:00.000Z',
    ]));
    assert.deepEqual(skippedPaths(report, profile), [
      'not-mail Mail/Local Folders/Archives',
      'not-mail Mail/Local Folders/Archives.msf',
      'not-mail Mail/Local Folders/Archives.sbd/2019.msf',
      'not-mail Mail/Local Folders/Inbox.msf',
      'not-mail Mail/Local Folders/Sent.msf',
      'not-mail Mail/Local Folders/Trash',
      'not-mail Mail/Local Folders/Trash.msf',
      'not-mail Mail/Local Folders/msgFilterRules.dat',
      'not-mail prefs.js',
      'not-mail times.json',
    ]);
    assert.equal(report.skippedBy.deleted, 1, 'the expunged-not-compacted message is counted as deleted in the source');
  });

  test('a mutt mbox directory (inbox, sent-mail, postponed, a .gz folder) given directly: flags from Status/X-Status', async () => {
    const dir = build('mutt', {
      'inbox': mboxMsg('in one', 'Mon Apr  1 10:00:00 2024', 'Status: RO\nX-Status: A\n') + mboxMsg('in gone', 'Mon Apr  1 11:00:00 2024', 'Status: RO\nX-Status: D\n'),
      'sent-mail': mboxMsg('out', 'Tue Apr  2 09:30:00 2024'),
      'postponed': mboxMsg('half written', 'Wed Apr  3 09:30:00 2024', 'Status: O\n'),
      'old.mbox.gz': gzipSync(Buffer.from(mboxMsg('zipped', 'Sat Jan  5 08:00:00 2019'))),
      'backup.tar.gz': gzipSync(Buffer.from('not mail at all, a tarball\n')),
      '.muttrc': 'set folder=~/mail\n',
      '.mutt_cache.lock': '',
    });
    const { dry, dryReport, run, report, server } = await importBoth(dir);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = ['INBOX: messages=2 appended=1 deleted=1', 'old (new): messages=1 appended=1', 'postponed (new): messages=1 appended=1', 'sent-mail (new): messages=1 appended=1'];
    assert.deepEqual(folderPlan(dryReport), plan);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(folderPlan(report), plan);
    assert.deepEqual(server.messages, sorted([
      'INBOX | in one | \\answered \\seen | 2024-04-01T10:00:00.000Z',
      'old | zipped | - | 2019-01-05T08:00:00.000Z',
      'postponed | half written | - | 2024-04-03T09:30:00.000Z',
      'sent-mail | out | - | 2024-04-02T09:30:00.000Z',
    ]));
    assert.deepEqual(skippedPaths(report, dir), ['not-mail .mutt_cache.lock', 'not-mail .muttrc', 'not-mail backup.tar.gz']);
  });

  test('an Outlook-style .eml export with Inbox/ and clutter: Inbox fills INBOX, clutter is reported, exit 0', async () => {
    const root = build('outlook', outlookExport());
    const { dry, dryReport, run, report, server } = await importBoth(root);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = ['Archive (new):', 'Archive/2019 (new): messages=1 appended=1', 'Drafts (new):', 'INBOX: messages=2 appended=2', 'Sent Items (new): messages=1 appended=1'];
    assert.deepEqual(folderPlan(dryReport), plan);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(folderPlan(report), plan);
    assert.deepEqual(server.messages, sorted([
      `Archive/2019 | archived d | - | ${HEADER_DATE}`,
      `INBOX | inbox a | - | ${HEADER_DATE}`,
      `INBOX | inbox b | - | ${HEADER_DATE}`,
      `Sent Items | sent c | - | ${HEADER_DATE}`,
    ]));
    assert.deepEqual(skippedPaths(report, root), ['not-mail .DS_Store', 'not-mail Inbox/Thumbs.db', 'not-mail README.txt', 'not-mail Sent Items/desktop.ini', 'not-mail empty.eml']);
    assert.match(run.stdout, /INBOX\b/);
  });

  test('an Apple Mail export (Name.mbox/mbox bundles, nested): Inbox.mbox fills INBOX, Info.plist and table_of_contents reported', async () => {
    const root = build('apple', appleMailExport());
    const { dry, dryReport, run, report, server } = await importBoth(root);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = ['INBOX: messages=1 appended=1', 'Work (new): messages=1 appended=1', 'Work/Clients (new): messages=1 appended=1'];
    assert.deepEqual(folderPlan(dryReport), plan);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(server.messages, sorted([
      'INBOX | apple inbox | \\seen | 2024-03-01T09:00:00.000Z',
      'Work | apple work | - | 2024-03-02T09:00:00.000Z',
      'Work/Clients | apple clients | - | 2024-03-03T09:00:00.000Z',
    ]));
    assert.deepEqual(skippedPaths(report, root), ['not-mail Inbox.mbox/Info.plist', 'not-mail Inbox.mbox/table_of_contents', 'not-mail Work.mbox/Info.plist']);
  });

  test('a Courier Maildir with courierimapkeywords: keywords arrive as IMAP keywords, Courier state is reported', async () => {
    const md = build('courier', courierMaildir(KEPT));
    const { dry, dryReport, run, report, server } = await importBoth(md);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const plan = ['INBOX: messages=3 appended=2 deleted=1', 'Sent (new): messages=1 appended=1', 'Trash (new):'];
    assert.deepEqual(folderPlan(dryReport), plan);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(folderPlan(report), plan);
    assert.deepEqual(server.messages, sorted([
      `INBOX | courier new | - | ${KEPT.toISOString()}`,
      `INBOX | courier one | $label1 \\seen project | ${KEPT.toISOString()}`,
      `Sent | courier sent | \\answered \\seen | ${KEPT.toISOString()}`,
    ]));
    assert.deepEqual(skippedPaths(report, md), [
      'not-mail .Sent/courierimapuiddb',
      'not-mail courierimapkeywords',
      'not-mail courierimapsubscribed',
      'not-mail courierimapuiddb',
      'not-mail courierpop3dsizelist',
    ]);
    const subscribed = (await d.doveadm(['mailbox', 'list', '-u', d.user, '-s'])).split('\n').map((l) => l.trim()).filter(Boolean);
    assert.ok(subscribed.includes('Sent') && !subscribed.includes('Trash'), `courierimapsubscribed honoured: ${subscribed.join(', ')}`);
  });

  test('Maildir++ folder names that are not valid modified UTF-7 are repaired the same way every run, with a warning', async () => {
    const md = build('bad-names', {
      'cur/1700000000.M1P1.host:2,S': { content: msg('inbox'), mtime: KEPT },
      '.Caf&AOk-/cur/1700000001.M2P2.host:2,S': { content: msg('valid encoded'), mtime: KEPT },
      '.Bad&Jjo/cur/1700000002.M3P3.host:2,S': { content: msg('unterminated shift'), mtime: KEPT },
      '.Tom & Jerry/cur/1700000003.M4P4.host:2,S': { content: msg('raw ampersand'), mtime: KEPT },
    });
    const { dry, run, report, server } = await importBoth(md);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(server.messages, sorted([
      `Bad&Jjo | unterminated shift | \\seen | ${KEPT.toISOString()}`,
      `Café | valid encoded | \\seen | ${KEPT.toISOString()}`,
      `INBOX | inbox | \\seen | ${KEPT.toISOString()}`,
      `Tom & Jerry | raw ampersand | \\seen | ${KEPT.toISOString()}`,
    ]));
    const notes = report.sourceNotes.join('\n');
    assert.match(notes, /"\.Bad&Jjo" is not a valid Maildir\+\+ name .*; used "Bad&Jjo"/);
    assert.match(notes, /"\.Tom & Jerry" is not a valid Maildir\+\+ name/);
    assert.match(run.stdout, /Bad&Jjo/, 'the warning is in the summary');
    // The same names again: nothing new is sent, no folder is added.
    const again = join(work, `again-${n++}.json`);
    const r2 = await runCli(['import', md, ...conn(), '--report', again], env(), 60_000);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.equal(JSON.parse(readFileSync(again, 'utf8')).appended, 0);
    assert.deepEqual(Object.keys((await readServer(d)).folders).sort(), ['Bad&Jjo', 'Café', 'INBOX', 'Tom & Jerry']);
  });

  test('a directory with no mail at all: the dry run and the import both exit 1 and the report says why', async () => {
    const etc = build('etc-like', { 'hosts': '127.0.0.1 localhost\n', 'motd': 'welcome\n', 'ssh/sshd_config': 'Port 22\n' });
    const report = join(work, `none-${n++}.json`);
    const dry = await runCli(['import', etc, ...conn(), '--dry-run', '--report', report], env(), 30_000);
    assert.equal(dry.code, 1, dry.stdout + dry.stderr);
    assert.match(dry.stderr + dry.stdout, /no mail found/);
    assert.equal(JSON.parse(readFileSync(report, 'utf8')).error.code, 'E_SOURCE_UNKNOWN_FORMAT');
  });
});
