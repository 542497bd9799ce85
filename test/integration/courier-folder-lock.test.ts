// Courier's folder lock against the built CLI (a real, private Courier: test/helpers/courier.ts; skipped with the
// reason where it cannot run). Courier takes tmp/courier.lock in the folder for every APPEND; a second session's
// APPEND waits for it in Gamin until the lock file is deleted, bounded only by 120 s. Three of ten loaded full suites
// had one APPEND held over 60 s this way in import-verify's tree (defaults: 2 connections, both in one folder), and
// the measured folder-lock rule could not help: it acts on a wait once it has settled. So on a server with Courier's
// signature (neither LITERAL+/LITERAL- nor MULTIAPPEND) the import takes one connection per folder before its first
// APPEND (adapt-policy.ts, startFolderChange), and no two of its APPENDs ever meet in one folder.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeMaildir } from '../../src/bench/corpus.js';
import { binarySkipReason, runCli } from '../cli/cli-helpers.js';
import { storedMessageIds } from '../helpers/stored-ids.js';
import { courierSkipReason, startCourier, type CourierInstance } from '../helpers/courier.js';

const skip = courierSkipReason() ?? binarySkipReason();
if (skip) console.log(`# Courier folder-lock tests skipped: ${skip}`);

const COUNT = 40;

interface AppendSpan {
  connectionId: number;
  tag: string;
  from: number;
  to: number;
}

/** Each APPEND's time on the server: from its first byte written to its tagged reply. */
function appendSpans(tracePath: string): AppendSpan[] {
  const spans: AppendSpan[] = [];
  for (const line of readFileSync(tracePath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { verb: string; connectionId: number; tag: string; writeStart?: number; tagged?: number };
    if (r.verb !== 'APPEND' || r.writeStart === undefined || r.tagged === undefined) continue;
    spans.push({ connectionId: r.connectionId, tag: r.tag, from: r.writeStart, to: r.tagged });
  }
  return spans;
}

/** Pairs of APPENDs on different connections that were on the server at the same time. */
function overlaps(spans: AppendSpan[]): string[] {
  const out: string[] = [];
  const sorted = [...spans].sort((a, b) => a.from - b.from);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j]!.from < sorted[i]!.to; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      if (a.connectionId !== b.connectionId) out.push(`${a.connectionId}/${a.tag} and ${b.connectionId}/${b.tag}`);
    }
  }
  return out;
}

describe('an import into one folder on Courier', { skip }, () => {
  let c: CourierInstance;
  let work: string;
  before(async () => {
    c = await startCourier({ users: ['alice', 'bob'] });
    work = mkdtempSync(join(tmpdir(), 'mm-courier-lock-'));
    await writeMaildir(join(work, 'Maildir'), COUNT, { seed: 1601, size: 1500 });
  });
  after(async () => {
    await c?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const importInto = async (user: number, extra: string[]): Promise<{ report: any; spans: AppendSpan[]; stdout: string }> => {
    const u = c.users[user]!;
    const dir = join(work, u.name);
    const pw = join(work, `${u.name}.pw`);
    writeFileSync(pw, `${u.password}\n`, { mode: 0o600 });
    const args = ['import', join(work, 'Maildir'), '--host', '127.0.0.1', '--port', String(c.port), '--user', u.name, '--plain', '--password-file', pw];
    args.push('--journal', `${dir}.journal`, '--report', `${dir}.report.json`, '--trace', `${dir}.trace.jsonl`, '--quiet', ...extra);
    const r = await runCli(args, { XDG_STATE_HOME: join(work, 'state') }, 90_000);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const ids = storedMessageIds(u.maildir);
    assert.equal(ids.length, COUNT, 'every message stored');
    assert.equal(new Set(ids).size, COUNT, 'none twice');
    return { report: JSON.parse(readFileSync(`${dir}.report.json`, 'utf8')), spans: appendSpans(`${dir}.trace.jsonl`), stdout: r.stdout };
  };

  test('with the defaults, one connection per folder from the first APPEND: no two APPENDs are ever in the folder at once', async () => {
    const { report, spans } = await importInto(0, []);
    assert.equal(report.appended, COUNT);
    assert.equal(spans.length, COUNT, 'one APPEND per message (no MULTIAPPEND)');
    assert.deepEqual(overlaps(spans), [], 'APPENDs of two connections on the server at the same time');
    const change = report.adaptation.changes.find((x: { setting: string }) => x.setting === 'connectionsPerFolder');
    assert.ok(change, JSON.stringify(report.adaptation));
    assert.equal(change.to, 1);
    assert.match(change.reason, /neither LITERAL\+\/LITERAL- nor MULTIAPPEND/);
    // One folder, one connection a folder: the pool dials one APPEND connection, not the two it was given (the other
    // only logged in and out: a fork of couriertcpd, a password check and an imapd for nothing).
    const fewer = report.adaptation.changes.find((x: { setting: string }) => x.setting === 'connections');
    assert.deepEqual([fewer?.from, fewer?.to], [2, 1], JSON.stringify(report.adaptation));
    assert.equal(report.connections.opened, 1);
    assert.equal(new Set(spans.map((x) => x.connectionId)).size, 1);
  });

  test('with --no-adapt the given settings are kept (two connections share the folder) and the change is only advice', async () => {
    const { report, spans } = await importInto(1, ['--no-adapt']);
    assert.equal(report.appended, COUNT);
    assert.equal(report.adaptation.after.connectionsPerFolder, undefined, 'settings as given');
    assert.ok(overlaps(spans).length > 0, 'two connections appended into the folder side by side');
    assert.equal(report.connections.opened, 2, 'the given connections');
    assert.ok(report.adaptation.changes.some((x: { setting: string; to: unknown }) => x.setting === 'connections' && x.to === 1), 'advice only');
    assert.ok(report.adaptation.changes.some((x: { setting: string; to: unknown }) => x.setting === 'connectionsPerFolder' && x.to === 1), JSON.stringify(report.adaptation));
  });
});
