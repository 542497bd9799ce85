// Several folders at once (src/migrate/folder-lanes.ts) on real servers: Courier, where the import takes one lane per
// connection by itself (one connection a folder), and Dovecot with --folders-at-once 3. A tree of four folders, with a
// Maildir unique name repeated in cur/ and new/ (two messages, journal ids numbered in the order met), imported in
// lanes must land exactly once in the right folders and pass verify; killed with SIGKILL mid-import and re-run, with
// its journal and with a fresh one, every folder must hold its messages exactly once.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeMaildir } from '../../src/bench/corpus.js';
import { binarySkipReason, runCli, startCli } from '../cli/cli-helpers.js';
import { realServers, type RunningServer, type ServerName, type ServerUser } from '../helpers/imap-servers.js';

const COUNT = 600;
const FOLDERS = [[], ['Lists'], ['Work'], ['Archive']] as const;
// ~100 of 600 messages journalled (as kill-rerun-cases.ts).
const KILL_AT_JOURNAL_BYTES = 16 * 1024;

const cases: Array<{ server: ServerName; extra: string[]; lanes: number }> = [
  { server: 'courier', extra: [], lanes: 2 },
  { server: 'dovecot', extra: ['--folders-at-once', '3'], lanes: 3 },
];

/** Message-ID of a message file. */
function idOf(path: string): string {
  const head = readFileSync(path, 'latin1').split(/\r?\n\r?\n/)[0] ?? '';
  return /^Message-ID:\s*<([^>]+)>/im.exec(head)?.[1] ?? `(none: ${path})`;
}

/** Deals the corpus round-robin into the tree's folders; returns each folder's Message-IDs. */
function dealTree(src: string): Map<string, string[]> {
  const names = readdirSync(join(src, 'cur')).sort();
  const expected = new Map<string, string[]>(FOLDERS.map((f) => [f.join('/'), []]));
  names.forEach((n, i) => {
    const folder = FOLDERS[i % FOLDERS.length]!;
    const dir = folder.length ? join(src, `.${folder.join('.')}`) : src;
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    if (folder.length) renameSync(join(src, 'cur', n), join(dir, 'cur', n));
    expected.get(folder.join('/'))!.push(idOf(join(dir, 'cur', n)));
  });
  // The same unique name in cur/ and new/ of Work: two different messages (journal ids "x" and "x#2").
  const work = join(src, '.Work');
  for (const [sub, name, id] of [['cur', '1700000000.M1P1.twin:2,S', 'twin-cur@lanes.test'], ['new', '1700000000.M1P1.twin', 'twin-new@lanes.test']] as const) {
    writeFileSync(join(work, sub, name), `From: a@example.org\r\nSubject: twin ${sub}\r\nDate: Mon, 1 Apr 2024 10:00:00 +0000\r\nMessage-ID: <${id}>\r\n\r\nbody ${sub}\r\n`);
    expected.get('Work')!.push(id);
  }
  return expected;
}

function journalBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

