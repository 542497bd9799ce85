import net from 'node:net';

// MAILMIGRATE_TRACE_STARTUP=1: one line on stderr when the process first writes to a socket — the start-up cost an
// admin pays before anything reaches the server (issue 14's target: 150 ms). Off by default, so normal output never
// carries it. Times are from the process's own clocks: performance.now() counts from process start, and
// process.cpuUsage() is the CPU spent so far (user + system), the honest measure on a loaded machine.
// MAILMIGRATE_TRACE_STARTUP=exit also leaves right after that line (exit code 0, the byte not sent), so that
// `node --cpu-prof bin/mailmigrate.js import …` profiles exactly the start-up (a killed process writes no profile).

export function traceStartup(stream: NodeJS.WritableStream = process.stderr, exitAfter = false): void {
  const write = net.Socket.prototype.write;
  let done = false;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]): boolean {
    // stdout and stderr are sockets too when they are pipes: only a connection to a server counts.
    if (!done && this !== process.stdout && this !== process.stderr) {
      done = true;
      net.Socket.prototype.write = write;
      const cpu = process.cpuUsage();
      stream.write(`mailmigrate: start-up: first socket write at ${performance.now().toFixed(1)} ms after process start, ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU\n`);
      if (exitAfter) process.exit(0);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
}
