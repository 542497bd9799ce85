import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagApplication } from '../../src/migrate/flag-application.js';
import { ImportTally } from '../../src/migrate/import-tally.js';
import type { ServerControl } from '../../src/migrate/server-lookup.js';
import type { FolderRuns } from '../../src/migrate/folder-runs.js';
import type { RunStop } from '../../src/migrate/import-types.js';
import type { SourceMessage } from '../../src/core/types.js';

// wanted() answers synchronously once a folder's PERMANENTFLAGS are known (one promise fewer per message); these
// tests hold it to the same answers as before: the flags the folder keeps, the others counted as dropped.

/** The one control-plane call wanted() makes, answered from a table; counts the calls. */
function control(perm: Record<string, { flags: string[]; anyKeyword: boolean } | Error>): ServerControl & { calls: number } {
  const c = {
    calls: 0,
    permanentFlags(path: string): Promise<{ flags: string[]; anyKeyword: boolean }> {
      c.calls++;
      const r = perm[path];
      if (r === undefined) return Promise.reject(new Error(`no folder ${path}`));
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
  };
  return c as unknown as ServerControl & { calls: number };
}

function app(ctl: ServerControl, tally: ImportTally, includeDeleted = false): FlagApplication {
  return new FlagApplication(ctl, undefined, {} as FolderRuns, tally, {} as RunStop, { syncFlags: 'off', includeDeleted, dryRun: false });
}

const msg = (flags: string[], deleted = false): SourceMessage => ({ flags, deleted }) as unknown as SourceMessage;

test('flags the folder does not keep are dropped and counted, the first message and every later one alike', async () => {
  const ctl = control({ INBOX: { flags: ['\\Seen', '\\Flagged', '$Forwarded'], anyKeyword: false } });
  const tally = new ImportTally();
  const fa = app(ctl, tally);
  const first = fa.wanted(msg(['\\Seen', '\\Draft', 'Work']), 'INBOX', true);
  assert.ok(first instanceof Promise, 'the first message of a folder waits for PERMANENTFLAGS');
  assert.deepEqual(await first, ['\\Seen']);
  const later = fa.wanted(msg(['\\SEEN', '$forwarded', 'Work', '\\Draft']), 'INBOX', true);
  assert.ok(Array.isArray(later), 'once known, the answer is synchronous');
  assert.deepEqual(later, ['\\SEEN', '$forwarded']);
  assert.deepEqual(tally.flagsDropped, { '\\Draft': 2, Work: 2 });
  assert.equal(ctl.calls, 1, 'PERMANENTFLAGS are asked once per folder');
});

test('a folder that accepts any keyword keeps keywords but not unknown system flags', async () => {
  const tally = new ImportTally();
  const fa = app(control({ A: { flags: ['\\Seen'], anyKeyword: true } }), tally);
  assert.deepEqual(await fa.wanted(msg(['Work', '\\Answered', '\\Seen']), 'A', false), ['Work', '\\Seen']);
  assert.deepEqual(fa.wanted(msg(['Home', '\\Answered']), 'A', false), ['Home']);
  assert.deepEqual(tally.flagsDropped, {}, 'count=false counts nothing');
});

test('when PERMANENTFLAGS cannot be read every flag is kept, and a message without flags needs no look-up', async () => {
  const ctl = control({ B: new Error('SELECT failed') });
  const tally = new ImportTally();
  const fa = app(ctl, tally, true);
  assert.deepEqual(fa.wanted(msg([]), 'B', true), []);
  assert.equal(ctl.calls, 0);
  assert.deepEqual(await fa.wanted(msg(['\\Seen'], true), 'B', true), ['\\Seen', '\\Deleted']);
  assert.deepEqual(fa.wanted(msg(['X']), 'B', true), ['X']);
  assert.deepEqual(tally.flagsDropped, {});
});

test('folders are told apart: a flag kept in one may be dropped in another', async () => {
  const tally = new ImportTally();
  const fa = app(control({ A: { flags: ['\\Seen', '\\Flagged'], anyKeyword: false }, B: { flags: ['\\Seen'], anyKeyword: false } }), tally);
  assert.deepEqual(await fa.wanted(msg(['\\Flagged']), 'A', true), ['\\Flagged']);
  assert.deepEqual(await fa.wanted(msg(['\\Flagged']), 'B', true), []);
  assert.deepEqual(fa.wanted(msg(['\\Flagged']), 'A', true), ['\\Flagged']);
  assert.deepEqual(tally.flagsDropped, { '\\Flagged': 1 });
});
