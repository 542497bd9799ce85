// bench/peers/cpu-meter.ts: server CPU for bench:peers — the /proc parser, and both ways of counting a process tree
// (a cgroup when one can be made here, /proc otherwise) against a real tree that burns a known amount of CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CpuMeter, parseCgroupV2CpuStat, parseProcStat, processTreeCpuSeconds } from '../../bench/peers/cpu-meter.js';

test('a /proc/PID/stat line is parsed after the last parenthesis, so a command name with spaces and ")" does not shift the fields', () => {
  // Fields 14–17 (utime, stime, cutime, cstime) = 7, 3, 20, 5; ppid (field 4) = 42.
  const line = '1234 (imap [a) b]) S 42 1234 1234 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 500 1000 50 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
  assert.deepEqual(parseProcStat(line), { pid: 1234, ppid: 42, selfTicks: 10, childTicks: 25 });
  assert.throws(() => parseProcStat('garbage'), /not a \/proc\/PID\/stat/);
});

test('cgroup v2 cpu.stat gives usage_usec in seconds, and a file without it is an error', () => {
  assert.equal(parseCgroupV2CpuStat('usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n'), 2.5);
  assert.throws(() => parseCgroupV2CpuStat('user_usec 1\n'), /usage_usec/);
});

/**
 * A shell that starts a child burning ~0.3 s of CPU and waits for it, then waits for a signal: the burner is born
 * and reaped during the measurement, like an imap process between login and logout.
 */
function treeWithShortLivedChild(): { pid: number; done: Promise<void>; stop: () => void } {
  const burn = `const t=process.cpuUsage();while(true){const u=process.cpuUsage(t);if(u.user+u.system>300000)break}`;
  const sh = spawn('/bin/sh', ['-c', `sleep 1; "${process.execPath}" -e '${burn}'; echo burned; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const done = new Promise<void>((resolve) => sh.stdout!.on('data', (b: Buffer) => b.toString().includes('burned') && resolve()));
  return { pid: sh.pid!, done, stop: () => sh.kill('SIGKILL') };
}

for (const preferProc of [false, true]) {
  test(`${preferProc ? 'the /proc fallback' : 'the meter (a cgroup when one can be made)'} counts the CPU of a child that was born and reaped during the measurement`, async () => {
    const tree = treeWithShortLivedChild();
    const meter = CpuMeter.attach(tree.pid, `mailmigrate-test-${process.pid}-${preferProc ? 'proc' : 'cg'}`, { preferProc });
    try {
      if (preferProc) assert.equal(meter.kind, 'proc');
      const before = meter.read();
      await tree.done;
      const used = meter.read() - before;
      // The burner stops at 0.3 s of its own CPU; node's start-up adds some. Tick resolution is 10 ms.
      assert.ok(used >= 0.29, `${meter.kind}: counted ${used.toFixed(3)} s, expected ≥ 0.3`);
      assert.ok(used < 5, `${meter.kind}: counted ${used.toFixed(3)} s, far more than the tree burned`);
    } finally {
      tree.stop();
      meter.close();
    }
  });
}

test('the tree of a pid that does not exist counts as no CPU', () => {
  assert.equal(processTreeCpuSeconds(2 ** 22 + 12345), 0);
});
