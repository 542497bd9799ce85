// Two .eml exports with the same layout, imported one after the other into one account (a user's mail saved from two
// machines, each as Inbox/1.eml, 2.eml, …). The journal is kept per account and vouches for a message by its id
// without reading it; when an .eml id was its path below the root, the second export's messages of the same size
// were taken for the first's and skipped: "already imported", and lost (found on a private Dovecot, 1 Dec 2026:
// one message of two arrived). Each export's messages must arrive, and re-running either import must send nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { realServers, type RunningServer } from '../helpers/imap-servers.js';

const dovecot = realServers.find((s) => s.name === 'dovecot')!;
const skip = dovecot.skipReason() ?? binarySkipReason();
if (skip) console.log(`# .eml export tests skipped: ${skip}`);

/** An Outlook-style export: Inbox/1.eml … n.eml and Sent Items/1.eml, every body the same length across exports. */
function writeExport(root: string, tag: string, n: number): string[] {
  const ids: string[] = [];
  for (const [folder, count] of [['Inbox', n], ['Sent Items', 1]] as const) {
    mkdirSync(join(root, folder), { recursive: true });
    for (let i = 1; i <= count; i++) {
      const id = `${tag}-${folder.replace(' ', '')}-${i}@exports.test`;
      ids.push(id);
      writeFileSync(join(root, folder, `${i}.eml`), `From: a@example.org\r\nSubject: ${tag} ${i}\r\nDate: Mon, 1 Apr 2024 10:00:00 +0000\r\nMessage-ID: <${id}>\r\n\r\nbody ${tag} ${i}\r\n`);
    }
  }
  return ids;
}

describe('two .eml exports of the same layout into one account on dovecot', { skip }, () => {
  let s: RunningServer;
  let work: string;
  before(async () => {
    s = await dovecot.start();
    work = mkdtempSync(join(tmpdir(), 'mm-eml-exports-'));
  });
  after(async () => {
    await s?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('dovecot: the second export\'s messages arrive although the first had the same paths and sizes, and re-runs send nothing', async () => {
    const u = s.users[0]!;
    const pw = join(work, 'pw');
    writeFileSync(pw, `${u.password}\n`, { mode: 0o600 });
    // The default journal (one per account in the state directory): the one both imports share, as for an admin.
    const env = { XDG_STATE_HOME: join(work, 'state') };
    const importOf = async (root: string): Promise<{ appended: number }> => {
      const report = join(work, 'report.json');
      const r = await runCli(['import', root, '--host', s.host, '--port', String(s.port), '--user', u.name, '--plain', '--password-file', pw, '--quiet', '--report', report], env, 60_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      return JSON.parse(readFileSync(report, 'utf8')) as { appended: number };
    };
    const a = writeExport(join(work, 'laptop'), 'laptop', 5);
    const b = writeExport(join(work, 'office'), 'office', 5);
    assert.equal((await importOf(join(work, 'laptop'))).appended, a.length);
    assert.equal((await importOf(join(work, 'office'))).appended, b.length, 'the second export is sent, not taken for the first');
    const inbox = (await s.listMessages(u, 'INBOX')).map((m) => (m.messageId ?? '').replace(/^<|>$/g, '')).sort();
    assert.deepEqual(inbox, [...a, ...b].filter((id) => id.includes('-Inbox-')).sort());
    // The journal still vouches for what it saw: the same imports again send nothing.
    assert.equal((await importOf(join(work, 'laptop'))).appended, 0);
    assert.equal((await importOf(join(work, 'office'))).appended, 0);
    assert.equal((await s.listMessages(u, 'INBOX')).length, 10);
  });
});
