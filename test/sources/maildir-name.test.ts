import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMaildirName, sizeInName } from '../../src/sources/index.js';

// The regular-expression parsers the char-code scanners of maildir-name.ts replaced, kept here as the reference:
// both must agree on every name, including the odd ones a real tree holds.
function referenceParse(name: string): { base: string; info: string; time: number | undefined } {
  const m = /[:!]2,([^:!]*)$/.exec(name);
  const unique = m ? name.slice(0, m.index) : name.replace(/[:!]1,.*$/, '');
  const base = unique
    .split(',')
    .filter((p, i) => i === 0 || !/^[SW]=\d*$/.test(p))
    .join(',');
  const t = /^(\d{6,12})(?:\.|$)/.exec(name);
  const secs = t ? Number(t[1]) : NaN;
  return { base, info: m ? m[1]! : '', time: Number.isFinite(secs) && secs > 0 ? secs * 1000 : undefined };
}

function referenceSize(name: string): number | undefined {
  const info = name.search(/[:!][12],/);
  const unique = info < 0 ? name : name.slice(0, info);
  const m = /,S=(\d{1,15})(?:,|$)/.exec(unique);
  return m ? Number(m[1]) : undefined;
}

const ODD_NAMES = [
  '',
  ',',
  ',S=5',
  'S=5',
  '1700000000.M1P1.host,S=120,W=125:2,FS',
  '1700000000.M1P1.host,W=125,S=120:2,',
  '1700000000.M1P1.host,S=:2,S',
  '1700000000.M1P1.host,S=12x:2,S',
  '1700000000.M1P1.host,S=1234567890123456:2,S',
  '1700000000.M1P1.host,S=123456789012345:2,S',
  '1700000000.M1P1.host,,S=7,:2,S',
  '1700000000.M1P1.host,X=1,S=7,Y:2,RS',
  'a:b:2,S',
  'a:2,S:x',
  'a!2,S!x',
  'a:2,S!2,T',
  'host:1,experimental',
  'host!1,x,S=9',
  'host,S=9:1,x:2,S',
  'host,S=9!2,',
  '123456',
  '12345',
  '1234567890123',
  '123456789012.x',
  '000000.x,S=1:2,S',
  '0.x',
  'nodigits.host:2,S',
  '1700000000.M1P1.host:2',
  '1700000000.M1P1.host:3,S',
  '1700000000.M1P1.hôst,S=3:2,S',
];

/** Names built from the pieces real Maildirs use, in every order, with a seeded generator. */
function generatedNames(count: number): string[] {
  const pieces = ['1700000000', '.', 'M1P2', 'host', ',S=', ',W=', '12', '1234567890123456', ':2,', '!2,', ':1,', 'S', 'FRT', ',', ':', '!', 'x', '0', 'ab'];
  let seed = 7;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = next() % 9;
    for (let k = 0; k < n; k++) s += pieces[next() % pieces.length];
    out.push(s);
  }
  return out;
}

test('the Maildir name scanner agrees with the regular-expression parser on odd and generated names', () => {
  for (const name of [...ODD_NAMES, ...generatedNames(20_000)]) {
    const got = parseMaildirName(name);
    const want = referenceParse(name);
    assert.deepEqual({ base: got.base, info: got.info, time: got.time?.getTime() }, want, `name ${JSON.stringify(name)}`);
    assert.equal(sizeInName(name), referenceSize(name), `size of ${JSON.stringify(name)}`);
  }
});

test('a ",S=" size is read only from the unique part, and only with 1 to 15 digits', () => {
  assert.equal(sizeInName('1.M1.host,S=4096:2,S'), 4096);
  assert.equal(sizeInName('1.M1.host,S=0:2,S'), 0);
  assert.equal(sizeInName('1.M1.host:2,S,S=4096'), undefined);
  assert.equal(sizeInName('1.M1.host,S=1234567890123456:2,S'), undefined);
  assert.equal(sizeInName('1.M1.host,S=12a,S=34:2,S'), 34);
  assert.equal(sizeInName(',S=5'), 5);
});
