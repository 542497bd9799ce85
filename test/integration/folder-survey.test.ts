// The folder survey (src/migrate/folder-survey.ts) against every real server of the harness: its pipelined bursts
// must settle exactly what the one-command-at-a-time control plane (imapflow) settles. The SELECT burst is told
// apart by order only, so each folder here gets a keyword of its own: the server then lists different FLAGS and
// PERMANENTFLAGS per folder, and an answer given to the wrong folder shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { transportIndexer } from '../../src/migrate/bulk-index.js';
import { FolderSurvey, SURVEY_DEPTH } from '../../src/migrate/folder-survey.js';
import { Connection } from '../../src/transport/connection.js';
import { realServers, type RunningServer } from '../helpers/imap-servers.js';

/** The subscribed folders (LSUB, RFC 3501 §6.3.9: on every server of the harness), names as sent. */
async function lsub(s: RunningServer): Promise<Set<string>> {
  const u = s.users[0]!;
  const conn = await Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: u.name, password: u.password } });
  try {
    const r = await conn.command('LSUB', [{ atom: '""' }, { atom: '"*"' }], { untagged: ['LSUB'] });
    return new Set(
      r.untagged.map((x) => {
        const name = (x.kind === 'untagged' ? x.text : '').replace(/^\([^)]*\) (?:"[^"]*"|NIL) /, '');
        return name.startsWith('"') ? name.slice(1, -1).replace(/\\(.)/g, '$1') : name;
      }),
    );
  } finally {
    await conn.close();
  }
}

const msg = (i: number): Buffer => Buffer.from(`Message-ID: <survey-${i}@test.invalid>\r\nSubject: survey ${i}\r\n\r\nbody ${i}\r\n`);

