import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailmigrateError, ServerResponseError } from '../../src/core/errors.js';
import { encodeMutf7 } from '../../src/core/mutf7.js';
import { mapFolder } from '../../src/migrate/folder-map.js';
import { FolderRuns } from '../../src/migrate/folder-runs.js';
import { createTree, FolderRenames, locateRepaired, repairLevel, type TreeTarget } from '../../src/migrate/folder-tree.js';
import type { ServerControl } from '../../src/migrate/server-lookup.js';

/** A server that refuses names the way Cyrus does (\ % " ! { } ; < > | ` and controls), and levels over 255 bytes. */
class RefusingServer {
  readonly folders = new Set<string>(['INBOX']);
  readonly creates: string[] = [];
  constructor(
    readonly delimiter: string,
    readonly prefix = '',
    readonly fail?: (path: string) => Error | undefined,
  ) {}
  control(): ServerControl {
    const refused = (path: string): boolean => /[\\%"!{};<>|`\u0000-\u001f]/.test(path) || path.split(this.delimiter).some((l) => encodeMutf7(l).length > 255);
    return {
      delimiter: async () => this.delimiter,
      namespacePrefix: async () => this.prefix,
      listFolders: async () => [...this.folders].map((path) => ({ path })),
      ensureFolder: async (path: string) => {
        this.creates.push(path);
        const err = this.fail?.(path);
        if (err) throw err;
        if (this.folders.has(path)) return false;
        if (refused(path)) throw new ServerResponseError('CREATE', 'NO', undefined, 'Invalid mailbox name', 'never');
        // Parents are created too, as ControlPlane.ensureFolder does.
        const levels = path.split(this.delimiter);
        for (let i = 1; i <= levels.length; i++) this.folders.add(levels.slice(0, i).join(this.delimiter));
        return true;
      },
      folderStatus: async (path: string) => (this.folders.has(path) ? { messages: 0, uidNext: 1, uidValidity: 1 } : undefined),
      permanentFlags: async () => ({ flags: [], anyKeyword: true }),
      indexFolder: async () => ({ exists: 0, uidValidity: 1 }),
      storeFlags: async () => undefined,
      findByMessageId: async () => [],
      listMessages: async () => [],
      fetchBody: async () => Buffer.alloc(0),
    };
  }
}

async function run(server: RefusingServer, sourceFolders: string[][]) {
  const control = server.control();
  const renames = new FolderRenames(server.delimiter);
  const runs = new FolderRuns(control, undefined, false);
  const repairs: string[] = [];
  const created: string[] = [];
  const sf = { delimiter: server.delimiter, specialUse: new Map<string, string>(), namespacePrefix: server.prefix };
  const targets: TreeTarget[] = sourceFolders.map((parts) => ({ source: parts.join('/'), mapped: { ...mapFolder(parts, sf), subscribe: true } }));
  await createTree(targets, {
    control,
    runs,
    renames,
    delimiter: server.delimiter,
    namespacePrefix: server.prefix,
    onRepair: (r) => repairs.push(r),
    onCreated: (p) => created.push(p),
  });
  const target = (parts: string[]): string => renames.apply(mapFolder(parts, sf).path);
  return { renames, runs, repairs, created, target };
}

test('a refused level is repaired by replacing the characters servers refuse with "_"; a clean name is left alone', () => {
  assert.equal(repairLevel('Clients "VIP" 50%!', '/'), 'Clients _VIP_ 50__');
  assert.equal(repairLevel('a\\b{c}|d<e>;f`g', '.'), 'a_b_c__d_e__f_g');
  assert.equal(repairLevel('~backup', '/'), '_backup', 'Dovecot refuses a name starting with "~"');
  assert.equal(repairLevel('tab\there', '/'), 'tab_here');
  assert.equal(repairLevel('Café (2019) – Ärger & Co', '/'), 'Café (2019) _ Ärger & Co', 'letters of any script, parentheses and & stay');
  assert.equal(repairLevel('Отправленные', '/'), 'Отправленные');
  assert.equal(repairLevel('"', '/'), '_');
});

test('a level too long for the server is cut below 255 bytes of modified UTF-7, with a tag that keeps two long names apart', () => {
  const a = repairLevel('é'.repeat(150) + 'a', '/');
  const b = repairLevel('é'.repeat(150) + 'b', '/');
  assert.ok(encodeMutf7(a).length <= 200, `${encodeMutf7(a).length} bytes`);
  assert.notEqual(a, b);
  assert.equal(repairLevel('é'.repeat(150) + 'a', '/'), a, 'deterministic');
  assert.equal(repairLevel('x'.repeat(300), '/').length, 200);
});

test('folder names Cyrus refuses are created under repaired names, subfolders follow their parent, and the repair is reported', async () => {
  const server = new RefusingServer('.', 'INBOX.');
  const { repairs, created, target, runs } = await run(server, [['Work'], ['Clients "VIP"'], ['Clients "VIP"', 'A|B'], ['Work', '50%']]);
  assert.equal(target(['Clients "VIP"']), 'INBOX.Clients _VIP_');
  assert.equal(target(['Clients "VIP"', 'A|B']), 'INBOX.Clients _VIP_.A_B');
  assert.equal(target(['Work', '50%']), 'INBOX.Work.50_', 'an existing parent keeps its name');
  assert.equal(target(['Work']), 'INBOX.Work');
  assert.deepEqual(created.sort(), ['INBOX.Clients _VIP_', 'INBOX.Clients _VIP_.A_B', 'INBOX.Work', 'INBOX.Work.50_']);
  assert.equal(repairs.length, 3);
  assert.match(repairs.join('\n'), /"INBOX\.Clients "VIP"" refused by the server \(Invalid mailbox name\); created as "INBOX\.Clients _VIP_"/);
  // The per-folder report names the refused name beside the one used.
  await runs.get('INBOX.Clients _VIP_');
  const row = (await runs.report()).find((f) => f.target === 'INBOX.Clients _VIP_')!;
  assert.equal(row.refusedName, 'INBOX.Clients "VIP"');
  assert.equal(row.existed, false);
  assert.equal(row.created, true);
});

test('a repaired name that another source folder already uses gets a tag, so the two folders stay apart', async () => {
  const server = new RefusingServer('/');
  const { target } = await run(server, [['a%b'], ['a_b']]);
  assert.equal(target(['a_b']), 'a_b');
  assert.match(target(['a%b']), /^a_b_[0-9a-f]{6}$/);
  // The same source, again, repairs to the same name (a re-run finds what it sent).
  const again = await run(server, [['a%b'], ['a_b']]);
  assert.equal(again.target(['a%b']), target(['a%b']));
  assert.deepEqual(again.created, []);
});

test('a folder refused for another reason than its name, or not reachable, is left for the messages to report', async () => {
  const server = new RefusingServer('/', '', (p) =>
    p === 'Locked'
      ? new ServerResponseError('CREATE', 'NO', 'NOPERM', 'Permission denied', 'never')
      : p === 'Busy "now"'
        ? new ServerResponseError('CREATE', 'NO', 'UNAVAILABLE', 'try again later', 'later')
        : p === 'Gone'
          ? new MailmigrateError('E_IMAP', 'connection lost', 'now')
          : undefined,
  );
  const { target, repairs, created } = await run(server, [['Locked'], ['Gone'], ['Busy "now"'], ['Fine']]);
  assert.equal(target(['Locked']), 'Locked', 'nothing to repair in the name: no second CREATE under another name');
  assert.equal(target(['Gone']), 'Gone');
  // A refusal that is not about the name ([UNAVAILABLE]) is not repaired, though the name has characters to repair:
  // once the server is back, the folder would exist under two names and the mail be split over them.
  assert.equal(target(['Busy "now"']), 'Busy "now"');
  assert.deepEqual(repairs, []);
  assert.deepEqual(created, ['Fine']);
  assert.deepEqual(server.creates.filter((c) => c === 'Locked'), ['Locked'], 'CREATE tried once');
  assert.deepEqual(server.creates.filter((c) => c.startsWith('Busy')), ['Busy "now"']);
});

test('renames apply to the folder and everything below it, and nothing else', () => {
  const r = new FolderRenames('/');
  r.record('a%b', 'a_b');
  assert.equal(r.apply('a%b'), 'a_b');
  assert.equal(r.apply('a%b/c/d'), 'a_b/c/d');
  assert.equal(r.apply('a%bc'), 'a%bc');
  assert.equal(r.apply('x/a%b'), 'x/a%b');
});

test('verify finds a refused folder where the import created it: the tagged form first, then the plain repair', async () => {
  const server = new RefusingServer('/');
  const { target } = await run(server, [['a%b'], ['a_b'], ['50%']]);
  const deps = { control: server.control(), delimiter: '/', namespacePrefix: '' };
  assert.equal(await locateRepaired('a%b', deps), target(['a%b']));
  assert.equal(await locateRepaired('50%', deps), '50_');
  assert.equal(await locateRepaired('Plain', deps), undefined, 'nothing to repair in the name');
  assert.equal(await locateRepaired('x%y', deps), undefined, 'no repaired folder on the server either');
});
