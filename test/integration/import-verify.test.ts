// The built CLI against every real server of the harness (test/helpers/imap-servers.ts): import a generated
// Maildir++ tree, read the server back independently (imapflow, not mailmigrate's control plane), verify, re-run.
// Each test names its server; a server that cannot run here is skipped with the reason.
//
// These tests assert the correct behaviour everywhere. Where the product is known to fail on a server today (issue
// 16: namespaces, UTF-8 folder names, servers that rewrite messages) the test is marked `todo` with what fails: it
// still runs and reports, but does not fail the suite. Remove the entry from KNOWN when the fix lands.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeMaildir } from '../../src/bench/corpus.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { realServers, type RunningServer, type ServerName, type ServerUser } from '../helpers/imap-servers.js';

type Case = 'import' | 'verify' | 'rerun' | 'dry-run' | 'utf8-import' | 'utf8-verify' | 'rewritten';

/** What fails today, per server and test (issue 16), measured on this machine; the text is the todo reason. */
const KNOWN: Partial<Record<ServerName, Partial<Record<Case, string>>>> = {};

function todo(server: ServerName, c: Case): { todo?: string } {
  const why = KNOWN[server]?.[c];
  return why ? { todo: `issue 16: ${why}` } : {};
}

interface SourceFolder {
  /** Maildir++ directory name under the root ('' = the root, INBOX) */
  dir: string;
  segments: string[];
  count: number;
  seed: number;
}

// A small realistic shape: INBOX, a folder and a subfolder (Maildir++ ".Work.Projects").
const TREE: SourceFolder[] = [
  { dir: '', segments: [], count: 40, seed: 1601 },
  { dir: '.Work', segments: ['Work'], count: 25, seed: 1602 },
  { dir: '.Work.Projects', segments: ['Work', 'Projects'], count: 15, seed: 1603 },
];
const TOTAL = TREE.reduce((n, f) => n + f.count, 0);

function normalizeId(id: string | undefined): string {
  return (id ?? '').trim().replace(/^<|>$/g, '');
}

async function readMessageIds(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      const head = readFileSync(join(dir, sub, n), 'latin1').split('\r\n\r\n')[0] ?? '';
      const m = /^Message-ID:\s*(\S+)/im.exec(head);
      if (m) out.push(normalizeId(m[1]));
    }
  }
  return out.sort();
}

function conn(s: RunningServer, u: ServerUser, pwFile: string): string[] {
  return ['--host', s.host, '--port', String(s.port), '--user', u.name, '--plain', '--password-file', pwFile];
}

