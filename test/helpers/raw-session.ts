// Bare-socket IMAP for the server helpers and their tests: the greeting probe and one scripted session. No IMAP
// library in between, so what a test asserts is what the server sent.

import net from 'node:net';

/**
 * Connects until the server greets with "* OK" (a master may bind before its first imapd is ready). `alive` lets a
 * server that has already exited fail at once instead of at the deadline.
 */
export async function waitForGreeting(port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the server exited before greeting on 127.0.0.1:${port} (last: ${String(lastError)})`);
    try {
      return await new Promise<string>((resolve, reject) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        let buf = '';
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error('no greeting within 2 s'));
        }, 2000);
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => {
          buf += d;
          if (!buf.includes('\r\n')) return;
          clearTimeout(timer);
          sock.end('a LOGOUT\r\n');
          sock.destroy();
          const line = buf.slice(0, buf.indexOf('\r\n'));
          if (line.startsWith('* OK')) resolve(line);
          else reject(new Error(`unexpected greeting ${JSON.stringify(line.slice(0, 120))}`));
        });
        sock.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing greeted on 127.0.0.1:${port} within ${timeoutMs} ms: ${String(lastError)}`);
}

/** A command line without tag, or an APPEND sent with a synchronizing literal (every server, LITERAL+ or not). */
export type SessionLine = string | { append: string; message: string | Buffer; flags?: string };

/**
 * One IMAP session: waits for the greeting, then sends each line (tagged t0, t1, ...) after the previous tagged reply. Returns the greeting and, per line, everything the
 * server sent up to and including its tagged reply. Every wait has a deadline.
 */
export async function session(port: number, lines: SessionLine[], timeoutMs = 10_000): Promise<string[]> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setEncoding('latin1');
  let buf = '';
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  sock.on('data', (s: string) => {
    buf += s;
    wake?.();
  });
  sock.on('error', (err) => {
    failure = err;
    wake?.();
  });
  sock.on('close', () => {
    failure ??= new Error('connection closed by the server');
    wake?.();
  });
  const next = async (re: RegExp, what: string): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(buf);
      if (m) {
        const upTo = buf.slice(0, m.index + m[0].length);
        buf = buf.slice(m.index + m[0].length);
        return upTo;
      }
      if (failure) throw new Error(`${what}: ${failure.message}; received ${JSON.stringify(buf.slice(-300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no reply within ${timeoutMs} ms; received ${JSON.stringify(buf.slice(-300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  try {
    const replies = [await next(/^\* (OK|BYE).*\r\n/m, 'greeting')];
    for (let i = 0; i < lines.length; i++) {
      const tag = `t${i}`;
      const l = lines[i]!;
      const tagged = new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, 'm');
      if (typeof l === 'string') {
        sock.write(`${tag} ${l}\r\n`);
        replies.push(await next(tagged, `${tag} ${l.split(' ')[0]}`));
        continue;
      }
      const body = typeof l.message === 'string' ? Buffer.from(l.message, 'latin1') : l.message;
      sock.write(`${tag} APPEND ${l.append}${l.flags ? ` (${l.flags})` : ''} {${body.length}}\r\n`);
      // RFC 3501 §7.5: the server answers "+" to go on, or refuses at once with a tagged NO/BAD.
      const first = await next(new RegExp(`^(\\+.*|${tag} (OK|NO|BAD).*)\\r\\n`, 'm'), `${tag} APPEND (continuation)`);
      const lastLine = first.split('\r\n').at(-2) ?? '';
      if (!lastLine.startsWith('+')) {
        replies.push(first);
        continue;
      }
      sock.write(Buffer.concat([body, Buffer.from('\r\n')]));
      replies.push(first + (await next(tagged, `${tag} APPEND`)));
    }
    return replies;
  } finally {
    sock.destroy();
  }
}

/** True when nothing accepts a connection on 127.0.0.1:`port` any more (a stopped server's port). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}
