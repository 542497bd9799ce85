import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal } from '../../src/journal/journal.js';

// kill -9 at random moments while four "connections" append groups. The property the importer relies on: every
// recordSent that resolved before the kill is in the journal after it (so its message is looked up, never sent
// twice), and the file always reopens (a torn last line is repaired, never a corrupt one refused).

const here = fileURLToPath(import.meta.url);
// Same extension as this file: .ts under tsx, .js when compiled to dist/.
const child = join(here, '..', `crash-child${extname(here)}`);
const header = { account: 'imap://u@127.0.0.1:1' };
const source = '/crash/source';

interface Run {
  acked: Array<[number, number]>;
  repaired: boolean;
}

function runAndKill(path: string, firstId: number, killAfterAcks: number, mode: 'split' | 'whole'): Promise<Run> {
  return new Promise((resolve, reject) => {
    // process.execArgv carries tsx's loader when the tests run from source.
    const proc = spawn(process.execPath, [...process.execArgv, child, path, String(firstId), source, header.account, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { acked: [], repaired: false };
    let out = '';
    let err = '';
    let killed = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child made no progress in 20 s: ${err}`));
    }, 20_000);
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) !== -1) {
        const [kind, a, b] = out.slice(0, nl).split(' ');
        out = out.slice(nl + 1);
        if (kind === 'ready') run.repaired = a === 'repaired';
        if (kind === 'sent') run.acked.push([Number(a), Number(b)]);
      }
      if (!killed && run.acked.length >= killAfterAcks) {
        killed = true;
        // A random extra delay so the kill lands anywhere: mid-write, mid-fsync, between groups.
        setTimeout(() => proc.kill('SIGKILL'), Math.random() * 15);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' comes after the child is reaped, so its pid is gone and its lock file is stale.
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${err}`));
      else resolve(run);
    });
  });
}

test('after kill -9 at random moments every acknowledged recordSent is in the reopened journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-journal-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'j.jsonl');
  const allAcked: Array<[number, number]> = [];
  const runs = 6;
  let repairs = 0;
  for (let r = 0; r < runs; r++) {
    // Each run appends to the journal the previous run left behind, as a re-run would.
    const mode = r % 2 === 0 ? 'split' : 'whole';
    const run = await runAndKill(path, r * 10_000_000, 3 + Math.floor(Math.random() * 40), mode);
    allAcked.push(...run.acked);
    assert.ok(run.acked.length > 0);

    const j = await Journal.open(path, header);
    if (j.repaired) repairs++;
    try {
      for (const [first, count] of allAcked) {
        for (let id = first; id < first + count; id++) {
          const s = j.lookup('INBOX/Archiv', `m${id}`)?.state;
          assert.ok(s === 'sent' || s === 'confirmed', `m${id} was acknowledged before the kill but is ${s}`);
        }
      }
      const c = j.counts;
      assert.equal(c.failed, 0);
      assert.equal(j.unconfirmed().length, c.sent);
    } finally {
      await j.close();
    }
  }
  t.diagnostic(`${repairs} of ${runs} kills left a torn last line that open() repaired`);
});
