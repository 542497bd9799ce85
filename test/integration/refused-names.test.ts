// Folder names the server refuses (issues 12 and 16), through the built CLI against every real server of the harness.
// What each refuses was measured with CREATE (docs/sources.md): Cyrus refuses " % \ | and more, Dovecot a name
// starting with "~", control characters and levels over 255 bytes of modified UTF-7. The import must create each
// such folder under a deterministic repaired name, report it, keep every source folder apart (no silent merge), lose
// no message; verify and a re-run must find everything where the first run put it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { msg, writeTree } from '../helpers/real-trees.js';
import { readServer } from '../cli/tree-helpers.js';
import { realServers, type RunningServer } from '../helpers/imap-servers.js';

/** Source folder (as the .eml export names it) → subjects of its messages. */
const FOLDERS: Record<string, string[]> = {
  Inbox: ['inbox one'],
  Plain: ['plain one', 'plain two'],
  'Clients "VIP"': ['vip one'],
  'Clients "VIP"/A|B': ['pipe one'],
  'a%b': ['percent one'],
  a_b: ['underscore one'],
  '~backup': ['tilde one'],
  'tab\there': ['tab one'],
  ['é'.repeat(120)]: ['long one'],
};
const TOTAL = Object.values(FOLDERS).flat().length;

for (const server of realServers) {
  const skip = server.skipReason() ?? binarySkipReason();
  describe(`folder names ${server.name} refuses`, { skip: skip ? `${server.name}: ${skip}` : false }, () => {
    let s: RunningServer;
    let work: string;
    before(async () => {
      s = await server.start();
      work = mkdtempSync(join(tmpdir(), `mm-refused-${server.name}-`));
    });
    after(async () => {
      await s?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test(`${server.name}: each refused folder is created under a repaired name, reported, nothing lost or merged; verify and a re-run find it all`, async () => {
      const root = join(work, 'export');
      const files: Record<string, string> = {};
      for (const [folder, subjects] of Object.entries(FOLDERS)) subjects.forEach((sub, i) => (files[`${folder}/${i}.eml`] = msg(sub)));
      writeTree(root, files);
      const user = s.users[0]!;
      const conn = ['--host', '127.0.0.1', '--port', String(s.port), '--user', user.name, '--plain'];
      const env = { MAILMIGRATE_PASSWORD: user.password };
      const reportPath = join(work, 'report.json');
      const r = await runCli(['import', root, ...conn, '--journal', join(work, 'j.jsonl'), '--report', reportPath], env, 120_000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(readFileSync(reportPath, 'utf8'));
      assert.equal(report.appended, TOTAL, JSON.stringify(report.failures));

      const view = await readServer({ port: s.port, user: user.name, password: user.password });
      const whereIs = new Map<string, string[]>();
      for (const line of view.messages) {
        const [folder, subject] = line.split(' | ');
        whereIs.set(subject!, [...(whereIs.get(subject!) ?? []), folder!]);
      }
      // Every message exactly once; each source folder's messages together; two source folders never in one.
      const targetOf = new Map<string, string>();
      for (const [folder, subjects] of Object.entries(FOLDERS)) {
        const places = new Set(subjects.flatMap((sub) => whereIs.get(sub) ?? []));
        for (const sub of subjects) assert.equal(whereIs.get(sub)?.length, 1, `"${sub}" (from ${JSON.stringify(folder)}) is on the server once: ${JSON.stringify(whereIs.get(sub))}`);
        assert.equal(places.size, 1, `${JSON.stringify(folder)} landed in one folder`);
        targetOf.set(folder, [...places][0]!);
      }
      assert.equal(new Set(targetOf.values()).size, targetOf.size, `no two source folders share a target: ${JSON.stringify([...targetOf])}`);
      assert.equal(targetOf.get('Inbox'), 'INBOX');
      assert.equal(targetOf.get('Clients "VIP"/A|B')!.startsWith(targetOf.get('Clients "VIP"')! + s.delimiter), true, 'a subfolder stays below its (repaired) parent');

      // What was repaired depends on the server; every repair is in the report, with the server's reason.
      const repairs: string[] = report.repairs.filter((x: string) => /refused by the server/.test(x));
      // Where a folder goes when the server takes its name ("Inbox" of an export is INBOX).
      const plain = (folder: string): string => (folder === 'Inbox' ? 'INBOX' : s.folderFor(folder.split('/')));
      const renamed = [...targetOf].filter(([folder, target]) => target !== plain(folder));
      assert.ok(renamed.length > 0, `${server.name} refuses at least one of these names`);
      // A child moved only because its parent was renamed is not itself a repair.
      for (const [folder, target] of renamed) {
        const parent = folder.includes('/') ? folder.slice(0, folder.lastIndexOf('/')) : undefined;
        const parentMoved = parent !== undefined && targetOf.get(parent) !== plain(parent);
        if (!parentMoved || !target.endsWith(s.delimiter + folder.slice(folder.lastIndexOf('/') + 1))) {
          assert.ok(repairs.some((x) => x.includes(`created as "${target}"`)), `the repair of ${JSON.stringify(folder)} → ${JSON.stringify(target)} is reported: ${repairs.join(' / ')}`);
        }
      }
      const rows = report.folders.filter((f: { refusedName?: string }) => f.refusedName);
      assert.equal(rows.length, repairs.length, 'each repaired folder row names the refused name');
      if (server.name.startsWith('cyrus')) assert.equal(targetOf.get('Clients "VIP"'), s.folderFor(['Clients _VIP_']));
      if (server.name === 'dovecot') assert.equal(targetOf.get('~backup'), '_backup');

      // verify looks where the import put each folder, repaired names included.
      const v = await runCli(['verify', root, ...conn], env, 120_000);
      assert.equal(v.code, 0, v.stdout + v.stderr);

      // Deterministic: the same command again sends nothing and fails nothing.
      const again = join(work, 'again.json');
      const r2 = await runCli(['import', root, ...conn, '--journal', join(work, 'j.jsonl'), '--report', again], env, 120_000);
      assert.equal(r2.code, 0, r2.stdout + r2.stderr);
      const rep2 = JSON.parse(readFileSync(again, 'utf8'));
      // On a failure, what the re-run did and why (a rare Cyrus "NO System I/O error" flake is being chased).
      const why = (rep: { folders?: unknown; failures?: unknown; notes?: unknown }): string =>
        JSON.stringify({ folders: rep.folders, failures: rep.failures, notes: rep.notes, first: { folders: report.folders, failures: report.failures, unknownResolved: report.unknownResolved } });
      assert.equal(rep2.appended, 0, why(rep2));
      assert.equal(rep2.failed, 0, why(rep2));
      // And a fresh journal (the server is the truth) finds every message where the first run put it.
      const fresh = join(work, 'fresh.json');
      const r3 = await runCli(['import', root, ...conn, '--journal', join(work, 'j2.jsonl'), '--report', fresh], env, 120_000);
      assert.equal(r3.code, 0, r3.stdout + r3.stderr);
      const rep3 = JSON.parse(readFileSync(fresh, 'utf8'));
      assert.equal(rep3.appended, 0, why(rep3));
    });
  });
}
