// "The server is the truth" (issue 11) against the embedded server, with UIDPLUS on and off and with a server that
// rewrites what it stores: every scenario ends with an exact census (each Message-ID counted on the server).
import assert from 'node:assert/strict';
import { cpSync, renameSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ImapServer } from '../../src/server/server.js';
import type { NewMessage } from '../../src/server/store.js';
import { importOnce, message, messageIdOf, tally, tempDir, withServer, writeCorpus } from './harness.js';

const N = 60;

/** Makes the server add a header to every message it stores (as servers that stamp Received or X-… do). */
function rewriting(server: ImapServer): void {
  const store = server.store as unknown as { append(name: string, items: readonly NewMessage[]): number[] };
  const original = store.append.bind(store);
  store.append = (name, items) =>
    original(name, items.map((it) => ({ ...it, data: Buffer.concat([Buffer.from('X-Stored-By: a rewriting server\r\n'), it.data]) })));
}

// Each test has its own embedded server and temp dir, and much of its time is the 3 s quiet wait of a fresh journal
// (src/migrate/folder-runs.ts): run side by side, a describe takes its longest test, not the sum (issue 13).
for (const variant of [
  { name: 'UIDPLUS on', uidplus: true, rewrite: false },
  { name: 'UIDPLUS off', uidplus: false, rewrite: false },
  { name: 'a server that adds a header to what it stores', uidplus: true, rewrite: true },
]) {
  describe(`re-runs check the server (embedded, ${variant.name})`, { concurrency: true }, () => {
    const start = async (t: Parameters<typeof withServer>[0]): Promise<ImapServer> => {
      const s = await withServer(t, { capabilities: { uidplus: variant.uidplus } });
      if (variant.rewrite) rewriting(s);
      return s;
    };

    test('a target wiped between runs gets everything again, and another run adds nothing', async (t) => {
      const s = await start(t);
      const dir = tempDir(t);
      const ids = writeCorpus(join(dir, 'src'), N, 'wipe', ['Work', 'Archive']);
      const journal = join(dir, 'j.jsonl');
      assert.equal((await importOnce(s, join(dir, 'src'), journal)).appended, N);
      for (const box of s.store.list()) if (box.name !== 'INBOX') s.store.delete(box.name);
      const inbox = s.store.get('INBOX')!;
      s.store.expunge(inbox, new Set(inbox.messages.map((m) => m.uid)));
      const again = await importOnce(s, join(dir, 'src'), journal);
      assert.equal(again.appended, N, 'everything sent again: the journal is not believed for a folder that changed');
      assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
      const third = await importOnce(s, join(dir, 'src'), journal);
      assert.equal(third.appended, 0);
      assert.equal(third.skippedBy.journal, N, 'a clean re-run skips by journal, checked by one STATUS per folder');
      assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
    });

    test('a fresh journal, or a copy of the source elsewhere, on a fully imported target adds nothing', async (t) => {
      const s = await start(t);
      const dir = tempDir(t);
      const ids = writeCorpus(join(dir, 'src'), N, 'fresh', ['Work']);
      assert.equal((await importOnce(s, join(dir, 'src'), join(dir, 'a.jsonl'))).appended, N);
      const fresh = await importOnce(s, join(dir, 'src'), join(dir, 'b.jsonl'));
      assert.equal(fresh.appended, 0);
      assert.equal(fresh.skippedBy.checked, N, 'found by reconciling with the server');
      cpSync(join(dir, 'src'), join(dir, 'copy'), { recursive: true });
      const copy = await importOnce(s, join(dir, 'copy'), join(dir, 'a.jsonl'));
      assert.equal(copy.appended, 0);
      assert.deepEqual(tally(s.store, ids), { source: N, onServer: N, duplicates: 0, lost: 0 });
    });

    test('a user message already in the folder is not duplicated, and a new source message arrives once', async (t) => {
      const s = await start(t);
      const dir = tempDir(t);
      const ids = writeCorpus(join(dir, 'src'), 10, 'pre');
      // The user already copied message 3 to the server with another tool.
      s.store.append('INBOX', [{ data: message(3, 'pre'), flags: [] }]);
      const r = await importOnce(s, join(dir, 'src'), join(dir, 'j.jsonl'));
      assert.equal(r.appended, 9);
      assert.equal(r.skippedBy.checked, 1);
      writeFileSync(join(dir, 'src', 'cur', '1800000000.M1P1.late:2,S'), message(99, 'pre'));
      const r2 = await importOnce(s, join(dir, 'src'), join(dir, 'j.jsonl'));
      assert.equal(r2.appended, 1);
      assert.deepEqual(tally(s.store, [...ids, messageIdOf(99, 'pre')]), { source: 11, onServer: 11, duplicates: 0, lost: 0 });
    });

    test('two different source messages with one Message-ID and size, only the second already on the server: both end up there once', async (t) => {
      const s = await start(t);
      const dir = tempDir(t);
      // Two drafts saved under one Message-ID, the same length; the server already holds the second.
      const draft = (text: string): Buffer => Buffer.from(`Message-ID: <draft@x>\r\nSubject: draft\r\nFrom: a@x\r\n\r\n${text}\r\n`);
      const [a, b] = [draft('text A'), draft('text B')];
      assert.equal(a.length, b.length);
      s.store.append('INBOX', [{ data: b, flags: [] }]);
      // An mbox, so the first draft is read first (a Maildir's order is the directory's).
      const from = 'From a@x Wed Jan  1 12:00:00 2020\n';
      writeFileSync(join(dir, 'drafts.mbox'), [a, b].map((m) => from + m.toString('latin1').replace(/\r\n/g, '\n')).join('\n'));
      const src = join(dir, 'drafts.mbox');
      const r = await importOnce(s, src, join(dir, 'j.jsonl'));
      assert.equal(r.appended, 1, 'the first draft, at first taken for the server copy by Message-ID and size, is sent');
      assert.equal(r.skippedBy.checked, 1, 'the second draft is the server copy');
      const bodies = s.store.get('INBOX')!.messages.map((m) => s.store.body(s.store.get('INBOX')!, m).toString('latin1'));
      assert.equal(bodies.length, 2);
      assert.equal(bodies.filter((x) => x.includes('text A')).length, 1);
      assert.equal(bodies.filter((x) => x.includes('text B')).length, 1);
      const again = await importOnce(s, src, join(dir, 'fresh.jsonl'));
      assert.equal(again.appended, 0, 'a fresh journal finds both');
    });
  });
}

