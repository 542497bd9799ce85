// doctor's advice: the import settings it recommends for what it found, each with its reason. Pure, so every rule is
// tested without a server (test/scale/doctor.test.ts).
import { DEFAULT_SETTINGS } from '../core/settings.js';
import type { Recommended, WriteRun, WriteTestResult } from './doctor-types.js';

/** A candidate must beat the one-at-a-time run by this factor to be recommended: less is within the noise of 8 messages. */
const CLEAR_WIN = 0.8;

const fmt = (x: number | undefined): string => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(0));

/**
 * Pure: the import settings for what was found, each with its reason. With a write test (`measured`), every choice
 * comes from what this server did — per-message time of each way of appending; without one, from its capabilities
 * alone, said so.
 */
export function recommend(caps: Record<string, boolean | number>, cap: number | null, measured?: Pick<WriteTestResult, 'runs' | 'stalls'>): Recommended {
  const reasons: Record<string, string> = {};
  const multi = caps['MULTIAPPEND'] === true;
  const runs = measured?.runs ?? [];
  const base = runs.find((r) => !r.split && r.connections === 1 && r.depth === 1 && r.batch === 1);
  const wins = (r: WriteRun | undefined): boolean => !!(r && base && r.perMessageMs < base.perMessageMs * CLEAR_WIN);
  const vs = (r: WriteRun): string => `${fmt(r.perMessageMs)} ms per message ${r.name} vs ${fmt(base!.perMessageMs)} one at a time (write test)`;

  let batch: number;
  const multiRun = runs.find((r) => r.batch > 1);
  if (!multi) {
    batch = 1;
    reasons['batch'] = '1: the server does not offer MULTIAPPEND (RFC 3502)';
  } else if (base && multiRun) {
    // The import's own default size: the write test's 8-message batches show whether MULTIAPPEND helps at all, not
    // how large a batch should be (that depends on the folder's size: src/core/settings.ts).
    batch = wins(multiRun) ? DEFAULT_SETTINGS.batch : 1;
    reasons['batch'] = wins(multiRun) ? `${DEFAULT_SETTINGS.batch}: ${vs(multiRun)}` : `1: MULTIAPPEND did not help on this server: ${vs(multiRun)}`;
  } else {
    batch = DEFAULT_SETTINGS.batch;
    reasons['batch'] = `${DEFAULT_SETTINGS.batch}: the server offers MULTIAPPEND (not measured: --no-write-test)`;
  }

  let pipeline = 1;
  const deep = runs.find((r) => r.depth > 1);
  if (base && deep) {
    pipeline = wins(deep) ? 2 : 1;
    const cont = deep.continuationWaitP50Ms !== undefined && base.continuationWaitP50Ms !== undefined && deep.continuationWaitP50Ms > base.continuationWaitP50Ms + 5
      ? `; the second command waited ${fmt(deep.continuationWaitP50Ms)} ms for its continuation (vs ${fmt(base.continuationWaitP50Ms)})`
      : '';
    reasons['pipeline'] = wins(deep) ? `2: ${vs(deep)}` : `1: pipelining did not help on this server: ${vs(deep)}${cont}`;
  } else reasons['pipeline'] = '1: one command in flight per connection (not measured: --no-write-test)';

  let connections = 2;
  const two = runs.find((r) => r.connections > 1);
  if (cap !== null && cap <= 2) {
    connections = 1;
    reasons['connections'] = `1: the server accepts only ${cap} session(s) per user; leave room for the user's own mail client`;
  } else if (base && two) {
    connections = wins(two) ? 2 : 1;
    reasons['connections'] = wins(two)
      ? `2: ${vs(two)}`
      : `1: a second connection into the same folder did not help (a folder lock?): ${vs(two)}`;
  } else reasons['connections'] = '2: one connection sends while the other waits for the server (not measured: --no-write-test)';

  const nonsync = caps['LITERAL+'] === true || caps['LITERAL-'] === true;
  reasons['literalMode'] = nonsync
    ? `auto: ${caps['LITERAL+'] === true ? 'LITERAL+ up to 100 KiB (as mbsync), synchronizing above' : 'LITERAL- up to 4 KiB'} (RFC 7888) saves a round trip per message`
    : 'sync: the server offers neither LITERAL+ nor LITERAL-, so each literal waits for "+"';
  reasons['nodelay'] =
    measured?.stalls === true
      ? 'on: the write test measured delayed-ACK stalls with Nagle on and split writes'
      : measured
        ? 'on: no stall measured here, but a network path may delay ACKs; NODELAY costs nothing with coalesced writes'
        : 'on: with Nagle on, a split write waits for a delayed ACK on servers that delay them';
  reasons['writeMode'] = 'coalesce: command, literal and CRLF in one write never wait for an ACK';
  const flags = `--connections ${connections} --batch ${batch} --pipeline ${pipeline} --nodelay`;
  return { connections, pipeline, batch, literalMode: nonsync ? 'auto' : 'sync', nodelay: true, writeMode: 'coalesce', flags, reasons };
}
