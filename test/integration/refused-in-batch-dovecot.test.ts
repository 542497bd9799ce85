// One message the server refuses inside a MULTIAPPEND of 200, on a real, private Dovecot (test/helpers/dovecot.ts;
// skipped with the reason where it cannot run). RFC 3502 makes a MULTIAPPEND atomic: one message over Dovecot's
// quota_max_mail_size fails the whole command. The import halves the batch until the refused message is alone, so the
// other messages of that batch must still arrive exactly once, the refused one be listed with the server's reason,
// and the halving cost a bounded number of commands — log2(200) ≈ 8 levels, since MULTIAPPEND 200 became the default
// (src/core/settings.ts). A re-run must add nothing and list the refused message again.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeMaildir } from '../../src/bench/corpus.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { storedMessageIds } from '../helpers/stored-ids.js';
import { type DovecotInstance, dovecotSkipReason, startDovecot } from '../helpers/dovecot.js';

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# refused-in-a-batch tests on Dovecot skipped: ${skip}`);

const COUNT = 450;
const LIMIT = 20_000;
const BIG_ID = '<too-big-for-the-server@refused.example>';

describe('a message Dovecot refuses inside a MULTIAPPEND of 200', { skip }, () => {
  let d: DovecotInstance;
  let work: string;
  let source: string;
  before(async () => {
    d = await startDovecot({ maxMailSize: LIMIT });
    work = mkdtempSync(join(tmpdir(), 'mm-refused-batch-'));
    source = join(work, 'Maildir');
    await writeMaildir(source, COUNT, { seed: 1602, size: 1500 });
    // Named to sort among the others (the corpus' names start with a timestamp of 2012), so it lands inside a batch.
    const body = 'x'.repeat(76) + '\r\n';
    const big = `From: a@example.org\r\nTo: b@example.org\r\nSubject: too big\r\nMessage-ID: ${BIG_ID}\r\nDate: Mon, 2 Jan 2012 10:00:00 +0000\r\n\r\n${body.repeat(Math.ceil((LIMIT * 2) / body.length))}`;
    writeFileSync(join(source, 'cur', '1325800000.M1P1.refused:2,S'), big);
  });
  after(async () => {
    await d?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const run = async (name: string): Promise<{ code: number | null; report: any; appends: number; stdout: string }> => {
    const pw = join(work, 'pw');
    writeFileSync(pw, `${d.password}\n`, { mode: 0o600 });
    const report = join(work, `${name}.report.json`);
    const trace = join(work, `${name}.trace.jsonl`);
    // --no-adapt: the batch of 200 from the first APPEND (adaptation would look with batches of 50 first).
    const args = ['import', source, '--host', '127.0.0.1', '--port', String(d.port), '--user', d.user, '--plain', '--password-file', pw];
    args.push('--no-adapt', '--journal', join(work, 'journal.jsonl'), '--report', report, '--trace', trace, '--quiet');
    const r = await runCli(args, { XDG_STATE_HOME: join(work, 'state') }, 90_000);
    const appends = readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('"verb":"APPEND"')).length;
    return { code: r.code, report: JSON.parse(readFileSync(report, 'utf8')), appends, stdout: r.stdout + r.stderr };
  };

  test('the other messages arrive exactly once, the refused one is listed, and the halving is bounded; a re-run adds nothing', async () => {
    const first = await run('first');
    assert.equal(first.code, 2, first.stdout);
    assert.equal(first.report.settings.batch, 200);
    assert.equal(first.report.appended, COUNT, JSON.stringify(first.report.failures));
    assert.equal(first.report.failed, 1);
    assert.equal(first.report.failures.length, 1);
    assert.match(first.report.failures[0].source, /1325800000\.M1P1\.refused/);
    // 451 messages are 3 commands of up to 200; the refused one's batch then splits at most once per level.
    assert.ok(first.appends <= 3 + 2 * Math.ceil(Math.log2(200)), `${first.appends} APPEND commands`);
    const ids = storedMessageIds(d.maildir);
    assert.equal(ids.length, COUNT, 'every other message stored');
    assert.equal(new Set(ids).size, COUNT, 'none twice');
    assert.ok(!ids.includes(BIG_ID), 'the refused message is not on the server');

    const again = await run('again');
    assert.equal(again.code, 2, again.stdout);
    assert.equal(again.report.appended, 0, 'nothing new on a re-run');
    assert.equal(again.report.failed, 1, 'the refused message is listed again');
    assert.equal(storedMessageIds(d.maildir).length, COUNT);
  });
});
