import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { importOptionSpecs } from '../../src/cli/commands/batch.js';
import { buildProgram } from '../../src/cli/program.js';
import { ConfigError } from '../../src/core/errors.js';
import { parseAccountsCsv, readAccountsCsv, type AccountsCsvOptions } from '../../src/fleet/accounts-csv.js';

// The import flags as the CLI hands them over: the real registered `import` command, so these tests follow it.
const program = await buildProgram();
const options = (extra: Partial<AccountsCsvOptions> = {}): AccountsCsvOptions => ({
  importOptions: importOptionSpecs(program),
  defaultConnections: 2,
  ...extra,
});

function problems(text: string, o = options()): string {
  try {
    parseAccountsCsv(text, '/data', o);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected the CSV to be refused');
}

test('a valid CSV gives one account per row, with relative paths resolved against the CSV directory', () => {
  const list = parseAccountsCsv(
    'source,user,host,port,security,password_env,folder,connections,nodelay\n' +
      'alice/Maildir,alice,mail.example.com,993,tls,PW_ALICE,Old,3,false\n' +
      '/abs/bob.mbox,bob,mail.example.com,,,PW_BOB,,,true\n',
    '/data',
    options(),
  );
  assert.equal(list.length, 2);
  const [a, b] = list as [(typeof list)[0], (typeof list)[0]];
  assert.equal(a.source, '/data/alice/Maildir');
  assert.equal(a.id, 'alice@mail.example.com:993');
  assert.equal(a.security, 'tls');
  assert.equal(a.connections, 3);
  assert.deepEqual(a.importArgs, ['--folder=Old']);
  assert.equal(a.line, 2);
  assert.equal(b.source, '/abs/bob.mbox');
  assert.equal(b.port, undefined);
  assert.equal(b.connections, 2);
  assert.deepEqual(b.importArgs, ['--nodelay']);
  assert.equal(b.id, 'bob@mail.example.com:143');
});

test('command-line defaults fill every row that leaves a cell empty, and a row overrides them', () => {
  const list = parseAccountsCsv('source,user,host\nm1,u1,\nm2,u2,other.example\n', '/d', options({ defaults: { host: 'mail.example.com', password_env: 'PW', batch: '10' } }));
  assert.equal(list[0]!.host, 'mail.example.com');
  assert.equal(list[1]!.host, 'other.example');
  assert.equal(list[0]!.passwordEnv, 'PW');
  assert.deepEqual(list[0]!.importArgs, ['--batch=10']);
});

test('an unknown column is an error that names it, and a typo does not drop the setting silently', () => {
  const msg = problems('source,user,host,password_env,exclude_folders\nm,u,h,PW,Trash\n');
  assert.match(msg, /line 1, column "exclude_folders": unknown column/);
});

test('a password column is refused, whatever the rows hold', () => {
  const msg = problems('source,user,host,password\nm,u,h,\n');
  assert.match(msg, /column "password": refused/);
  assert.match(msg, /password_file/);
});

test('a cell that holds a password, or a password_env that is the password itself, is refused with its line and column', () => {
  const msg = problems('source,user,host,password_env,folder\nm,u,h,PW,ok\nm2,u2,h,hunter2!,x\nm3,u3,h,PW,password=hunter2\n');
  assert.match(msg, /line 3, column "password_env": is not an environment variable name/);
  assert.match(msg, /line 4, column "folder": refused/);
  assert.doesNotMatch(msg, /line 2/);
});

test('every problem of the file is reported at once, each with its line and column', () => {
  const msg = problems('source,user,host,port,security,password_env\n,u1,h,99999,ssl,PW\nm,,h,,,PW\nm,u3,,,,\n');
  assert.match(msg, /line 2, column "source": required/);
  assert.match(msg, /line 2, column "port": must be a port number/);
  assert.match(msg, /line 2, column "security": must be tls, starttls or plain/);
  assert.match(msg, /line 3, column "user": required/);
  assert.match(msg, /line 4, column "host": required/);
  assert.match(msg, /line 4, column "password_file": no credential/);
});

test('two credentials on one row, or one account on two rows, are refused', () => {
  assert.match(problems('source,user,host,password_env,password_file\nm,u,h,PW,/f\n'), /give only one of/);
  assert.match(problems('source,user,host,password_env\nm,u,h,PW\nm2,U,H,PW\n'), /line 3.*already on line 2/);
  // Two users whose state directories would have one name (a '/' becomes '_').
  assert.match(problems('source,user,host,password_env\nm,a/b,h,PW\nm2,a_b,h,PW\n'), /line 3.*already on line 2/);
});

test('columns the batch sets itself (journal, report) are refused with the reason', () => {
  assert.match(problems('source,user,host,password_env,journal\nm,u,h,PW,/j\n'), /column "journal": set by batch/);
  assert.match(problems('source,user,host,password_env,tls\nm,u,h,PW,true\n'), /column "tls": use the security column/);
});

test('a switch column takes true or false only', () => {
  assert.match(problems('source,user,host,password_env,dry\nm,u,h,PW,x\n'), /unknown column/);
  assert.match(problems('source,user,host,password_env,insecure\nm,u,h,PW,maybe\n'), /column "insecure": is a switch/);
});

test('a value starting with a dash stays one argv word, so it cannot become another option', () => {
  const [a] = parseAccountsCsv('source,user,host,password_env,folder\nm,u,h,PW,--plain\n', '/d', options());
  assert.deepEqual(a!.importArgs, ['--folder=--plain']);
});

test('comments, blank lines and a BOM are accepted; an empty file or a header alone is an error', () => {
  const list = parseAccountsCsv('\ufeffsource,user,host,password_env\n# a comment\n\nm,u,h,PW\n', '/d', options());
  assert.equal(list.length, 1);
  assert.equal(list[0]!.line, 4);
  assert.match(problems(''), /is empty/);
  assert.match(problems('source,user\n'), /no account rows/);
});

test('an accounts path that is a directory or missing is refused before anything runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-csv-'));
  try {
    assert.throws(() => readAccountsCsv(dir, options()), /is not a regular file/);
    assert.throws(() => readAccountsCsv(join(dir, 'none.csv'), options()), /cannot read the accounts file \(ENOENT\)/);
    writeFileSync(join(dir, 'a.csv'), 'source,user,host,password_env\nsub/m,u,h,PW\n');
    assert.equal(readAccountsCsv(join(dir, 'a.csv'), options())[0]!.source, join(dir, 'sub/m'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the to column is passed to import as --to when import has that option, and explained when it has not', () => {
  const o = options();
  if (o.importOptions.some((x) => x.column === 'to')) {
    const [a] = parseAccountsCsv('source,user,host,password_env,to\nm,u,h,PW,Archive\n', '/d', o);
    assert.deepEqual(a!.importArgs, ['--to=Archive']);
  } else {
    assert.match(problems('source,user,host,password_env,to\nm,u,h,PW,Archive\n', o), /column "to": this version of import has no --to option/);
  }
});
