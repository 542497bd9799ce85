// The bulk index pipelines its reads (bulk-index.ts): a folder's EXAMINE and UID FETCH go together, and folders read
// ahead of the walk go right behind one another — one round trip for all of them. A scripted server on real TCP
// holds its answers until it has received the commands a test expects to arrive together (or a second has passed),
// so the test tells pipelined commands from ones that waited. And the ways pipelining could go wrong: an EXAMINE
// refused by a server that still answers the FETCH (from the folder selected before, as a server that does not
// deselect on a failed EXAMINE would) must hand over nothing, for an index and for bodies alike; an empty folder
// whose FETCH the server refuses is an empty folder, not an error.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { transportIndexer } from '../../src/migrate/bulk-index.js';

interface Folder {
  /** null: EXAMINE refused. */
  readonly messages: ReadonlyArray<{ uid: number; id: string; body: string }> | null;
  /** UID FETCH 1:* refused (a server that will not fetch from an empty folder). */
  readonly refuseFetch?: boolean;
}

/**
 * A server whose folders are `folders`. It answers nothing until `batch()` command lines have arrived since its last
 * answer (or a second passed), then answers them in order; a refused EXAMINE leaves the previous folder selected,
 * as a non-compliant server would, so a FETCH behind it answers from that folder.
 */
