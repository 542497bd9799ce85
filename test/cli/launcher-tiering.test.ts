import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, binarySkipReason } from './cli-helpers.js';

// The launcher (bin/mailmigrate.js) keeps V8's optimizing compiler off until the process has used a second of CPU
// and turns it on then (issue 14, docs/measurements.md "V8's compiler tiers"). These tests watch it from inside the
// CLI's own process: a preloaded probe samples V8's optimization status (`%GetOptimizationStatus`,
// --allow-natives-syntax) every 20 ms while `mailmigrate serve` idles, burns CPU in between (so the process reaches
// the threshold), runs a hot function while TurboFan is off, and exits the process when it has seen enough.

// V8 11's OptimizationStatus bits (src/runtime/runtime-test.cc): kNeverOptimize while TurboFan is off by flag,
// kTurboFanned for code TurboFan compiled.
const NEVER_OPTIMIZE = 1 << 1;
const TURBOFANNED = 1 << 6;

/** The probe: stops once TurboFan came back on after being off, or once the process used STOP_CPU_MS of CPU. */
const probeSource = (stopCpuMs: number): string => `
const status = new Function('f', 'return %GetOptimizationStatus(f)');
const t0 = performance.now();
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const samples = [];
let hotWhileOff;
const hot = (s) => { let n = 0; for (let i = 0; i < s.length; i++) n += s.charCodeAt(i) * (i & 7); return n; };
const burn = (ms) => { const end = cpuMs() + ms; let x = 0; while (cpuMs() < end) x += Math.sqrt(x + 1); return x; };
const finish = () => {
  clearInterval(timer);
  process.stderr.write('PROBE ' + JSON.stringify({ samples, hotWhileOff }) + '\\n');
  process.exit(0);
};
const timer = setInterval(() => {
  const off = (status(hot) & ${NEVER_OPTIMIZE}) !== 0;
  samples.push({ t: performance.now() - t0, cpuMs: cpuMs(), off });
  // Synchronous: the launcher's check cannot turn TurboFan on in the middle of it.
  if (off && hotWhileOff === undefined) {
    let x = 0;
    for (let i = 0; i < 100000; i++) x += hot('message ' + i);
    hotWhileOff = (status(hot) & ${TURBOFANNED}) !== 0 && x > 0;
  }
  const wasOff = samples.some((s) => s.off);
  if ((wasOff && !off) || cpuMs() > ${stopCpuMs} || performance.now() - t0 > 20000) return finish();
  burn(30);
}, 20);
`;

interface ProbeResult {
  samples: { t: number; cpuMs: number; off: boolean }[];
  hotWhileOff: boolean | undefined;
}

async function probe(nodeArgs: string[], stopCpuMs: number): Promise<ProbeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailmigrate-tiering-'));
  try {
    const file = join(dir, 'probe.mjs');
    writeFileSync(file, probeSource(stopCpuMs));
    const child = spawn(process.execPath, ['--allow-natives-syntax', ...nodeArgs, '--import', file, BIN, 'serve', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise((ok) => child.on('exit', ok));
    clearTimeout(timer);
    const line = /^PROBE (.*)$/m.exec(err);
    assert.ok(line, `the probe reported (exit ${String(code)}): ${err}`);
    return JSON.parse(line[1]!) as ProbeResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a run starts without V8\'s optimizing compiler and has it back once it used a second of CPU', { skip: binarySkipReason() }, async () => {
  const r = await probe([], 4000);
  const firstOff = r.samples.findIndex((s) => s.off);
  assert.ok(firstOff >= 0, `TurboFan was never off: ${JSON.stringify(r.samples.slice(0, 5))}`);
  assert.equal(r.hotWhileOff, false, 'a hot function was optimized by TurboFan while it was off');
  // Back on, and not before the process had used the launcher's second of CPU.
  const on = r.samples.findIndex((s, i) => i > firstOff && !s.off);
  assert.ok(on > firstOff, `TurboFan still off after ${r.samples[r.samples.length - 1]!.cpuMs.toFixed(0)} ms of CPU`);
  assert.ok(r.samples[on]!.cpuMs >= 1000, `TurboFan back at ${r.samples[on]!.cpuMs.toFixed(0)} ms of CPU, before the second`);
  assert.ok(r.samples.slice(firstOff, on).every((s) => s.off), JSON.stringify(r.samples));
});

test('a tiering flag the user gave node is left alone (--no-turbofan stays off, --turbofan is never turned off)', { skip: binarySkipReason() }, async () => {
  const off = await probe(['--no-turbofan'], 1400);
  assert.ok(off.samples[off.samples.length - 1]!.cpuMs > 1000, 'the probe ran past the launcher\'s threshold');
  assert.ok(off.samples.every((s) => s.off), 'the user turned TurboFan off; the launcher turned it back on');
  const on = await probe(['--turbofan'], 300);
  assert.ok(on.samples.every((s) => !s.off), 'the user asked for TurboFan; the launcher turned it off');
});