// Tests side by side, as above: each has its own server and temp dir.
describe('re-runs check the server (embedded): flags, deleted mail and repeated names', { concurrency: true }, () => {
  test('a cutover pass brings flags changed in the source, and a flag the user set on the server survives', async (t) => {
    const s = await withServer(t);
    const dir = tempDir(t);
    const src = join(dir, 'src');
    writeCorpus(src, 6, 'flags');
    const journal = join(dir, 'j.jsonl');
    assert.equal((await importOnce(s, src, journal)).appended, 6);
    const cur = join(src, 'cur');
    const names = readdirSync(cur).sort();
    // In the source between passes: message 0 flagged, message 1 marked unread, message 2 answered.
    renameSync(join(cur, names[0]!), join(cur, names[0]!.replace(/:2,S$/, ':2,FS')));
    renameSync(join(cur, names[1]!), join(cur, names[1]!.replace(/:2,S$/, ':2,')));
    renameSync(join(cur, names[2]!), join(cur, names[2]!.replace(/:2,S$/, ':2,RS')));
    // On the server, the user flagged message 5 meanwhile.
    const inbox = s.store.get('INBOX')!;
    const m5 = inbox.messages.find((m) => s.store.body(inbox, m).includes(messageIdOf(5, 'flags')))!;
    s.store.setFlags(inbox, m5, new Set([...m5.flags, '\\Flagged']));
    const r = await importOnce(s, src, journal);
    assert.equal(r.appended, 0);
    assert.equal(r.flagsUpdated, 3);
    const flagsOf = (i: number): string[] => {
      const m = inbox.messages.find((x) => s.store.body(inbox, x).includes(messageIdOf(i, 'flags')))!;
      return [...m.flags].filter((f) => f !== '\\Recent').sort();
    };
    assert.deepEqual(flagsOf(0), ['\\Flagged', '\\Seen']);
    assert.deepEqual(flagsOf(1), []);
    assert.deepEqual(flagsOf(2), ['\\Answered', '\\Seen']);
    assert.deepEqual(flagsOf(5), ['\\Flagged', '\\Seen'], 'the flag the user set on the server is kept');
    const again = await importOnce(s, src, journal);
    assert.equal(again.flagsUpdated, 0, 'nothing left to update');
    const mirror = await importOnce(s, src, journal, { syncFlags: 'mirror' });
    assert.equal(mirror.flagsUpdated, 1, 'mirror removes the flag the source does not have');
    assert.deepEqual(flagsOf(5), ['\\Seen']);
  });

  test('a message marked deleted in the source is skipped and counted; --include-deleted imports it with \\Deleted', async (t) => {
    const s = await withServer(t);
    const dir = tempDir(t);
    const src = join(dir, 'src');
    const ids = writeCorpus(src, 4, 'del');
    const cur = join(src, 'cur');
    const victim = readdirSync(cur).sort()[2]!;
    renameSync(join(cur, victim), join(cur, victim.replace(/:2,S$/, ':2,ST')));
    const r = await importOnce(s, src, join(dir, 'j.jsonl'));
    assert.equal(r.appended, 3);
    assert.equal(r.skippedBy.deleted, 1);
    assert.equal(tally(s.store, ids).lost, 1);
    const r2 = await importOnce(s, src, join(dir, 'j.jsonl'), { includeDeleted: true });
    assert.equal(r2.appended, 1);
    const inbox = s.store.get('INBOX')!;
    const m = inbox.messages.find((x) => s.store.body(inbox, x).includes(messageIdOf(2, 'del')))!;
    assert.ok(m.flags.has('\\Deleted'));
    assert.deepEqual(tally(s.store, ids), { source: 4, onServer: 4, duplicates: 0, lost: 0 });
  });

  test('two different messages with the same Maildir unique name in cur/ and new/ both arrive, once each', async (t) => {
    const s = await withServer(t);
    const dir = tempDir(t);
    const src = join(dir, 'src');
    writeCorpus(src, 1, 'twin');
    writeFileSync(join(src, 'new', '1700000000.M0P1.reliability'), message(1, 'twin'));
    const ids = [messageIdOf(0, 'twin'), messageIdOf(1, 'twin')];
    const r = await importOnce(s, src, join(dir, 'j.jsonl'));
    assert.equal(r.appended, 2);
    const again = await importOnce(s, src, join(dir, 'j.jsonl'));
    assert.equal(again.appended, 0);
    assert.deepEqual(tally(s.store, ids), { source: 2, onServer: 2, duplicates: 0, lost: 0 });
  });

  test('a dry run reconciles read-only: it counts what is there and what would be sent, and changes nothing', async (t) => {
    const s = await withServer(t);
    const dir = tempDir(t);
    const src = join(dir, 'src');
    writeCorpus(src, 8, 'dry', ['Work']);
    s.store.create('Work');
    s.store.append('Work', [{ data: message(1, 'dry'), flags: [] }]);
    const before = JSON.stringify(s.store.list().map((b) => [b.name, b.messages.length]));
    const r = await importOnce(s, src, join(dir, 'j.jsonl'), { dryRun: true });
    assert.equal(r.appended, 7, 'would append');
    assert.equal(r.skippedBy.checked, 1);
    assert.equal(JSON.stringify(s.store.list().map((b) => [b.name, b.messages.length])), before);
  });
});