async function scripted(t: TestContext, folders: Record<string, Folder>, batch: () => number) {
  const arrivals: string[] = [];
  const server = net.createServer((sock) => {
    sock.write('* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n');
    let buf = '';
    let selected: string | undefined;
    let queue: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const answer = (line: string): string => {
      const [tag, verb, ...rest] = line.split(' ');
      if (verb === 'LOGIN') return `${tag} OK [CAPABILITY IMAP4rev1 LITERAL+] logged in\r\n`;
      if (verb === 'LOGOUT') return `* BYE\r\n${tag} OK bye\r\n`;
      if (verb === 'EXAMINE') {
        const name = rest.join(' ').replace(/^"|"$/g, '');
        const f = folders[name];
        if (!f || f.messages === null) return `${tag} NO [NONEXISTENT] no such mailbox\r\n`;
        selected = name;
        return `* ${f.messages.length} EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n${tag} OK [READ-ONLY] done\r\n`;
      }
      if (verb === 'UID' && rest[0] === 'FETCH') {
        const f = selected ? folders[selected] : undefined;
        if (!f || !f.messages) return `${tag} BAD no mailbox selected\r\n`;
        if (f.refuseFetch) return `${tag} BAD Error in IMAP command UID FETCH: Invalid uidset\r\n`;
        const bodies = rest.join(' ').includes('BODY.PEEK[]');
        const want = rest[1] === '1:*' ? undefined : new Set(rest[1]!.split(',').flatMap((r) => {
          const [lo, hi = lo] = r.split(':').map(Number);
          return Array.from({ length: hi! - lo! + 1 }, (_, k) => lo! + k);
        }));
        let out = '';
        for (const m of f.messages) {
          if (want && !want.has(m.uid)) continue;
          out += bodies
            ? `* ${m.uid} FETCH (UID ${m.uid} BODY[] {${m.body.length}}\r\n${m.body})\r\n`
            : `* ${m.uid} FETCH (UID ${m.uid} RFC822.SIZE ${m.body.length} FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] "Message-ID: <${m.id}>")\r\n`;
        }
        return `${out}${tag} OK done\r\n`;
      }
      return `${tag} BAD unexpected\r\n`;
    };
    const flush = (): void => {
      clearTimeout(timer);
      timer = undefined;
      const lines = queue;
      queue = [];
      sock.write(lines.map(answer).join(''));
    };
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const [, verb, ...rest] = line.split(' ');
        if (verb === 'LOGIN') {
          sock.write(answer(line));
          continue;
        }
        if (verb === 'LOGOUT') {
          sock.end(answer(line));
          return;
        }
        arrivals.push(`${verb === 'UID' ? 'FETCH' : verb} ${verb === 'EXAMINE' ? rest.join(' ').replace(/^"|"$/g, '') : rest.slice(1).join(' ').includes('BODY.PEEK[]') ? 'bodies' : 'index'}${queue.length === 0 ? '' : ' (pipelined)'}`);
        queue.push(line);
        if (queue.length >= batch()) flush();
        else timer ??= setTimeout(flush, 1000);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const indexer = transportIndexer({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, tls: 'none', auth: { user: 'u', password: 'p' } });
  t.after(() => indexer.close());
  return { indexer, arrivals };
}

const msgs = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ({ uid: i + 1, id: `${tag}${i + 1}@x`, body: `Message-ID: <${tag}${i + 1}@x>\r\n\r\n${tag} body ${i + 1}\r\n` }));

test('a folder costs one round trip: its UID FETCH is on the wire before the EXAMINE is answered', async (t) => {
  const { indexer, arrivals } = await scripted(t, { A: { messages: msgs('a', 2) }, B: { messages: msgs('b', 3) } }, () => 2);
  const seen: string[] = [];
  for (const box of ['A', 'B']) {
    const r = await indexer(box, (e) => seen.push(`${box}:${e.uid}:${e.messageId}`));
    assert.equal(r.uidValidity, 7);
  }
  assert.deepEqual(arrivals, ['EXAMINE A', 'FETCH index (pipelined)', 'EXAMINE B', 'FETCH index (pipelined)']);
  assert.deepEqual(seen, ['A:1:<a1@x>', 'A:2:<a2@x>', 'B:1:<b1@x>', 'B:2:<b2@x>', 'B:3:<b3@x>']);
});

test('folders read ahead go behind one another: three folders, six commands, one round trip, each folder its own entries', async (t) => {
  const { indexer, arrivals } = await scripted(t, { A: { messages: msgs('a', 2) }, B: { messages: msgs('b', 1) }, C: { messages: msgs('c', 3) } }, () => 6);
  const seen: Record<string, string[]> = { A: [], B: [], C: [] };
  const reads = ['A', 'B', 'C'].map((box) => indexer(box, (e) => seen[box]!.push(e.messageId!)));
  const results = await Promise.all(reads);
  assert.deepEqual(results.map((r) => r.exists), [2, 1, 3]);
  assert.deepEqual(arrivals, ['EXAMINE A', 'FETCH index (pipelined)', 'EXAMINE B (pipelined)', 'FETCH index (pipelined)', 'EXAMINE C (pipelined)', 'FETCH index (pipelined)']);
  assert.deepEqual(seen, { A: ['<a1@x>', '<a2@x>'], B: ['<b1@x>'], C: ['<c1@x>', '<c2@x>', '<c3@x>'] });
});

test('a refused EXAMINE hands over nothing, even when the server answers the FETCH behind it from the folder selected before; the reads around it are unharmed', async (t) => {
  const { indexer } = await scripted(t, { A: { messages: msgs('a', 2) }, Gone: { messages: null }, C: { messages: msgs('c', 1) } }, () => 6);
  const seen: string[] = [];
  const [a, gone, c] = await Promise.allSettled(['A', 'Gone', 'C'].map((box) => indexer(box, (e) => seen.push(`${box}:${e.messageId}`))));
  assert.equal(a?.status, 'fulfilled');
  assert.equal(gone?.status, 'rejected');
  assert.match(String((gone as PromiseRejectedResult).reason), /NONEXISTENT|no such mailbox/);
  assert.equal(c?.status, 'fulfilled');
  assert.deepEqual(seen, ['A:<a1@x>', 'A:<a2@x>', 'C:<c1@x>'], 'entries of another folder were handed over as Gone\'s');
});

test('bodies of a folder read before another: an EXAMINE of their own goes with them, and they are handed over once it succeeded; under a refused one, none', async (t) => {
  const folders: Record<string, Folder> = { A: { messages: msgs('a', 2) }, B: { messages: msgs('b', 2) } };
  const { indexer, arrivals } = await scripted(t, folders, () => 2);
  await indexer('A', () => undefined);
  await indexer('B', () => undefined);
  const bodies = new Map<number, string>();
  await indexer.fetchBodies('A', [1, 2], (uid, data) => bodies.set(uid, data.toString('latin1')));
  assert.deepEqual(arrivals.slice(-2), ['EXAMINE A', 'FETCH bodies (pipelined)']);
  assert.deepEqual([...bodies.entries()], [[1, msgs('a', 2)[0]!.body], [2, msgs('a', 2)[1]!.body]]);
  // Behind the EXAMINE of the folder itself: no second EXAMINE.
  await indexer.fetchBodies('A', [2], () => undefined);
  assert.equal(arrivals.at(-1), 'FETCH bodies');
  // B disappears; the server keeps A selected after refusing the EXAMINE and answers the FETCH from A.
  (folders as Record<string, Folder>).B = { messages: null };
  const wrong: number[] = [];
  await assert.rejects(indexer.fetchBodies('B', [1, 2], (uid) => wrong.push(uid)), /NONEXISTENT|no such mailbox/);
  assert.deepEqual(wrong, [], 'bodies of A were handed over as B\'s');
});

test('an empty folder is empty even when the server refuses `UID FETCH 1:*` on it', async (t) => {
  const { indexer } = await scripted(t, { Empty: { messages: [], refuseFetch: true } }, () => 2);
  const seen: number[] = [];
  const r = await indexer('Empty', (e) => seen.push(e.uid));
  assert.deepEqual(r, { exists: 0, uidValidity: 7 });
  assert.deepEqual(seen, []);
});

test('a FETCH refused on a folder with messages fails the read: no half-read folder', async (t) => {
  const { indexer } = await scripted(t, { Box: { messages: msgs('x', 2), refuseFetch: true } }, () => 2);
  const seen: number[] = [];
  await assert.rejects(indexer('Box', (e) => seen.push(e.uid)), /Invalid uidset/);
  assert.deepEqual(seen, []);
});
