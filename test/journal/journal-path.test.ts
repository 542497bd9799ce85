import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { accountJournalPath, journalDirectory } from '../../src/journal/journal-path.js';
import { canonicalAccount } from '../../src/migrate/account.js';

test('the journal directory is under $XDG_STATE_HOME when it is absolute, else ~/.local/state', () => {
  assert.equal(journalDirectory({ XDG_STATE_HOME: '/srv/state' }), '/srv/state/mailmigrate/journals');
  assert.equal(journalDirectory({ XDG_STATE_HOME: 'relative/state' }), join(homedir(), '.local/state/mailmigrate/journals'));
  assert.equal(journalDirectory({}), join(homedir(), '.local/state/mailmigrate/journals'));
});

test('the file name is a readable slug of the account plus a short hash, ending in .jsonl', () => {
  const p = accountJournalPath('imap://alice@192.0.2.7:993', { XDG_STATE_HOME: '/s' });
  assert.equal(dirname(p), '/s/mailmigrate/journals');
  assert.match(basename(p), /^alice@192\.0\.2\.7_993-[0-9a-f]{12}\.jsonl$/);
});

const resolver = (table: Record<string, string[]>) => async (host: string) => {
  const a = table[host.toLowerCase()];
  if (!a) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return a;
};

test('one account however the host and user are spelled: localhost and 127.0.0.1, BENCH and bench, a trailing dot', async () => {
  const r = resolver({ localhost: ['::1', '127.0.0.1'], 'mail.example.org': ['192.0.2.7', '2001:db8::7'] });
  const a = await canonicalAccount({ host: 'localhost', port: 143, user: 'bench' }, r);
  assert.equal(a, 'imap://bench@127.0.0.1:143');
  assert.equal(await canonicalAccount({ host: '127.0.0.1', port: 143, user: 'BENCH' }, r), a);
  assert.equal(await canonicalAccount({ host: '::ffff:127.0.0.1', port: 143, user: 'Bench' }, r), a);
  const m = await canonicalAccount({ host: 'MAIL.example.org', port: 993, user: 'alice' }, r);
  assert.equal(m, 'imap://alice@192.0.2.7:993');
  assert.equal(await canonicalAccount({ host: '192.0.2.7', port: 993, user: 'Alice' }, r), m);
  assert.equal(await canonicalAccount({ host: '[2001:DB8:0::1]', port: 993, user: 'a' }, r), 'imap://a@[2001:db8::1]:993');
});

test('another port, user or server is another account, and a host that does not resolve keeps its lower-cased name', async () => {
  const r = resolver({ 'mail.example.org': ['192.0.2.7'], 'other.example.org': ['192.0.2.8'] });
  const base = await canonicalAccount({ host: 'mail.example.org', port: 993, user: 'alice' }, r);
  const variants = [
    await canonicalAccount({ host: 'mail.example.org', port: 143, user: 'alice' }, r),
    await canonicalAccount({ host: 'mail.example.org', port: 993, user: 'bob' }, r),
    await canonicalAccount({ host: 'other.example.org', port: 993, user: 'alice' }, r),
  ];
  for (const v of variants) assert.notEqual(v, base);
  assert.equal(await canonicalAccount({ host: 'Gone.Example.', port: 993, user: 'alice' }, r), 'imap://alice@gone.example:993');
});

test('hostile characters in a user name never escape the journal directory or make an overlong name', async () => {
  const account = await canonicalAccount({ host: '192.0.2.1', port: 1, user: 'u/../..\n' + 'x'.repeat(400) });
  const p = accountJournalPath(account, { XDG_STATE_HOME: '/s' });
  assert.equal(dirname(p), '/s/mailmigrate/journals');
  assert.ok(basename(p).length < 120);
  assert.doesNotMatch(basename(p), /[/\n]/);
});
