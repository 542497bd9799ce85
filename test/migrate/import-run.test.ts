import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES } from '../cli/cli-helpers.js';

// The import use case as a library user calls it (issue 13: options in, report out), through the package's own
// "exports" (a self-reference by name resolves exactly as it would for a dependant).

test('the package exports the import use case, and an import into the embedded server reports every message', async () => {
  const api = await import('mailmigrate');
  const records: unknown[] = [];
  const onRecord = (r: unknown): void => void records.push(r);
  diagnosticsChannel.subscribe(api.RECORD_CHANNEL, onRecord);
  try {
    const events: string[] = [];
    let embedded: boolean | undefined;
    const run = new api.ImportRun(
      {
        sources: [join(FIXTURES, 'maildir')], target: undefined, connections: 1, pipeline: 2, folderPrefix: [],
        folderRules: new api.FolderRules(), readThreads: 0, noDelay: true, literal: 'auto', write: 'coalesce', syncFlags: 'changed',
      },
      { target: (t) => (embedded = t.embedded), event: (e) => events.push(e.type) },
    );
    const { report, outcome } = await run.run();
    assert.equal(embedded, true, 'no target: the embedded server');
    assert.equal(outcome, 'complete');
    // fixtures/maildir: 8 messages, one marked deleted (skipped unless includeDeleted).
    assert.equal(report.total, 8);
    assert.equal(report.appended, 7);
    assert.equal(report.skippedBy.deleted, 1);
    assert.equal(report.failed, 0);
    assert.equal(report.journal, null, "the embedded server's journal is temporary, so none is reported");
    assert.ok(records.length > 0, 'timing records were published on the channel');
    assert.ok(events.includes('folder-created'));
  } finally {
    diagnosticsChannel.unsubscribe(api.RECORD_CHANNEL, onRecord);
  }
});

test('the outcome is the exit class: interrupted before partial, partial when anything failed', async () => {
  const { importOutcome } = await import('mailmigrate');
  assert.equal(importOutcome({ failed: 0, interrupted: false }), 'complete');
  assert.equal(importOutcome({ failed: 3, interrupted: false }), 'partial');
  assert.equal(importOutcome({ failed: 3, interrupted: true }), 'interrupted');
});

test('a journal path with the embedded server is refused before anything starts', async () => {
  const { ImportRun, FolderRules } = await import('mailmigrate');
  let started = false;
  const run = new ImportRun(
    {
      sources: [join(FIXTURES, 'maildir')], target: undefined, journal: '/tmp/x.jsonl', connections: 1, pipeline: 1, folderPrefix: [],
      folderRules: new FolderRules(), readThreads: 0, noDelay: true, literal: 'auto', write: 'coalesce', syncFlags: 'changed',
    },
    { target: () => (started = true) },
  );
  await assert.rejects(run.run(), (e: Error & { code?: string }) => e.code === 'E_CONFIG' && /--journal/.test(e.message));
  assert.equal(started, false);
});
