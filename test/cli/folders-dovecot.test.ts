// Folder selection and mapping as admins use them (issue 12), against a private Dovecot through the built CLI:
// --exclude, --include, --map (two source folders into one target), --map-file, --to, --folders-only.
// Each test reads the server back: which folders exist and how many messages each holds.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { writeCorpus } from '../reliability/harness.js';
import { binarySkipReason, runCli } from './cli-helpers.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# folder mapping Dovecot tests skipped: ${skip}`);

// 70 messages, 10 in each of: INBOX, Sent Items, Trash, Junk E-mail, Archive, Archive/2019, Work.
const FOLDERS = ['Sent Items', 'Trash', 'Junk E-mail', 'Archive', 'Archive.2019', 'Work'];

describe('folder selection and mapping on a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  let src: string;
  let n = 0;
  const conn = (): string[] => ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain'];

  async function serverFolders(): Promise<Record<string, number>> {
    const cp = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    try {
      const out: Record<string, number> = {};
      for (const f of await cp.listFolders()) out[f.path] = (await cp.status(f.path)).messages;
      return out;
    } finally {
      await cp.close();
    }
  }

  async function run(args: string[]): Promise<{ stdout: string; report: Record<string, any> }> {
    const report = join(work, `r-${n++}.json`);
    const r = await runCli(['import', ...args, ...conn(), '--journal', join(work, `j-${n++}.jsonl`), '--report', report], { MAILMIGRATE_PASSWORD: d.password }, 60_000);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return { stdout: r.stdout, report: JSON.parse(readFileSync(report, 'utf8')) };
  }

  before(async () => {
    d = await startDovecot();
    work = mkdtempSync(join(tmpdir(), 'mm-folders-'));
    src = join(work, 'Maildir');
    writeCorpus(src, 70, 'fold', FOLDERS);
    // An empty folder, and a Maildir++ subscription list that leaves "Trash" out.
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(src, '.Empty', sub), { recursive: true });
    writeFileSync(join(src, 'subscriptions'), ['Sent Items', 'Junk E-mail', 'Archive', 'Archive.2019', 'Work', 'Empty'].join('\n') + '\n');
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('--exclude leaves out Trash and Junk*, --map renames a folder and merges another into INBOX (reported, no loss)', async () => {
    await d.emptyAccount();
    const { stdout, report } = await run([src, '--exclude', 'trash', '--exclude', 'Junk*', '--map', 'Sent Items=Sent', '--map', 'Work=INBOX']);
    assert.deepEqual(await serverFolders(), { INBOX: 20, Sent: 10, Archive: 10, 'Archive/2019': 10, Empty: 0 });
    assert.equal(report.appended, 50);
    assert.equal(report.skippedBy.excluded, 20);
    assert.deepEqual(report.excluded.map((e: { source: string }) => e.source).sort(), ['Junk E-mail', 'Trash']);
    assert.match(stdout, /Left out: Trash \(10 message\(s\)\): --exclude trash/);
    assert.match(stdout, /Merged: \(top level\) \+ Work → INBOX \(20 message\(s\)\)/);
    // verify with the same rules looks where import put the mail, and passes; without them it cannot.
    const rules = ['--exclude', 'trash', '--exclude', 'Junk*', '--map', 'Sent Items=Sent', '--map', 'Work=INBOX'];
    const v = await runCli(['verify', src, ...conn(), ...rules], { MAILMIGRATE_PASSWORD: d.password }, 60_000);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const bad = await runCli(['verify', src, ...conn()], { MAILMIGRATE_PASSWORD: d.password }, 60_000);
    assert.equal(bad.code, 2, bad.stdout);
  });

  test('--map-file rewrites folder paths with regex rules; --include keeps only what matches', async () => {
    await d.emptyAccount();
    const rules = join(work, 'map.txt');
    writeFileSync(rules, '# Archive and everything below it, under "Old"\n^Archive(/.*)?$ => Old$1\n');
    await run([src, '--include', 'Archive', '--map-file', rules]);
    assert.deepEqual(await serverFolders(), { INBOX: 0, Old: 10, 'Old/2019': 10 }, 'an empty folder --include leaves out is not created');
  });

  test('--folders-only creates the tree and sends nothing; --to puts a single folder given directly where it belongs', async () => {
    await d.emptyAccount();
    const { report } = await run([src, '--folders-only']);
    assert.equal(report.appended, 0);
    assert.equal(report.skippedBy.foldersOnly, 70);
    assert.deepEqual(await serverFolders(), { INBOX: 0, 'Sent Items': 0, Trash: 0, 'Junk E-mail': 0, Archive: 0, 'Archive/2019': 0, Work: 0, Empty: 0 });
    // Created folders are subscribed as the source's subscription list says: all but Trash.
    const subscribed = (await d.doveadm(['mailbox', 'list', '-u', d.user, '-s'])).split('\n').map((l) => l.trim()).filter(Boolean).sort();
    assert.deepEqual(subscribed, ['Archive', 'Archive/2019', 'Empty', 'Junk E-mail', 'Sent Items', 'Work']);
    // A single Maildir folder given directly: its messages fill the folder --to names, not INBOX.
    await run([join(src, '.Sent Items'), '--to', 'Sent Items']);
    const after = await serverFolders();
    assert.equal(after['Sent Items'], 10);
    assert.equal(after.INBOX, 0);
  });
});
