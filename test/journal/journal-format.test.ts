import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/journal/journal.js';
import {
  decodeLine,
  encodeConfirmedGroups,
  encodeSentGroups,
  type ConfirmedEntry,
  type JournalRecord,
  type SentEntry,
} from '../../src/journal/journal-record.js';

const header = { account: 'imap://u@192.0.2.7:993' };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mm-journal-format-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const decodeAll = (lines: readonly string[]): JournalRecord[] => lines.flatMap((l) => decodeLine(l.trimEnd()) ?? assert.fail(`not decodable: ${l}`));

const sentEntries: SentEntry[] = [
  { id: 'maildir:INBOX/1700000001.M1P1.höst,S=4096:2,S', mailbox: 'INBOX', messageId: '<1@example.org>', size: 4100, rawSize: 4096, fingerprint: 'abcdefghijklmnopqrstuv' },
  { id: 'maildir:INBOX/1700000002.M2P1.höst,S=10', mailbox: 'INBOX', size: 10, rawSize: 10 },
  { id: 'maildir:INBOX/1700000003.M3P1.höst', mailbox: 'INBOX', messageId: '<3@example.org>', size: 77 }, // raw size unknown
  { id: 'maildir:Sent/1700000004.M4P1.höst', mailbox: 'Sent', size: 5, rawSize: 5 },
  { id: '日本語/😀a', mailbox: 'Entwürfe', size: 1, rawSize: 1 },
  { id: '日本語/😀b', mailbox: 'Entwürfe', size: 65536, rawSize: 65535 },
];

test('sent entries round-trip through format 3 group lines, one line per mailbox, every field kept', () => {
  const lines = encodeSentGroups(sentEntries);
  assert.equal(lines.length, 3, 'INBOX, Sent and Entwürfe');
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  const back = decodeAll(lines);
  const byMailbox = (es: readonly SentEntry[]): SentEntry[] => [...es].sort((a, b) => a.mailbox.localeCompare(b.mailbox) || a.id.localeCompare(b.id));
  assert.deepEqual(byMailbox(back.map((r) => (assert.equal(r.kind, 'sent'), r.entry as SentEntry))), byMailbox(sentEntries));
  assert.ok(lines[0]!.includes('"p":"maildir:INBOX/170000000"'), `the common id prefix is written once: ${lines[0]}`);
});

test('a group never cuts a surrogate pair in its id prefix', () => {
  const e = (id: string): SentEntry => ({ id, mailbox: 'X', size: 1, rawSize: 1 });
  // Two emoji sharing their high surrogate: a prefix ending between the halves would not be valid text.
  const lines = encodeSentGroups([e('a😀'), e('a😁')]);
  assert.ok(!/\\ud83d"/i.test(lines[0]!), lines[0]);
  assert.deepEqual(decodeAll(lines).map((r) => (r.entry as SentEntry).id), ['a😀', 'a😁']);
});

test('confirmations round-trip through group lines, split by mailbox and UIDVALIDITY; uid and flags optional', () => {
  const entries: ConfirmedEntry[] = [
    { id: 'p/1', mailbox: 'INBOX', uid: 41, uidValidity: 7, flags: ['\\Seen'] },
    { id: 'p/2', mailbox: 'INBOX', uid: 42, uidValidity: 7, flags: [] },
    { id: 'p/3', mailbox: 'INBOX', uidValidity: 8 },
    { id: 'p/4', mailbox: 'INBOX', uidValidity: 8, uid: 1, flags: ['$Label1', '\\Flagged'] },
    { id: 'p/5', mailbox: 'Sent' },
  ];
  const lines = encodeConfirmedGroups(entries);
  assert.equal(lines.length, 3);
  const back = decodeAll(lines).map((r) => r.entry as ConfirmedEntry);
  // Empty flag lists are not written (a confirmation without flags means none); everything else comes back.
  assert.deepEqual(back, [
    { id: 'p/1', mailbox: 'INBOX', uid: 41, uidValidity: 7, flags: ['\\Seen'] },
    { id: 'p/2', mailbox: 'INBOX', uid: 42, uidValidity: 7 },
    { id: 'p/3', mailbox: 'INBOX', uidValidity: 8 },
    { id: 'p/4', mailbox: 'INBOX', uidValidity: 8, uid: 1, flags: ['$Label1', '\\Flagged'] },
    { id: 'p/5', mailbox: 'Sent' },
  ]);
});

test('a malformed group is refused whole, not read in part', () => {
  assert.equal(decodeLine('{"S":"INBOX","p":"a","e":[["1",10,0,0],["2",-1,0,0]]}'), undefined, 'a negative size');
  assert.equal(decodeLine('{"S":"INBOX","p":"a","e":[["1",10,0]]}'), undefined, 'a short row');
  assert.equal(decodeLine('{"S":"INBOX","e":[["1",10,0,0]]}'), undefined, 'no prefix');
  assert.equal(decodeLine('{"C":"INBOX","p":"a","e":[["1","x"]]}'), undefined, 'a uid that is not a number');
  assert.equal(decodeLine('{"C":"INBOX","p":"a","e":[["1",3,[1]]]}'), undefined, 'flags that are not strings');
  assert.equal(decodeLine('{"C":"INBOX","p":"a","v":-2,"e":[]}'), undefined, 'a negative UIDVALIDITY');
  assert.deepEqual(decodeLine('{"S":"INBOX","p":"a","e":[["1",10,0,0,null]]}'), [{ kind: 'sent', entry: { id: 'a1', mailbox: 'INBOX', size: 10 } }]);
});

test('a new journal writes groups, is replayed to the same state, and costs far fewer bytes per message than format 2', async (t) => {
  const dir = tempDir(t);
  const n = 500;
  const entries = (box: string): SentEntry[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `maildir:${box}/17000${String(i).padStart(5, '0')}.M${i}P4242.mail.example.org`,
      mailbox: box,
      messageId: `<${i}.${box}@mail.example.org>`,
      size: 4000 + i,
      rawSize: 4000 + i,
      fingerprint: 'x'.repeat(22),
    }));
  const run = async (path: string): Promise<Journal> => {
    const j = await Journal.open(path, header);
    for (const box of ['INBOX', 'Archive']) {
      const es = entries(box);
      for (let i = 0; i < n; i += 50) {
        const batch = es.slice(i, i + 50);
        await j.recordSent(batch);
        j.recordConfirmed(batch.map((e, k) => ({ id: e.id, mailbox: box, uid: i + k + 1, uidValidity: 99, flags: k % 3 ? ['\\Seen'] : [] })));
      }
    }
    await j.close();
    return Journal.open(path, header);
  };
  const v3 = join(dir, 'v3.jsonl');
  const r = await run(v3);
  t.after(() => r.close());
  assert.equal(r.header.version, 3);
  assert.deepEqual(r.counts, { confirmed: 2 * n, sent: 0, failed: 0 });
  const last = r.lookup('Archive', entries('Archive')[n - 1]!.id);
  assert.deepEqual(last, { state: 'confirmed', uid: n, rawSize: 4000 + n - 1, flags: ['\\Seen'] });

  // The same run against a format 2 journal (its header written by hand, as an older mailmigrate did).
  const v2 = join(dir, 'v2.jsonl');
  writeFileSync(v2, JSON.stringify({ mailmigrate: 'journal', v: 2, account: header.account, created: new Date().toISOString() }) + '\n');
  const old = await run(v2);
  t.after(() => old.close());
  assert.equal(old.header.version, 2);
  assert.deepEqual(old.counts, r.counts);
  assert.ok(!readFileSync(v2, 'utf8').includes('"S":'), 'a format 2 journal is appended to in format 2, so its writer can still read it');
  const perMessage = (p: string): number => readFileSync(p).length / (2 * n);
  console.log(`# journal bytes per message: format 2 ${perMessage(v2).toFixed(0)}, format 3 ${perMessage(v3).toFixed(0)}`);
  assert.ok(perMessage(v3) < 0.75 * perMessage(v2), `format 3 ${perMessage(v3)} B/msg vs format 2 ${perMessage(v2)} B/msg`);
});

