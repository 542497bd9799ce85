// End-to-end: the built binary against a private, real Dovecot (test/helpers/dovecot.ts). Skipped, with the reason
// shown, where dovecot or the build is missing.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeMaildir } from '../../src/bench/corpus.js';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { mapFolder } from '../../src/migrate/folder-map.js';
import { normalizeMessageId } from '../../src/core/message-id.js';
import { openSource, readAhead } from '../../src/sources/index.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { binarySkipReason, FIXTURES, runCli, startCli } from './cli-helpers.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# import/verify Dovecot tests skipped: ${skip}`);

describe('import and verify against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  let env: Record<string, string>;
  const conn = (): string[] => ['--host', '127.0.0.1', '--port', String(d.port), '--user', d.user];
  const plane = (): Promise<ControlPlane> =>
    ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });

  before(async () => {
    d = await startDovecot();
    work = mkdtempSync(join(tmpdir(), 'mm-e2e-'));
    env = { MAILMIGRATE_PASSWORD: d.password, XDG_STATE_HOME: join(work, 'state') };
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a fixtures tree arrives with its folders, flags, dates and bytes intact', async () => {
    await d.emptyAccount();
    const src = join(work, 'fixture-maildir');
    cpSync(join(FIXTURES, 'maildir'), src, { recursive: true });
    const report = join(work, 'fixture-report.json');
    const r = await runCli(['import', src, ...conn(), '--report', report, '--quiet'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Journal: .*state\/mailmigrate\/journals\//);
    const j = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(j.appended, 7);
    assert.equal(j.skippedBy.deleted, 1, 'the message marked T (deleted) in the source is skipped by default');

    const cp = await plane();
    try {
      const source = await openSource(src);
      let checked = 0;
      const byFolder = new Map<string, Awaited<ReturnType<ControlPlane['listMessages']>>>();
      for await (const item of readAhead(source.items())) {
        if (item.kind === 'skipped') continue; // dovecot-keywords, dovecot-uidlist, tmp/, ...: not mail (issue 12)
        assert.equal(item.kind, 'message');
        if (item.kind !== 'message') continue;
        const path = mapFolder(item.message.folder, { delimiter: '/', specialUse: new Map() }).path;
        if (!byFolder.has(path)) byFolder.set(path, await cp.listMessages(path));
        const onServer = byFolder.get(path)!;
        if (item.message.deleted) {
          assert.ok(!onServer.some((m) => m.size === item.normalized.data.length), `${item.message.origin} (deleted) is not imported`);
          checked++;
          continue;
        }
        let found = false;
        for (const m of onServer) {
          if (m.size !== item.normalized.data.length) continue;
          const body = await cp.fetchBody(path, m.uid);
          if (!body.equals(item.normalized.data)) continue;
          found = true;
          const got = m.flags.filter((f) => f !== '\\Recent').map((f) => f.toLowerCase()).sort();
          assert.deepEqual(got, item.message.flags.map((f) => f.toLowerCase()).sort(), `flags of ${item.message.origin}`);
          if (item.message.internalDate) {
            assert.equal(Math.floor(m.internalDate.getTime() / 1000), Math.floor(item.message.internalDate.getTime() / 1000), `INTERNALDATE of ${item.message.origin}`);
          }
        }
        assert.ok(found, `${item.message.origin} is on the server in ${path} byte for byte`);
        checked++;
      }
      assert.equal(checked, 8);
      assert.deepEqual([...byFolder.keys()].sort(), ['Café', 'INBOX', 'Work', 'Work/Projects']);
    } finally {
      await cp.close();
    }
  });

  test('--dry-run logs in and lists but creates and appends nothing', async () => {
    await d.emptyAccount();
    const src = join(work, 'dry-maildir');
    cpSync(join(FIXTURES, 'maildir'), src, { recursive: true });
    const r = await runCli(['import', src, ...conn(), '--dry-run'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Work\/Projects\s+→\s+Work\/Projects \(would create\)\s+1\s+1\s/);
    const cp = await plane();
    try {
      assert.deepEqual((await cp.listFolders()).map((f) => f.path), ['INBOX']);
      assert.equal((await cp.status('INBOX')).messages, 0);
    } finally {
      await cp.close();
    }
  });

  test('a wrong password exits 1 without showing the password', async () => {
    const pw = join(work, 'wrong-pw');
    writeFileSync(pw, 'not-the-password-xyz\n', { mode: 0o600 });
    const r = await runCli(['import', join(FIXTURES, 'maildir'), ...conn(), '--password-file', pw, '--quiet'], {});
    assert.equal(r.code, 1, r.stdout);
    assert.doesNotMatch(r.stderr + r.stdout, /not-the-password-xyz/);
  });

  test('SIGINT stops gracefully with exit 130 and a summary, and the re-run completes without duplicates', async () => {
    await d.emptyAccount();
    // 600: the interrupt comes at ≥100 on the server, and the run must still have most of its work ahead of it then
    // (the poll lags under load); 1200 only made both runs longer (issue 13).
    const COUNT = 600;
    const src = join(work, 'sigint-corpus');
    await writeMaildir(src, COUNT, { seed: 11, size: 650 });
    const report = join(work, 'sigint-report.json');
    const args = ['import', src, ...conn(), '--journal', join(work, 'sigint.journal'), '--batch', '5', '--report', report, '--quiet'];
    const cp = await plane();
    try {
      const { child, done } = startCli(args, env);
      const started = Date.now();
      let finished = false;
      void done.then(() => (finished = true));
      while (!finished && (await cp.status('INBOX')).messages < 100 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      const r = await done;
      assert.equal(r.code, 130, r.stderr + r.stdout);
      assert.match(r.stderr, /Interrupted: finishing the commands in flight/);
      assert.match(r.stdout, /^Interrupted: \d+ appended/m);
      assert.match(r.stdout, /re-run the same command to resume/);
      const first = JSON.parse(readFileSync(report, 'utf8'));
      assert.equal(first.interrupted, true);
      assert.ok(first.appended < COUNT);
      const again = await runCli(args, env);
      assert.equal(again.code, 0, again.stderr + again.stdout);
      const second = JSON.parse(readFileSync(report, 'utf8'));
      assert.equal(second.skipped, first.appended, 'everything the first run confirmed is skipped');
      const msgs = await cp.listMessages('INBOX');
      assert.equal(msgs.length, COUNT);
      assert.equal(new Set(msgs.map((m) => normalizeMessageId(m.messageId))).size, COUNT);
    } finally {
      await cp.close();
    }
  });

  test('runs killed with SIGKILL at several points and re-run leave every message on the server exactly once; verify then passes and fails after a deletion', async () => {
    await d.emptyAccount();
    // 1000: room for three kills (an early one, one on a timer, a late one at 650) before the end; 2000 only
    // made every run and the three verifies longer (issue 13).
    const COUNT = 1000;
    const src = join(work, 'corpus');
    await writeMaildir(src, COUNT, { seed: 7, size: 700 });
    const journal = join(work, 'kill.journal');
    const args = ['import', src, ...conn(), '--journal', journal, '--batch', '10', '--quiet'];
    const cp = await plane();
    try {
      const inbox = async (): Promise<number> => (await cp.status('INBOX')).messages;
      // Kill points, as seen from the server: early, by a timer right after start, and late.
      const points: Array<{ atLeast?: number; afterMs?: number }> = [{ atLeast: 150 }, { afterMs: 700 }, { atLeast: 650 }];
      const killedAt: number[] = [];
      for (const p of points) {
        const { child, done } = startCli(args, env);
        const started = Date.now();
        for (;;) {
          const ended = await Promise.race([done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
          if (ended) break;
          if (p.afterMs !== undefined && Date.now() - started >= p.afterMs) break;
          if (p.atLeast !== undefined && (await inbox()) >= p.atLeast) break;
          if (Date.now() - started > 20_000) break;
        }
        child.kill('SIGKILL');
        await done;
        killedAt.push(await inbox());
      }
      console.log(`on the server after each SIGKILL: ${killedAt.join(', ')} of ${COUNT}`);
      assert.ok(killedAt.some((n) => n > 0 && n < COUNT), `at least one kill landed mid-import (${killedAt.join(', ')})`);
      const before = await inbox();
      assert.ok(before < COUNT, `the kills interrupted the import (${before} of ${COUNT} on the server)`);
      const last = await runCli(args, env);
      assert.equal(last.code, 0, last.stderr + last.stdout);

      const msgs = await cp.listMessages('INBOX');
      const seen = new Map<string, number>();
      for (const m of msgs) {
        const id = normalizeMessageId(m.messageId);
        assert.ok(id, `UID ${m.uid} has a Message-ID`);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const dupes = [...seen].filter(([, n]) => n > 1);
      assert.deepEqual(dupes, [], 'no Message-ID twice');
      assert.equal(seen.size, COUNT);
      assert.equal(msgs.length, COUNT);

      const ok = await runCli(['verify', src, ...conn()], env);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, new RegExp(`Verified: all ${COUNT} source message`));

      const victim = msgs[Math.floor(msgs.length / 2)]!;
      await cp.deleteMessage('INBOX', victim.uid);
      const bad = await runCli(['verify', src, ...conn()], env);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stdout, /NOT VERIFIED: 1 missing, 0 not compared/);
      assert.match(bad.stdout, /--recheck/);
      // The fix the summary names: the same import with --recheck appends exactly the missing one.
      const fix = await runCli([...args, '--recheck'], env);
      assert.equal(fix.code, 0, fix.stderr + fix.stdout);
      assert.match(fix.stdout, /Done: 1 appended, 0 already imported \(journal\), 999 already on the server \(checked\)/);
      assert.equal((await runCli(['verify', src, ...conn()], env)).code, 0);
      assert.equal((await cp.status('INBOX')).messages, COUNT);
      assert.ok(bad.stdout.includes(`missing in INBOX:`) && bad.stdout.includes(String(victim.messageId)), bad.stdout);
    } finally {
      await cp.close();
    }
  });
});