for (const server of realServers) {
  const skip = server.skipReason();
  describe(`folder survey on ${server.name}`, { skip: skip ? `${server.name}: ${skip}` : false }, () => {
    let s: RunningServer;
    let plane: ControlPlane;
    let survey: FolderSurvey;
    before(async () => {
      s = await server.start();
      const u = s.users[0]!;
      plane = await ControlPlane.connect({ host: '127.0.0.1', port: s.port, secure: false, starttls: 'off', user: u.name, password: u.password });
      survey = new FolderSurvey(() => Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: u.name, password: u.password }, pipelineDepth: SURVEY_DEPTH }));
    });
    after(async () => {
      await survey?.close();
      await plane?.close();
      await s?.stop();
    });

    test(`${server.name}: a nested tree is created in one burst, parents first, subscribed; what exists stays as it was`, async () => {
      const paths = [['Survey'], ['Survey', 'A'], ['Survey', 'A', 'Deep'], ['Survey', 'B'], ['Survey', 'Unsubscribed']].map((p) => s.folderFor(p));
      await plane.ensureFolder(['Survey']);
      const out = await survey.create(paths.map((path) => ({ path, subscribe: !path.endsWith('Unsubscribed') })));
      // The existing one: [ALREADYEXISTS] where the server says so, else left to the careful path — never "created".
      assert.notEqual(out.get(paths[0]!), 'created');
      for (const p of paths.slice(1)) assert.equal(out.get(p), 'created', `${p}: ${JSON.stringify(out.get(p))}`);
      const listed = new Set((await plane.listFolders()).map((f) => f.path));
      for (const p of paths) assert.ok(listed.has(p), `${p} is listed: ${[...listed].join(', ')}`);
      // The SUBSCRIBEs are not waited for by create(): the next burst on the survey's connection comes after them.
      await survey.status([paths[1]!]);
      const subscribed = await lsub(s);
      for (const p of paths.slice(1, 4)) assert.ok(subscribed.has(p), `${p} is subscribed: ${[...subscribed].join(', ')}`);
      assert.equal(subscribed.has(paths[4]!), false, 'unless the source left it out');
    });

    test(`${server.name}: the survey's folder list (NAMESPACE and LIST right after its login) equals the control plane's, folder by folder`, async () => {
      // Names that take the mUTF-7 path both ways, an "&", a nested tree and a special-use folder where the server
      // lets one be created (CREATE-SPECIAL-USE): what an admin's account holds.
      for (const parts of [['Größe'], ['Entwürfe', '日本'], ['A & B'], ['Liste', 'Unter', 'Tief']]) await plane.ensureFolder(parts);
      if (plane.capabilities.has('CREATE-SPECIAL-USE')) await plane.ensureFolder(['Gesendet'], '\\Sent');
      const u = s.users[0]!;
      const fresh = new FolderSurvey(() => Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: u.name, password: u.password }, pipelineDepth: SURVEY_DEPTH }));
      try {
        const listing = await fresh.listing({ inbox: () => true }).listing;
        assert.ok(listing, 'every server of the harness offers NAMESPACE: the survey lists');
        // INBOX's first look, taken in the same burst, equals the control plane's one at a time.
        assert.deepEqual(listing.inbox?.status, await plane.status('INBOX'));
        const flags = await plane.permanentFlags('INBOX');
        assert.deepEqual(listing.inbox?.flags && { flags: [...listing.inbox.flags.flags].sort(), anyKeyword: listing.inbox.flags.anyKeyword }, { flags: [...flags.flags].sort(), anyKeyword: flags.anyKeyword });
        assert.equal(listing.prefix, plane.namespacePrefix());
        assert.equal(listing.delimiter, await plane.delimiter());
        const shape = (f: { path: string; wire: string; delimiter: string; specialUse?: string | undefined; flags: string[] }): string =>
          JSON.stringify([f.path, f.wire, f.delimiter, f.specialUse ?? null, [...f.flags].sort()]);
        const ours = listing.folders.map(shape).sort();
        const theirs = (await plane.listFolders()).map(shape).sort();
        assert.deepEqual(ours, theirs);
        for (const name of ['Größe', 'Entwürfe', '日本', 'A & B', 'Tief']) assert.ok(listing.folders.some((f) => f.name.at(-1) === name), `${name} listed: ${ours.join(' ')}`);
      } finally {
        await fresh.close();
      }
    });

    test(`${server.name}: STATUS and PERMANENTFLAGS of many folders in bursts equal the control plane's, folder by folder`, async () => {
      const u = s.users[0]!;
      const paths = [...Array(12).keys()].map((i) => s.folderFor(['Kw', `F${i}`]));
      await survey.create([s.folderFor(['Kw']), ...paths].map((path) => ({ path, subscribe: true })));
      // Folder i holds i messages, each with the keyword $Ki: FLAGS and PERMANENTFLAGS differ from folder to folder.
      const conn = await Connection.open({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: u.name, password: u.password }, pipelineDepth: 1 });
      try {
        for (const [i, path] of paths.entries()) {
          for (let k = 0; k < i; k++) await conn.append(path, [{ mailbox: path, data: msg(i * 100 + k), flags: ['\\Seen', `$K${i}`], internalDate: new Date() }]);
        }
      } finally {
        await conn.close();
      }
      const ahead = survey.permanentFlagsOf(paths);
      let distinct = 0;
      const statuses = await survey.status(paths);
      for (const [i, path] of paths.entries()) {
        const one = await plane.permanentFlags(path);
        const got = await ahead.get(path);
        assert.deepEqual(got && { flags: [...got.flags].sort(), anyKeyword: got.anyKeyword }, { flags: [...one.flags].sort(), anyKeyword: one.anyKeyword }, path);
        if (i > 0 && one.flags.some((f) => f.startsWith('$K'))) {
          assert.ok(got!.flags.includes(`$K${i}`), `${path} lists its own keyword: ${got!.flags.join(' ')}`);
          distinct++;
        }
        assert.deepEqual(statuses.get(path), await plane.status(path), path);
        assert.equal(statuses.get(path)!.messages, i);
      }
      // Every server of the harness lists a folder's keywords (measured: 11 of 11 on each), so the comparison above
      // tells the folders apart: a SELECT's answers given to its neighbour would have failed it.
      assert.equal(distinct, paths.length - 1);
      // Asked after the SELECT burst: not from the selected folder's stale view (the last one holds 11).
      const again = await survey.status([paths[11]!]);
      assert.equal(again.get(paths[11]!)!.messages, 11);
    });

    test(`${server.name}: the bulk reader's pipelined reads of the same 12 folders at once give each folder its own messages, and bodies behind an EXAMINE of their own`, async () => {
      // The folders of the test above: folder i holds i messages, ids survey-(i·100+k), keyword $Ki.
      const u = s.users[0]!;
      const paths = [...Array(12).keys()].map((i) => s.folderFor(['Kw', `F${i}`]));
      const indexer = transportIndexer({ host: '127.0.0.1', port: s.port, tls: 'none', auth: { user: u.name, password: u.password } });
      try {
        const seen = paths.map(() => [] as string[]);
        const reads = await Promise.all(paths.map((path, i) => indexer(path, (e) => seen[i]!.push(`${e.messageId} ${e.flags.filter((f) => f.startsWith('$K')).join(' ')}`))));
        for (const [i, r] of reads.entries()) {
          assert.equal(r.exists, i, paths[i]);
          const want = [...Array(i).keys()].map((k) => `<survey-${i * 100 + k}@test.invalid> $K${i}`);
          // Some servers keep a keyword only where PERMANENTFLAGS allowed it: compare the ids, and the keyword where kept.
          assert.deepEqual(seen[i]!.map((x) => x.split(' ')[0]).sort(), want.map((x) => x.split(' ')[0]).sort(), paths[i]);
          for (const x of seen[i]!) assert.ok(!/\$K\d+/.test(x) || x.endsWith(` $K${i}`), `${paths[i]}: ${x}`);
        }
        // Folder 5's bodies after folder 11 was the last examined: its EXAMINE goes with the FETCH.
        const uids: number[] = [];
        await indexer(paths[5]!, (e) => uids.push(e.uid));
        await indexer(paths[11]!, () => undefined);
        const bodies = new Map<number, string>();
        await indexer.fetchBodies(paths[5]!, uids, (uid, data) => bodies.set(uid, data.toString('latin1')));
        assert.deepEqual([...bodies.values()].map((b) => /Message-ID: (<[^>]+>)/.exec(b)?.[1]).sort(), [...Array(5).keys()].map((k) => `<survey-${500 + k}@test.invalid>`).sort());
      } finally {
        await indexer.close();
      }
    });
  });
}