test('format 2 records are still read, mixed with format 3 groups in one file', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  writeFileSync(
    path,
    [
      JSON.stringify({ mailmigrate: 'journal', v: 3, account: header.account, created: '2026-01-01T00:00:00.000Z' }),
      '{"s":"old","b":"INBOX","m":"<o@x>","z":12,"w":11,"f":"ffffffffffffffffffffff"}',
      '{"c":"old","b":"INBOX","u":5,"v":9,"l":["\\\\Seen"]}',
      '{"S":"INBOX","p":"n","e":[["1",20,"<1@x>",0],["2",30,0,0,29]]}',
      '{"C":"INBOX","p":"n","v":9,"e":[["1",6,["\\\\Answered"]]]}',
      '',
    ].join('\n'),
  );
  const j = await Journal.open(path, header);
  t.after(() => j.close());
  assert.deepEqual(j.lookup('INBOX', 'old'), { state: 'confirmed', uid: 5, rawSize: 11, flags: ['\\Seen'] });
  assert.deepEqual(j.lookup('INBOX', 'n1'), { state: 'confirmed', uid: 6, rawSize: 20, flags: ['\\Answered'] });
  assert.deepEqual(j.lookup('INBOX', 'n2'), { state: 'sent', entry: { id: 'n2', mailbox: 'INBOX', size: 30, rawSize: 29 } });
});

test('a torn group line is dropped whole: none of its messages count as sent', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  await j.recordSent([{ id: 'a', mailbox: 'INBOX', size: 1, rawSize: 1 }]);
  await j.close();
  const group = encodeSentGroups(['b', 'c', 'd'].map((id) => ({ id, mailbox: 'INBOX', size: 2, rawSize: 2 })))[0]!;
  appendFileSync(path, group.slice(0, group.length - 9)); // cut inside the last entry, no newline
  const r = await Journal.open(path, header);
  t.after(() => r.close());
  assert.equal(r.repaired?.line, 3);
  assert.deepEqual(r.counts, { confirmed: 0, sent: 1, failed: 0 });
  assert.equal(r.lookup('INBOX', 'b'), undefined);
});

test('confirmed messages share one frozen flag list per distinct set of flags', async (t) => {
  const path = join(tempDir(t), 'j.jsonl');
  const j = await Journal.open(path, header);
  t.after(() => j.close());
  j.recordConfirmed([
    { id: 'a', mailbox: 'INBOX', uid: 1, flags: ['\\Seen'] },
    { id: 'b', mailbox: 'INBOX', uid: 2, flags: ['\\Seen'] },
  ]);
  const a = j.lookup('INBOX', 'a');
  const b = j.lookup('INBOX', 'b');
  assert.ok(a?.state === 'confirmed' && b?.state === 'confirmed');
  assert.equal(a.flags, b.flags, 'the same array, not two copies');
  assert.ok(Object.isFrozen(a.flags));
});
