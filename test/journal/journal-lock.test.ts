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

/** `n` processes try to take the lock at the same instant and hold what they get for a while. */
async function race(journal: string, n: number): Promise<string[]> {
  const startAt = Date.now() + 400;
  const script = `
    const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)});
    while (Date.now() < ${startAt}) {}
    let r;
    try { acquireLock(${JSON.stringify(journal)}); r = 'won'; } catch (e) { r = /in use/.test(e.message) ? 'lost' : 'error ' + e.message; }
    process.stdout.write(r);
    setTimeout(() => {}, 300); // hold it (no release) while the others decide
  `;
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
  return Promise.all(children.map((c) => new Promise<string>((resolve) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
  })));
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
