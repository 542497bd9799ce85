// Issue 13: the journal lock is taken and broken without a check-then-act window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, releaseLock } from '../../src/journal/journal-lock.js';

const LOCK_MODULE = fileURLToPath(new URL('../../src/journal/journal-lock.js', import.meta.url));

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mm-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

/** `n` processes try to take the lock at the same instant and hold what they get until all have answered. */
async function race(journal: string, n: number): Promise<string[]> {
  const startAt = Date.now() + 400;
  // Each child stays alive (its lock live) until the parent closes its stdin: a winner that exited early would
  // leave a stale lock that a slow-starting child could rightly break, which is not the race under test.
  const script = `
    const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)});
    while (Date.now() < ${startAt}) {}
    let r;
    try { acquireLock(${JSON.stringify(journal)}); r = 'won'; } catch (e) { r = /in use/.test(e.message) ? 'lost' : 'error ' + e.message; }
    process.stdout.write(r + '\\n');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  `;
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
  try {
    return await Promise.all(children.map((c) => new Promise<string>((resolve) => {
      let out = '';
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.endsWith('\n')) resolve(out.trim());
      });
      c.on('close', () => resolve(out.trim()));
    })));
  } finally {
    for (const c of children) c.stdin!.end();
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('close', r)))));
  }
}

test('the lock holds pid and process start time, and is refused to a second taker while its owner lives', (t) => {
  const journal = join(tempDir(t), 'j.jsonl');
  const lock = acquireLock(journal);
  const [pid, start] = readFileSync(lock, 'utf8').split('\n');
  assert.equal(pid, String(process.pid));
  if (existsSync('/proc/self/stat')) assert.match(start!, /^\d+$/);
  assert.throws(() => acquireLock(journal), /in use by another mailmigrate run \(pid \d+\)/);
  releaseLock(lock);
  assert.equal(existsSync(lock), false);
  assert.deepEqual(readdirSync(join(journal, '..')), [], 'no temp files left');
});

test('of five runs starting at once, exactly one takes the lock — also when a stale lock has to be broken first', async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 2; round++) {
    const journal = join(dir, `j${round}.jsonl`);
    // Round 1 starts with a stale lock from a dead run: every run breaks it, only one may win.
    if (round > 0) writeFileSync(`${journal}.lock`, `${deadPid()}\n-\nstale\n`);
    const results = await race(journal, 5);
    assert.equal(results.filter((r) => r === 'won').length, 1, `round ${round}: ${results.join(', ')}`);
    assert.equal(results.filter((r) => r === 'lost').length, 4, `round ${round}: ${results.join(', ')}`);
  }
});

test('a run that judged a lock stale does not take it when another run broke it and took it meanwhile', (t) => {
  const journal = join(tempDir(t), 'j.jsonl');
  writeFileSync(`${journal}.lock`, `${deadPid()}\n-\nstale\n`);
  // The other run (our parent process: alive) breaks the stale lock and takes it while this one is deciding.
  const theirs = `${process.ppid}\n-\ntheirs\n`;
  assert.throws(
    () => acquireLock(journal, { onStaleJudged: (lock) => { rmSync(lock); writeFileSync(lock, theirs); } }),
    new RegExp(`in use by another mailmigrate run \\(pid ${process.ppid}\\)`),
  );
  assert.equal(readFileSync(`${journal}.lock`, 'utf8'), theirs, 'the other run still holds its lock');
  assert.deepEqual(readdirSync(join(journal, '..')), ['j.jsonl.lock'], 'nothing left aside');
});

test('a lock whose pid now belongs to a process started later (a reused pid) is stale and taken over', async (t) => {
  if (!existsSync('/proc/self/stat')) return t.skip('needs /proc for process start times');
  const journal = join(tempDir(t), 'j.jsonl');
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
  t.after(() => other.kill());
  await new Promise((r) => other.once('spawn', r));
  // The pid is alive, but the lock says it was written by a process that started at tick 1.
  writeFileSync(`${journal}.lock`, `${other.pid}\n1\nold\n`);
  const lock = acquireLock(journal);
  assert.equal(readFileSync(lock, 'utf8').split('\n')[0], String(process.pid));
  releaseLock(lock);
});

test('a lock in the old format (pid only) of a dead process is taken over; of a live one it is refused', (t) => {
  const journal = join(tempDir(t), 'j.jsonl');
  writeFileSync(`${journal}.lock`, `${deadPid()}\n`);
  const lock = acquireLock(journal);
  releaseLock(lock);
  writeFileSync(`${journal}.lock`, `${process.ppid}\n`);
  assert.throws(() => acquireLock(journal), /in use/);
});