for (const server of realServers) {
  const skip = server.skipReason() ?? binarySkipReason();
  if (skip) console.log(`# integration tests on ${server.name} skipped: ${skip}`);

  describe(`import and verify of a Maildir++ tree on ${server.name}`, { skip }, () => {
    let s: RunningServer;
    let u: ServerUser;
    let work: string;
    let src: string;
    let pwFile: string;
    let env: Record<string, string>;
    const expected = new Map<string, string[]>();

    before(async () => {
      s = await server.start();
      u = s.users[0]!;
      work = mkdtempSync(join(tmpdir(), `mm-int-${server.name}-`));
      src = join(work, 'Maildir');
      for (const f of TREE) {
        const dir = join(src, f.dir);
        await writeMaildir(dir, f.count, { seed: f.seed, size: 1500 });
        if (f.dir) writeFileSync(join(dir, 'maildirfolder'), '');
        expected.set(s.folderFor(f.segments), await readMessageIds(dir));
      }
      pwFile = join(work, 'password');
      writeFileSync(pwFile, `${u.password}\n`, { mode: 0o600 });
      env = { XDG_STATE_HOME: join(work, 'state') };
    });
    after(async () => {
      await s?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const importArgs = (): string[] => ['import', src, ...conn(s, u, pwFile), '--journal', join(work, 'journal'), '--report', join(work, 'report.json'), '--quiet'];

    test(`${server.name}: the import exits 0 and every message lands exactly once in the folder it came from`, todo(server.name, 'import'), async () => {
      const r = await runCli(importArgs(), env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8'));
      assert.equal(report.appended, TOTAL, r.stdout);
      const folders = (await s.listFolders(u)).map((f) => f.path);
      for (const [folder, want] of expected) {
        assert.ok(folders.includes(folder), `${folder} exists on ${server.name} (folders: ${folders.join(', ')})`);
        const got = (await s.listMessages(u, folder)).map((m) => normalizeId(m.messageId)).sort();
        assert.deepEqual(got, want, `the Message-IDs in ${folder}`);
      }
      const stray = folders.filter((f) => !expected.has(f));
      // Parents that exist only to hold children (e.g. "INBOX.Work" for "INBOX.Work.Projects") are expected.
      for (const f of stray) assert.equal((await s.listMessages(u, f)).length, 0, `no messages in unexpected folder ${f}`);
    });

    test(`${server.name}: verify confirms every folder and exits 0`, todo(server.name, 'verify'), async () => {
      const r = await runCli(['verify', src, ...conn(s, u, pwFile)], env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`Verified: all ${TOTAL} source message`));
    });

    test(`${server.name}: the same import again appends nothing and every folder keeps its count`, todo(server.name, 'rerun'), async () => {
      const r = await runCli(importArgs(), env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8'));
      assert.equal(report.appended, 0, r.stdout);
      for (const [folder, want] of expected) assert.equal((await s.listMessages(u, folder)).length, want.length, folder);
    });

    test(`${server.name}: --dry-run after the import plans no folder as "create"`, todo(server.name, 'dry-run'), async () => {
      const r = await runCli(['import', src, ...conn(s, u, pwFile), '--dry-run'], env, 60_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.doesNotMatch(r.stdout, /\bcreate\b/, r.stdout);
    });
  });

  describe(`8-bit headers and a UTF-8 folder name on ${server.name}`, { skip }, () => {
    let s: RunningServer;
    let u: ServerUser;
    let work: string;
    let src: string;
    let pwFile: string;
    let env: Record<string, string>;
    const caf = (): string => s.folderFor(['Café']);

    before(async () => {
      s = await server.start();
      u = s.users[0]!;
      work = mkdtempSync(join(tmpdir(), `mm-int8-${server.name}-`));
      src = join(work, 'Maildir');
      // INBOX: messages whose Subject carries raw UTF-8 bytes (RFC 6532 style, common in old archives)
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(src, sub), { recursive: true });
      for (let i = 0; i < 6; i++) {
        const msg = Buffer.concat([
          Buffer.from(`From: sender${i}@example.org\r\nTo: rcpt@example.org\r\nSubject: caf`),
          Buffer.from('é résumé', 'utf8'),
          Buffer.from(` ${i}\r\nDate: Mon, 2 Jan 2023 10:0${i}:00 +0000\r\nMessage-ID: <eight-${i}@int.test>\r\n\r\nbody ${i}\r\n`),
        ]);
        writeFileSync(join(src, 'cur', `167265${i}000.M${i}P1.host:2,S`), msg);
      }
      // ".Caf&AOk-": Maildir++ stores folder names in modified UTF-7 → "Café"
      await writeMaildir(join(src, '.Caf&AOk-'), 5, { seed: 1610, size: 1200 });
      writeFileSync(join(src, '.Caf&AOk-', 'maildirfolder'), '');
      pwFile = join(work, 'password');
      writeFileSync(pwFile, `${u.password}\n`, { mode: 0o600 });
      env = { XDG_STATE_HOME: join(work, 'state') };
    });
    after(async () => {
      await s?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test(`${server.name}: the import exits 0, "Café" exists under its decoded name and holds its 5 messages, INBOX its 6`, todo(server.name, 'utf8-import'), async () => {
      const reportFile = join(work, 'import-report.json');
      const traceFile = join(work, 'import-trace.ndjson');
      const r = await runCli(['import', src, ...conn(s, u, pwFile), '--quiet', '--report', reportFile, '--trace', traceFile], env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const folders = await s.listFolders(u);
      const cafe = folders.find((f) => f.path === caf());
      assert.ok(cafe, `${caf()} is listed (folders: ${folders.map((f) => `${f.path} [${f.wire}]`).join(', ')})`);
      const inCafe = await s.listMessages(u, caf());
      // Exactly once; when not, everything the run knew goes into the failure (a rare duplicate seen once on
      // cyrus-slash under load: the report's events and counts are the evidence).
      assert.equal(inCafe.length, 5, `${caf()} holds ${inCafe.length} messages: ${JSON.stringify(inCafe.map((m) => [m.uid, m.messageId]))}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nreport: ${readFileSync(reportFile, 'utf8').slice(0, 20_000)}\ntrace: ${readFileSync(traceFile, 'utf8').slice(0, 20_000)}`);
      const inbox = await s.listMessages(u, 'INBOX');
      assert.deepEqual(inbox.map((m) => normalizeId(m.messageId)).sort(), Array.from({ length: 6 }, (_, i) => `eight-${i}@int.test`));
    });

    test(`${server.name}: verify accepts the 8-bit messages and the UTF-8 folder and exits 0`, todo(server.name, 'utf8-verify'), async () => {
      const r = await runCli(['verify', src, ...conn(s, u, pwFile)], env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /Verified: all 11 source message/);
    });

    test(`${server.name}: the 8-bit messages are stored byte for byte, or verify reports them as changed by the server`, todo(server.name, 'rewritten'), async () => {
      const stored = [...(await s.readSources(u, 'INBOX')).values()];
      const source = readdirSync(join(src, 'cur')).map((n) => readFileSync(join(src, 'cur', n)));
      const changed = source.filter((b) => !stored.some((x) => x.equals(b)));
      if (changed.length === 0) return; // the server kept every byte: nothing to report
      const r = await runCli(['verify', src, ...conn(s, u, pwFile)], env, 120_000);
      assert.match(r.stdout, new RegExp(`\\b${changed.length} message\\(s\\) changed by the server`, 'i'), `${changed.length} of ${source.length} messages differ on the server; verify said:\n${r.stdout}`);
      assert.equal(r.code, 0, 'a message the server changed is still found: verify passes');
      // --fast compares Message-ID and size only, and says so rather than passing the change off as checked.
      const fast = await runCli(['verify', src, ...conn(s, u, pwFile), '--fast'], env, 120_000);
      assert.equal(fast.code, 0, fast.stderr + fast.stdout);
      assert.match(fast.stdout, /Compared by Message-ID and size only \(--fast\)/);
    });
  });
}
