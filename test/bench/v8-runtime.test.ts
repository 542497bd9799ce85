// bench/memory/v8-runtime.ts: V8's young generation capped from inside the process (no flag on the node command line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const preload = fileURLToPath(new URL('../../bench/memory/v8-runtime.js', import.meta.url));
// Allocates ~300 MB of short-lived objects in chunks (the observer's callbacks run between them), then prints the
// size of the new space (both semi-spaces) in MiB.
const script = `
import v8 from 'node:v8';
const keep = [];
for (let k = 0; k < 300; k++) {
  for (let i = 0; i < 20000; i++) { keep.push({ i }); if (keep.length > 50000) keep.length = 0; }
  await new Promise((r) => setImmediate(r));
}
console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576);
`;

const newSpaceMb = (env: Record<string, string>): number =>
  Number(execFileSync(process.execPath, ['--import', preload, '--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim());

test('with MM_YOUNG_CAP_MB=4 the new space stops growing at two semi-spaces of 4 MiB, where by default it grows past them', () => {
  assert.equal(newSpaceMb({ MM_YOUNG_CAP_MB: '4' }), 8);
  assert.ok(newSpaceMb({}) > 8, 'the same allocation grows the new space further without the cap (else the test proves nothing)');
});
