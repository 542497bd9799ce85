import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { defaultJournalPath, journalDirectory } from '../../src/journal/journal-path.js';

const target = { host: 'Mail.Example.org', port: 993, user: 'alice', folderPrefix: 'Imported' };

test('the journal directory is under $XDG_STATE_HOME when it is absolute, else ~/.local/state', () => {
  assert.equal(journalDirectory({ XDG_STATE_HOME: '/srv/state' }), '/srv/state/mailmigrate/journals');
  assert.equal(journalDirectory({ XDG_STATE_HOME: 'relative/state' }), join(homedir(), '.local/state/mailmigrate/journals'));
  assert.equal(journalDirectory({}), join(homedir(), '.local/state/mailmigrate/journals'));
});

test('the file name is a readable slug plus a short hash, ending in .jsonl', () => {
  const p = defaultJournalPath(['/home/alice/Maildir'], target, { XDG_STATE_HOME: '/s' });
  assert.equal(dirname(p), '/s/mailmigrate/journals');
  assert.match(basename(p), /^maildir-to-alice@mail\.example\.org-[0-9a-f]{12}\.jsonl$/);
});

test('the same import maps to the same journal however its roots are spelled or ordered', () => {
  const env = { XDG_STATE_HOME: '/s' };
  const a = defaultJournalPath(['/m/a/', '/m/b'], target, env);
  const b = defaultJournalPath(['/m/b', '/m/x/../a'], { ...target, host: 'mail.example.org' }, env);
  assert.equal(a, b);
});

test('a different source, host, port, user or folder prefix gets a different journal', () => {
  const env = { XDG_STATE_HOME: '/s' };
  const base = defaultJournalPath(['/m/a'], target, env);
  const variants = [
    defaultJournalPath(['/other/a'], target, env), // same basename, different parent
    defaultJournalPath(['/m/a'], { ...target, host: 'other.example' }, env),
    defaultJournalPath(['/m/a'], { ...target, port: 143 }, env),
    defaultJournalPath(['/m/a'], { ...target, user: 'bob' }, env),
    defaultJournalPath(['/m/a'], { ...target, folderPrefix: undefined }, env),
  ];
  for (const v of variants) assert.notEqual(v, base);
  assert.equal(new Set(variants).size, variants.length);
});

test('hostile characters in names never escape the journal directory or make an overlong name', () => {
  const p = defaultJournalPath(['/m/../../etc/' + 'x'.repeat(400)], { host: 'h/../../x', port: 1, user: 'u/..\n' }, {
    XDG_STATE_HOME: '/s',
  });
  assert.equal(dirname(p), '/s/mailmigrate/journals');
  assert.ok(basename(p).length < 120);
  assert.doesNotMatch(basename(p), /[/\n]/);
});
