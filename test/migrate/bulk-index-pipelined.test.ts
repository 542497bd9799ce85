// The bulk index sends a folder's EXAMINE and its UID FETCH together (bulk-index.ts readFolder): one round trip a
// folder. A scripted server on real TCP: it holds its answer to an EXAMINE until the FETCH behind it has arrived (or
// a second has passed), so the test tells a pipelined pair from one that waited. And the two ways pipelining could go
// wrong: an EXAMINE refused by a server that still answers the FETCH (from the folder selected before, as a server
// that does not deselect on a failed EXAMINE would) must hand over nothing; an empty folder whose FETCH the server
// refuses is an empty folder, not an error.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { transportIndexer } from '../../src/migrate/bulk-index.js';

interface Script {
  /** Lines of the EXAMINE answer (untagged) and its tagged status, per folder. */
  examine(name: string): { untagged: string[]; status: string };
  /** The FETCH answer for the folder named by the EXAMINE before it, whatever that EXAMINE's outcome. */
  fetch(name: string): { untagged: string[]; status: string };
}

async function scripted(t: TestContext, script: Script) {
  const log: string[] = [];
  const server = net.createServer((sock) => {
    sock.write('* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n');
    let buf = '';
    let lastExamined = '';
    let held: { tag: string; name: string; timer: NodeJS.Timeout } | undefined;
    const answerExamine = (tag: string, name: string): void => {
      const a = script.examine(name);
      sock.write(a.untagged.map((l) => `* ${l}\r\n`).join('') + `${tag} ${a.status}\r\n`);
    };
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const [tag, verb, ...rest] = line.split(' ');
        const cmd = `${verb} ${rest[0] ?? ''}`.toUpperCase();
        if (verb === 'LOGIN') sock.write(`${tag} OK [CAPABILITY IMAP4rev1 LITERAL+] logged in\r\n`);
        else if (verb === 'EXAMINE') {
          const name = rest.join(' ').replace(/^"|"$/g, '');
          lastExamined = name;
          log.push(`EXAMINE ${name}`);
          // Held until the FETCH behind it arrives, a second at most.
          held = { tag: tag!, name, timer: setTimeout(() => { log.push('EXAMINE answered alone'); answerExamine(tag!, name); held = undefined; }, 1000) };
        } else if (cmd.startsWith('UID FETCH')) {
          log.push(`FETCH ${held ? 'pipelined' : 'after the answer'}`);
          if (held) {
            clearTimeout(held.timer);
            answerExamine(held.tag, held.name);
            held = undefined;
          }
          const a = script.fetch(lastExamined);
          sock.write(a.untagged.map((l) => `* ${l}\r\n`).join('') + `${tag} ${a.status}\r\n`);
        } else if (verb === 'LOGOUT') {
          sock.end(`* BYE\r\n${tag} OK bye\r\n`);
        } else sock.write(`${tag} BAD unexpected\r\n`);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const indexer = transportIndexer({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, tls: 'none', auth: { user: 'u', password: 'p' } });
  t.after(() => indexer.close());
  return { indexer, log };
}

const fetchLine = (uid: number, size: number, id: string): string =>
  `${uid} FETCH (UID ${uid} RFC822.SIZE ${size} FLAGS (\\Seen) BODY[HEADER.FIELDS (MESSAGE-ID)] "Message-ID: <${id}>")`;

test('a folder costs one round trip: the UID FETCH is on the wire before the EXAMINE is answered, and the entries are the folder\'s', async (t) => {
  const { indexer, log } = await scripted(t, {
    examine: () => ({ untagged: ['2 EXISTS', 'OK [UIDVALIDITY 7] ok'], status: 'OK [READ-ONLY] done' }),
    fetch: () => ({ untagged: [fetchLine(1, 100, 'a@x'), fetchLine(2, 200, 'b@x')], status: 'OK done' }),
  });
  const seen: string[] = [];
  for (const box of ['A', 'B']) {
    const r = await indexer(box, (e) => seen.push(`${box}:${e.uid}:${e.size}:${e.messageId}`));
    assert.deepEqual(r, { exists: 2, uidValidity: 7 });
  }
  assert.deepEqual(log, ['EXAMINE A', 'FETCH pipelined', 'EXAMINE B', 'FETCH pipelined']);
  assert.deepEqual(seen, ['A:1:100:<a@x>', 'A:2:200:<b@x>', 'B:1:100:<a@x>', 'B:2:200:<b@x>']);
});

test('a refused EXAMINE hands over nothing, even when the server answers the FETCH behind it from the folder selected before', async (t) => {
  const { indexer } = await scripted(t, {
    examine: (name) => (name === 'Gone' ? { untagged: [], status: 'NO [NONEXISTENT] no such mailbox' } : { untagged: ['1 EXISTS', 'OK [UIDVALIDITY 3] ok'], status: 'OK done' }),
    // A server that kept the previous folder selected after the failed EXAMINE.
    fetch: () => ({ untagged: [fetchLine(9, 900, 'other-folder@x')], status: 'OK done' }),
  });
  await indexer('A', () => undefined);
  const seen: number[] = [];
  await assert.rejects(indexer('Gone', (e) => seen.push(e.uid)), /NONEXISTENT|no such mailbox/);
  assert.deepEqual(seen, [], 'entries of another folder were handed over as this one\'s');
  // The connection is still usable (or replaced) for the next folder.
  const r = await indexer('A', () => undefined);
  assert.equal(r.exists, 1);
});

test('an empty folder is empty even when the server refuses `UID FETCH 1:*` on it', async (t) => {
  const { indexer } = await scripted(t, {
    examine: () => ({ untagged: ['0 EXISTS', 'OK [UIDVALIDITY 5] ok'], status: 'OK done' }),
    fetch: () => ({ untagged: [], status: 'BAD Error in IMAP command UID FETCH: Invalid uidset' }),
  });
  const seen: number[] = [];
  const r = await indexer('Empty', (e) => seen.push(e.uid));
  assert.deepEqual(r, { exists: 0, uidValidity: 5 });
  assert.deepEqual(seen, []);
});

test('a FETCH that fails on a folder with messages fails the read: no half-read folder', async (t) => {
  const { indexer } = await scripted(t, {
    examine: () => ({ untagged: ['2 EXISTS', 'OK [UIDVALIDITY 5] ok'], status: 'OK done' }),
    fetch: () => ({ untagged: [fetchLine(1, 100, 'a@x')], status: 'NO [SERVERBUG] internal error' }),
  });
  const seen: number[] = [];
  await assert.rejects(indexer('Box', (e) => seen.push(e.uid)), /internal error|SERVERBUG/);
  assert.deepEqual(seen, []);
});
