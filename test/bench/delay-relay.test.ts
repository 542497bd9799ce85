// bench/peers/delay-relay.ts: the user-space round-trip delay in front of a server (bench:peers --rtt). Real TCP on
// 127.0.0.1, bounded: a few connections, under a second each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { DelayRelay } from '../../bench/peers/delay-relay.js';

/** An echo server (each side's FIN is answered with its own once the echo is written). */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket receives until the other side's FIN. */
function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

test('a round trip through the relay takes at least the configured round-trip time', async () => {
  const echo = await echoServer();
  const relay = await DelayRelay.start({ targetPort: echo.port, oneWayMs: 40 });
  try {
    const s = await connect(relay.port);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const got = new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.write(`ping ${i}\n`);
      await got;
      times.push(performance.now() - t0);
    }
    s.destroy();
    // 40 ms each way: never less than 80 ms. The upper bound only guards against a delay applied twice per hop.
    for (const t of times) assert.ok(t >= 79, `round trip ${t.toFixed(1)} ms, expected ≥ 80`);
    assert.ok(Math.min(...times) < 160, `fastest round trip ${Math.min(...times).toFixed(1)} ms: the delay looks doubled`);
  } finally {
    await relay.close();
    await echo.close();
  }
});

test('bytes arrive intact and in order when the delay queue is far smaller than the transfer, and the sender is paused rather than buffered without bound', async () => {
  const echo = await echoServer();
  // 64 KiB per direction against a 4 MiB transfer: the relay must pause its reader dozens of times.
  const relay = await DelayRelay.start({ targetPort: echo.port, oneWayMs: 5, maxBufferedBytes: 64 * 1024 });
  try {
    const s = await connect(relay.port);
    const data = randomBytes(4 * 1024 * 1024);
    const back = readAll(s);
    for (let off = 0; off < data.length; off += 10_000) s.write(data.subarray(off, off + 10_000));
    s.end();
    const got = await back;
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data), 'the echoed bytes differ from the bytes sent');
    assert.ok(relay.stats.pauses > 0, 'the relay never paused its reader, so its queue was not bounded');
    assert.equal(relay.stats.bytesToServer, data.length);
    assert.equal(relay.stats.bytesToClient, data.length);
    s.destroy();
  } finally {
    await relay.close();
    await echo.close();
  }
});

test("the server's reply and its close still reach a client after a delay, even when the server closes at once", async () => {
  // An IMAP server answers LOGOUT with BYE and OK and closes: the client must still get every byte, delayed.
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('* BYE closing\r\na1 OK LOGOUT done\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay = await DelayRelay.start({ targetPort: (server.address() as net.AddressInfo).port, oneWayMs: 30 });
  try {
    const s = await connect(relay.port);
    const t0 = performance.now();
    const got = await readAll(s);
    assert.equal(got.toString(), '* BYE closing\r\na1 OK LOGOUT done\r\n');
    assert.ok(performance.now() - t0 >= 29, 'the reply was not delayed');
    s.destroy();
  } finally {
    await relay.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('the relay refuses a target that is not loopback and a negative delay', async () => {
  await assert.rejects(DelayRelay.start({ targetPort: 143, targetHost: '192.0.2.1', oneWayMs: 20 }), /loopback/);
  await assert.rejects(DelayRelay.start({ targetPort: 143, oneWayMs: -1 }), /oneWayMs/);
});
