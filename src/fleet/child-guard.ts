import { spawn } from 'node:child_process';

// Runs one command (an account's `mailmigrate import`) and makes sure it does not outlive whoever started it.
//
//   node child-guard.js <command> [args...]      stdin: a pipe held open by the parent (batch or worker)
//
// Why: a worker killed with SIGKILL (OOM killer, kill -9, a crashed VM agent) cannot stop its children, and an
// orphaned import would keep appending while BullMQ's stalled-job recovery hands the same account to another
// worker — two imports into one mailbox at once, which no journal can keep exactly-once. Node has no
// PR_SET_PDEATHSIG, so the guard watches the one thing the kernel closes for certain when the parent dies: the
// write end of its stdin pipe. On EOF (or SIGINT/SIGTERM) it sends SIGINT to the import — which finishes the
// commands in flight and flushes its journal — and SIGKILL after GRACE_MS if it is still there. The recovery on
// the other side waits at least the job's lock duration (seconds), so the import is gone before anyone resumes it.
// The guard costs one small node process per running account; the import itself is never touched.

const GRACE_MS = 2000;

const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  process.stderr.write('child-guard: no command given\n');
  process.exit(1);
}

const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;

function stop(): void {
  if (stopping) return;
  stopping = true;
  child.kill('SIGINT');
  setTimeout(() => child.kill('SIGKILL'), GRACE_MS).unref();
}

process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

child.on('error', (err) => {
  process.stderr.write(`child-guard: cannot start ${cmd}: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  // 128 + n, the shell's convention, so the parent can tell "killed" from "failed".
  const n = signal ? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : signal === 'SIGKILL' ? 9 : 1) : (code ?? 1);
  process.exit(n);
});
