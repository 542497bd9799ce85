// A server that goes on storing after the client hung up (issue 11; seen on Cyrus 3.6, where a dropped connection's
// pipelined APPENDs were still being stored while our look-up ran, and the last one was sent twice). The proxy cuts
// the client off with several APPENDs in flight and hands them to the server one every 300 ms afterwards. The
// look-up of unknown outcomes must wait until the folder has stopped changing (unknown-outcomes.ts), or it misses
// the late ones and sends them again. Run against every private real server with LITERAL+ and the embedded server;
// each ends with an exact census by Message-ID, read back with imapflow (real servers) or from the store.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { binarySkipReason, runCli, startCli } from '../cli/cli-helpers.js';
import { realServers } from '../helpers/imap-servers.js';
import { assertExactlyOnce, type CountedTarget, embeddedTarget, realTarget } from './counted-target.js';
import { startLateStoreProxy } from '../helpers/late-store-proxy.js';
import { withServer, writeCorpus } from './harness.js';

const N = 60;
/** Late commands are 300 ms apart: well inside the 1 s the look-up waits for a folder to stay unchanged. */
const GAP_MS = 300;



async function scenario(target: CountedTarget, tag: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mm-late-'));
  // The cut comes with the last ~10 messages in flight, so nothing is left to send afterwards and the look-up
  // runs straight away — while the server is still storing.
  const proxy = await startLateStoreProxy({ host: target.host, port: target.port }, { after: N - 10, holdMs: 150, gapMs: GAP_MS });
  try {
    const ids = writeCorpus(join(work, 'src'), N, tag, [], 900);
    const report = join(work, 'report.json');
    // One APPEND per message, 8 in flight on one connection, adaptation off: when the cut comes, several whole
    // APPENDs are in the proxy's hands, to be stored late.
    const r = await runCli(
      ['import', join(work, 'src'), '--host', target.host, '--port', String(proxy.port), '--user', target.user, '--plain',
        '--batch', '1', '--pipeline', '8', '--connections', '1', '--no-adapt',
        '--journal', join(work, 'j.jsonl'), '--report', report, '--quiet'],
      { MAILMIGRATE_PASSWORD: target.password },
      120_000,
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.ok(proxy.late >= 3, `the proxy handed ${proxy.late} APPENDs to the server after the client had gone`);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { unknownResolved: number };
    assert.ok(rep.unknownResolved >= proxy.late, `${rep.unknownResolved} unknown outcomes found on the server, ${proxy.late} stored late`);
    await assertExactlyOnce(target, ids);
  } finally {
    await proxy.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The client is killed (SIGKILL) while the proxy holds its last APPENDs; the server stores them 300 ms apart after
 * that, and the same import is started again at once with the same journal. The journal knows those messages as sent
 * and never answered, so the re-run must wait for the folder to go quiet before reading what it holds.
 */
async function killedScenario(target: CountedTarget, tag: string, freshJournal = false): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mm-late-kill-'));
  const proxy = await startLateStoreProxy({ host: target.host, port: target.port }, { after: N - 10, holdMs: 700, gapMs: GAP_MS });
  try {
    const ids = writeCorpus(join(work, 'src'), N, tag, [], 900);
    const args = (port: number, journal = join(work, 'j.jsonl')): string[] => ['import', join(work, 'src'), '--host', target.host, '--port', String(port), '--user', target.user,
      '--plain', '--batch', '1', '--pipeline', '8', '--connections', '1', '--no-adapt', '--journal', journal, '--quiet'];
    const first = startCli(args(proxy.port), { MAILMIGRATE_PASSWORD: target.password });
    const until = Date.now() + 60_000;
    while (!proxy.holding && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.ok(proxy.holding, 'the import reached the cut');
    await new Promise((r) => setTimeout(r, 400)); // the client pipelines its last APPENDs into the proxy's hands
    first.child.kill('SIGKILL');
    await first.done;
    // Through the proxy again (same account for the journal; it cuts only once): the held APPENDs reach the server
    // over the next ~3 s, while this run starts.
    const report = join(work, 'report.json');
    // A fresh journal (a colleague's run, the journal lost with the machine) knows nothing of the kill: the folder is
    // reconciled only once it has held still since the run began.
    const again = freshJournal ? args(proxy.port, join(work, 'fresh.jsonl')) : args(proxy.port);
    const r = await runCli([...again, '--report', report], { MAILMIGRATE_PASSWORD: target.password }, 120_000);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    await proxy.handedOver();
    await assertExactlyOnce(target, ids, ` (${proxy.late} stored late): ${JSON.stringify(JSON.parse(readFileSync(report, 'utf8')).folders)}`);
    assert.ok(proxy.late >= 3, `the proxy handed ${proxy.late} APPENDs to the server after the client was killed`);
  } finally {
    await proxy.close();
    rmSync(work, { recursive: true, force: true });
  }
}

const cliSkip = binarySkipReason();

// Each scenario has its own server, proxy and temp dir and mostly waits (13 CPU-s in 60 s alone): three at a time,
// not more, so the 300 ms gaps stay well inside the 1 s quiet window under load (issue 13).
describe('a server that goes on storing after the client hung up', { concurrency: 3 }, () => {
  // Courier has no LITERAL+: each APPEND waits for its "+", so at most one is ever in flight and there is nothing
  // for a server to store late.
  for (const server of realServers.filter((s) => s.name !== 'courier')) {
    const skip = server.skipReason() ?? cliSkip;
    test(`APPENDs stored after the cut are found, not sent again — every message exactly once on ${server.name}`, { skip }, async () => {
      const r = await server.start();
      try {
        await scenario(realTarget(r), `late-${server.name}`);
      } finally {
        await r.stop();
      }
    });
  }

  for (const fresh of [false, true]) {
    const how = fresh ? 'with a fresh journal' : 'with its journal';
    for (const server of realServers.filter((s) => s.name === 'dovecot')) {
      test(`a client killed with APPENDs the server stores afterwards, re-run at once ${how}: every message exactly once on ${server.name}`, { skip: server.skipReason() ?? cliSkip }, async () => {
        const r = await server.start();
        try {
          await killedScenario(realTarget(r), `late-kill-${server.name}`, fresh);
        } finally {
          await r.stop();
        }
      });
    }

    test(`a client killed with APPENDs the server stores afterwards, re-run at once ${how}: every message exactly once on the embedded server`, { skip: cliSkip }, async (t) => {
      const s = await withServer(t);
      await killedScenario(embeddedTarget(s), 'late-kill-embedded', fresh);
    });
  }

  test('APPENDs stored after the cut are found, not sent again — every message exactly once on the embedded server', { skip: cliSkip }, async (t) => {
    const s = await withServer(t);
    await scenario(embeddedTarget(s), 'late-embedded');
  });
});
