// bench/peers/options.ts and run-plan.ts: the command line of bench:peers and the plan checked before any server starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBest, parsePeersArgs, parsePeersCommandLine } from '../../bench/peers/options.js';
import { parseServerKind, planRuns } from '../../bench/peers/run-plan.js';

test('with no options bench:peers plans 3 repeats on stock and quick-ACK-less Dovecot, fsync never, every client and the best settings', () => {
  const opt = parsePeersArgs([]);
  const plan = planRuns(opt, parseServerKind(opt.server));
  assert.equal(plan.kind, 'dovecot');
  assert.equal(plan.repeats, 3);
  assert.equal(plan.fsync, 'never');
  assert.deepEqual(plan.variants, ['stock', 'noquickack']);
  assert.deepEqual(plan.phases, [undefined]);
  assert.ok(plan.wanted.includes('mailmigrate') && plan.wanted.includes('mbsync'));
  assert.equal(plan.wanted.at(-1), 'mailmigrate-best');
});

test('an option bench:peers does not know is refused before anything runs, as one line naming it; --help is the usage', () => {
  assert.throws(() => parsePeersArgs(['--bogus']), /Unknown option '--bogus'/);
  const bad = parsePeersCommandLine(['--messages', '10', '--bogus']);
  assert.ok('error' in bad && /Unknown option '--bogus'/.test(bad.error), JSON.stringify(bad));
  assert.deepEqual(parsePeersCommandLine(['--server', 'courier', '--help']), { help: true });
  const ok = parsePeersCommandLine(['--messages', '10']);
  assert.ok('values' in ok && ok.values.messages === '10');
});

test('a server kind other than Dovecot, Cyrus or Courier is refused with the list', () => {
  assert.throws(() => parseServerKind('exchange'), /--server wants one of dovecot, cyrus, courier, got "exchange"/);
});

test('an unknown client name is refused, naming the clients bench:peers knows', () => {
  assert.throws(() => planRuns(parsePeersArgs(['--clients', 'mailmigrate,outlook']), 'dovecot'), /unknown client "outlook"; known: .*mailmigrate-best/);
});

test('a round trip outside (0, 1000] ms is refused', () => {
  for (const rtt of ['0', '-5', '1001', 'ten']) assert.throws(() => planRuns(parsePeersArgs([`--rtt=${rtt}`]), 'dovecot'), /--rtt wants milliseconds in \(0, 1000\]/);
});

test('with --rtt every client runs at 0 ms and at the round trip, and doveadm import (no network path) is skipped', () => {
  const plan = planRuns(parsePeersArgs(['--rtt', '40', '--clients', 'mailmigrate,doveadm-import']), 'dovecot');
  assert.deepEqual(plan.phases, [0, 40]);
  assert.equal(plan.rtt, 40);
  assert.equal(plan.missing.get('doveadm-import'), 'no network path to delay');
});

test('on Cyrus one variant runs whatever --servers says, and doveadm import is skipped as Dovecot only', () => {
  const plan = planRuns(parsePeersArgs(['--servers', 'stock,noquickack', '--repeats', '0']), 'cyrus');
  assert.deepEqual(plan.variants, ['stock']);
  assert.equal(plan.repeats, 1);
  assert.equal(plan.missing.get('doveadm-import'), 'Dovecot only');
});

test('--compare adds the other checkout as a row even when --clients does not name it', () => {
  const plan = planRuns(parsePeersArgs(['--clients', 'mailmigrate', '--compare', '/nonexistent/checkout']), 'dovecot');
  assert.deepEqual(plan.wanted, ['mailmigrate', 'mailmigrate-compare']);
  assert.match(plan.missing.get('mailmigrate-compare') ?? '', /no built mailmigrate with an import command in \/nonexistent\/checkout/);
});

test('--best takes three positive whole numbers: connections, pipeline depth, batch', () => {
  assert.deepEqual(parseBest('2,4,50'), { connections: 2, pipeline: 4, batch: 50 });
  for (const bad of ['2,4', '2,0,50', '2,1.5,50', 'a,b,c']) assert.throws(() => parseBest(bad), /--best wants C,D,B/);
});
