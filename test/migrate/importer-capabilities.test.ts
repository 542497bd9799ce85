import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importOnce, tally, tempDir, withServer, writeCorpus } from '../reliability/harness.js';

// The same import against servers that offer less: what Gmail offers (no MULTIAPPEND, LITERAL- only, so every
// message over 4 KiB waits for '+'), and a bare IMAP4rev1 server (no LITERAL+/-, no MULTIAPPEND, no UIDPLUS).
// The defaults must degrade to what each server allows, pipelining around synchronizing literals, and lose nothing.
const SERVERS = [
  ['Gmail-like (LITERAL- only, no MULTIAPPEND)', { literalPlus: false, literalMinus: true, multiappend: false }],
  ['bare IMAP4rev1 (no LITERAL+/-, no MULTIAPPEND, no UIDPLUS)', { literalPlus: false, literalMinus: false, multiappend: false, uidplus: false }],
  ['full (LITERAL+, MULTIAPPEND, UIDPLUS)', {}],
] as const;

for (const [name, capabilities] of SERVERS) {
  test(`the default import arrives exactly once on a ${name} server`, async (t) => {
    const server = await withServer(t, { capabilities });
    const dir = tempDir(t);
    const src = join(dir, 'src');
    // 2000-byte messages go non-synchronizing under LITERAL-, 6000-byte ones must wait for '+'.
    const ids = writeCorpus(src, 60, 'small', ['Work'], 2000);
    const big = writeCorpus(join(dir, 'src2'), 40, 'big', ['Work'], 6000);
    const r1 = await importOnce(server, src, join(dir, 'j1.jsonl'), { batch: 50, pool: { connections: 2, pipelineDepth: 4 } });
    const r2 = await importOnce(server, join(dir, 'src2'), join(dir, 'j2.jsonl'), { batch: 50, pool: { connections: 2, pipelineDepth: 4 } });
    assert.equal(r1.failed + r2.failed, 0, JSON.stringify([...r1.failures, ...r2.failures]));
    assert.equal(r1.appended + r2.appended, 100);
    const tl = tally(server.store, [...ids, ...big]);
    assert.deepEqual(tl, { source: 100, onServer: 100, duplicates: 0, lost: 0 });
    const appends = [...r1.records, ...r2.records].filter((r) => r.verb === 'APPEND' && r.outcome?.status === 'OK');
    const synchronizing = appends.filter((r) => r.syncWaits.length > 0).length;
    if ('literalPlus' in capabilities) assert.ok(synchronizing >= 40, `${synchronizing} APPENDs waited for '+'`);
    else assert.equal(synchronizing, 0, 'LITERAL+ servers never make us wait for a continuation');
    const multi = appends.some((r) => r.messages > 1);
    assert.equal(multi, !('multiappend' in capabilities), 'MULTIAPPEND used exactly when offered');
    if ('literalPlus' in capabilities) assert.ok(appends.some((r) => r.depthAtSend > 0), 'still pipelined around synchronizing literals');
  });
}

test('a message with NUL bytes goes as a BINARY literal8 where the server offers BINARY, and fails clearly where not', async (t) => {
  for (const binary of [true, false]) {
    const server = await withServer(t, { capabilities: { binary } });
    const dir = tempDir(t);
    const src = join(dir, `src-${binary}`);
    const ids = writeCorpus(src, 5, `nul${binary}`, [], 1500);
    // One more message whose body holds a NUL byte (RFC 3516 allows it only in literal8).
    writeFileSync(
      join(src, 'cur', '1700000999.M999P1.reliability:2,S'),
      Buffer.concat([Buffer.from(`Message-ID: <nul-${binary}@x>\r\nSubject: nul\r\n\r\nbefore`), Buffer.from([0]), Buffer.from('after\r\n')]),
    );
    const r = await importOnce(server, src, join(dir, `j-${binary}.jsonl`), { batch: 10 });
    if (binary) {
      assert.equal(r.failed, 0, JSON.stringify(r.failures));
      assert.deepEqual(tally(server.store, [...ids, `<nul-${binary}@x>`]), { source: 6, onServer: 6, duplicates: 0, lost: 0 });
      const box = server.store.list().find((b) => b.name === 'INBOX')!;
      assert.ok(box.messages.some((m) => server.store.body(box, m).includes(0)), 'the NUL byte arrived intact');
    } else {
      assert.equal(r.failed, 1);
      assert.equal(r.failures[0]!.code, 'E_SOURCE_NUL');
      assert.deepEqual(tally(server.store, ids), { source: 5, onServer: 5, duplicates: 0, lost: 0 });
    }
  }
});
