// Special folders on a server whose special-use folders have other names than the source's (issue 12): a private
// Dovecot configured like a localized / Exchange-style account ("Sent Items" is \Sent, "Brouillons" is \Drafts,
// "Archief" is \Archive, ...). Source folders named for a special use — Maildir++ .Sent, mutt's sent-mail and
// postponed, Italian "Posta inviata" — go into the server's folder of that use, and their subfolders move with them
// (Archives/2019 → Archief/2019). Read back through IMAP; verify and a re-run agree with where the mail went.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { binarySkipReason, runCli } from './cli-helpers.js';
import { mboxMsg, msg, writeTree } from '../helpers/real-trees.js';
import { readServer } from './tree-helpers.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# special folders on Dovecot skipped: ${skip}`);

const SERVER_SPECIAL = { 'Sent Items': '\\Sent', Brouillons: '\\Drafts', Archief: '\\Archive', 'Deleted Items': '\\Trash', Spam: '\\Junk' };

describe('special folders go into the server special-use folders, whatever their names there', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  const conn = (): string[] => ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain'];
  const env = (): Record<string, string> => ({ MAILMIGRATE_PASSWORD: d.password });

  before(async () => {
    d = await startDovecot({ specialUseMailboxes: SERVER_SPECIAL });
    work = mkdtempSync(join(tmpdir(), 'mm-special-'));
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('Sent, sent-mail and "Posta inviata" fill "Sent Items"; Archives/2019 lands under "Archief"; postponed and Drafts fill "Brouillons"', async () => {
    await d.emptyAccount();
    for (const name of Object.keys(SERVER_SPECIAL)) await d.doveadm(['mailbox', 'create', '-u', d.user, name]);
    const home = join(work, 'home');
    const md = (folder: string, n: number, subject: string): Record<string, string> => ({ [`Maildir/${folder}cur/${1700000000 + n}.M${n}P${n}.host:2,S`]: msg(subject) });
    writeTree(home, {
      ...md('', 1, 'inbox'),
      ...md('.Sent/', 2, 'sent'),
      ...md('.Sent.2019/', 3, 'sent 2019'),
      ...md('.Archives.2019/', 4, 'archived 2019'),
      ...md('.Archives.2019.Q1/', 5, 'archived 2019 q1'),
      ...md('.Drafts/', 6, 'draft'),
      ...md('.Posta inviata/', 7, 'inviata'),
      ...md('.Trash/', 8, 'trashed'),
      ...md('.Junk/', 9, 'junk'),
      ...md('.Work.Sent/', 10, 'work sent'),
      'mail/sent-mail': mboxMsg('mutt sent'),
      'mail/postponed': mboxMsg('mutt postponed'),
    });
    const reportPath = join(work, 'report.json');
    const r = await runCli(['import', home, ...conn(), '--journal', join(work, 'j.jsonl'), '--report', reportPath], env(), 90_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const server = await readServer(d);
    assert.deepEqual(server.folders, {
      INBOX: 1,
      'Sent Items': 3,
      'Sent Items/2019': 1,
      Brouillons: 2,
      Archief: 0,
      'Archief/2019': 1,
      'Archief/2019/Q1': 1,
      'Deleted Items': 1,
      Spam: 1,
      Work: 0,
      'Work/Sent': 1,
    });
    const subjects = (folder: string): string[] => server.messages.filter((m) => m.startsWith(`${folder} | `)).map((m) => m.split(' | ')[1]!).sort();
    assert.deepEqual(subjects('Sent Items'), ['inviata', 'mutt sent', 'sent']);
    assert.deepEqual(subjects('Brouillons'), ['draft', 'mutt postponed']);
    assert.deepEqual(subjects('Work/Sent'), ['work sent'], 'a folder named Sent below another folder is the user\'s own');
    // The server's special-use attributes are where they were; nothing was created beside them.
    assert.deepEqual(server.specialUse, { 'Sent Items': '\\Sent', Brouillons: '\\Drafts', Archief: '\\Archive', 'Deleted Items': '\\Trash', Spam: '\\Junk' });
    // Three source folders into one target: reported as a merge, nothing lost.
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    const sent = report.folders.find((f: { target: string }) => f.target === 'Sent Items');
    assert.deepEqual(sent.sources, ['Posta inviata', 'Sent', 'sent-mail']);
    assert.equal(sent.appended, 3);
    assert.match(r.stdout, /Merged: .*Posta inviata.*→ Sent Items/);

    // verify maps the same way and finds everything; a re-run sends nothing.
    const v = await runCli(['verify', home, ...conn()], env(), 60_000);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const again = join(work, 'again.json');
    const r2 = await runCli(['import', home, ...conn(), '--journal', join(work, 'j.jsonl'), '--report', again], env(), 60_000);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.equal(JSON.parse(readFileSync(again, 'utf8')).appended, 0);
  });
});