for (const c of cases) {
  const server = realServers.find((s) => s.name === c.server)!;
  const skip = server.skipReason() ?? binarySkipReason();
  if (skip) console.log(`# folder-lane tests on ${c.server} skipped: ${skip}`);

  describe(`folders at once on ${c.server}`, { skip }, () => {
    let s: RunningServer;
    let work: string;
    let src: string;
    let expected: Map<string, string[]>;
    const total = (): number => [...expected.values()].reduce((a, b) => a + b.length, 0);

    before(async () => {
      s = await server.start({ users: ['tree', 'killed', 'lost', 'merged'] });
      work = mkdtempSync(join(tmpdir(), `mm-lanes-${c.server}-`));
      src = join(work, 'Maildir');
      await writeMaildir(src, COUNT, { seed: 1628, size: 900 });
      expected = dealTree(src);
    });
    after(async () => {
      await s?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const login = (u: ServerUser): string[] => {
      const pw = join(work, `${u.name}.pw`);
      writeFileSync(pw, `${u.password}\n`, { mode: 0o600 });
      return ['--host', s.host, '--port', String(s.port), '--user', u.name, '--plain', '--password-file', pw];
    };
    const argsFor = (u: ServerUser, journal: string, more: string[] = []): { args: string[]; env: Record<string, string> } => ({
      args: ['import', src, ...login(u), '--journal', journal, '--quiet', ...c.extra, ...more],
      env: { XDG_STATE_HOME: join(work, `state-${u.name}`) },
    });

    /** The test's own account: Dovecot's helper has one user, whose folders are emptied first so the tests stay apart. */
    async function account(i: number): Promise<ServerUser> {
      const u = s.users[i];
      if (u) return u;
      const shared = s.users[0]!;
      for (const folder of expected.keys()) await s.emptyFolder(shared, s.folderFor(folder ? folder.split('/') : [])).catch(() => undefined);
      return shared;
    }

    /** Every folder holds exactly its source messages, each once. */
    async function assertEveryFolderExact(u: ServerUser, note: string): Promise<void> {
      for (const [folder, ids] of expected) {
        const stored = (await s.listMessages(u, s.folderFor(folder ? folder.split('/') : []))).map((m) => (m.messageId ?? '').trim().replace(/^<|>$/g, ''));
        const twice = stored.filter((id, i) => stored.indexOf(id) !== i);
        assert.deepEqual(twice, [], `${note}: ${folder || 'INBOX'} holds no message twice`);
        assert.deepEqual([...stored].sort(), [...ids].sort(), `${note}: ${folder || 'INBOX'} holds exactly its ${ids.length} messages`);
      }
    }

    test(`${c.server}: a tree imported ${c.lanes} folders at once lands exactly once in the right folders, and verify passes`, async () => {
      const u = await account(0);
      const report = join(work, 'tree.report.json');
      const { args, env } = argsFor(u, join(work, 'tree.journal'), ['--report', report]);
      const r = await runCli(args, env, 120_000);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = JSON.parse(readFileSync(report, 'utf8')) as { appended: number; foldersAtOnce: number; failed: number };
      assert.equal(rep.foldersAtOnce, c.lanes, 'the folders filled at once');
      assert.equal(rep.appended, total());
      assert.equal(rep.failed, 0);
      await assertEveryFolderExact(u, 'after the import');
      // The same command again: the journal and the server agree, nothing is sent.
      const again = await runCli(args, env, 120_000);
      assert.equal(again.code, 0, again.stderr + again.stdout);
      assert.equal((JSON.parse(readFileSync(report, 'utf8')) as { appended: number }).appended, 0, 'a re-run sends nothing');
      const v = await runCli(['verify', src, ...login(u)], env, 120_000);
      assert.equal(v.code, 0, v.stderr + v.stdout);
      await assertEveryFolderExact(u, 'after the re-run');
    });

    test(`${c.server}: two source folders merged into one by --map go through one lane: each message once, twice run`, async () => {
      // A fresh account: Courier's fourth user; Dovecot's one user, emptied (account() with an index it has no user for).
      const u = await account(c.server === 'courier' ? 3 : 4);
      const report = join(work, 'merge.report.json');
      const { args, env } = argsFor(u, join(work, `${u.name}-merge.journal`), ['--map', 'Lists=Work', '--report', report]);
      for (const round of ['first run', 're-run']) {
        const r = await runCli(args, env, 120_000);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        const rep = JSON.parse(readFileSync(report, 'utf8')) as { appended: number; foldersAtOnce: number };
        assert.equal(rep.appended, round === 'first run' ? total() : 0, round);
        const merged = [...expected.get('Lists')!, ...expected.get('Work')!].sort();
        const stored = (await s.listMessages(u, s.folderFor(['Work']))).map((m) => (m.messageId ?? '').trim().replace(/^<|>$/g, '')).sort();
        assert.deepEqual(stored, merged, `${round}: Work holds both source folders' messages, each once`);
      }
    });

    for (const [name, fresh] of [['its journal', false], ['a fresh journal', true]] as const) {
      test(`${c.server}: a tree import in lanes killed with SIGKILL and re-run with ${name} leaves every folder's messages exactly once`, async () => {
        const u = await account(fresh ? 2 : 1);
        const first = join(work, `${u.name}-${fresh ? 'lost' : 'kept'}-1.journal`);
        const { args, env } = argsFor(u, first, ['--batch', '10']);
        const { child, done } = startCli(args, env);
        const started = Date.now();
        let finished = false;
        void done.then(() => (finished = true));
        while (!finished && Date.now() - started < 30_000) {
          if (journalBytes(first) >= KILL_AT_JOURNAL_BYTES) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        child.kill('SIGKILL');
        await done;
        let landed = 0;
        for (const folder of expected.keys()) landed += await s.countMessages(u, s.folderFor(folder ? folder.split('/') : []));
        assert.ok(landed > 0 && landed < total(), `the kill landed mid-import (${landed} of ${total()} on the server)`);
        const rerun = argsFor(u, fresh ? join(work, `${u.name}-lost-2.journal`) : first, ['--batch', '10']);
        const again = await runCli(rerun.args, rerun.env, 180_000);
        assert.equal(again.code, 0, again.stderr + again.stdout);
        await assertEveryFolderExact(u, `killed at ${landed}, re-run with ${name}`);
      });
    }
  });
}
