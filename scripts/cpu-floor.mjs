// The floor under the client CPU per message (issue 14): what any importer written in Node must spend on the same
// corpus, whatever its protocol code — list the folder, open/fstat/read/close every file, and write the bytes to a
// loopback socket, one writev per batch. Nothing else: no IMAP framing, no journal, no parsing. Compare its
// µs/msg with scripts/cpu-per-message.mjs (mailmigrate) and bench:peers (mbsync) to tell which part of our cost is
// ours and which is the kernel's and Node's.
//
//   npm run build && node scripts/cpu-floor.mjs [--messages 5000] [--repeats 3] [--batch 50]
//                                               [--modes sync,sync-sha256,promises,worker] [--tmp /dev/shm]
//
// Each run is a child process (so the sink's CPU, in this process, is not counted) that reads its own rusage
// (user + system, every thread) twice: once after start-up and once at the end. "work" is the difference — the
// per-message floor; "process" includes Node's own start-up. The sink counts the bytes it received: a run that did
// not deliver exactly the corpus's bytes does not count.
// Modes: sync — readSync on the main thread (what safe-read.ts does for files up to 128 KiB);
//        sync-sha256 — the same plus one SHA-256 over each message (what the fingerprint costs at the least);
//        promises — fs/promises FileHandle open/stat/read/close, 16 in flight;
//        worker — one worker thread reads (sync) and transfers the buffers; the main thread only writes;
//        source — mailmigrate's own source layer instead of the bare reads: openSource + readAhead (walk, safe
//                 open/fstat/read/close, LF→CRLF check, NUL scan, Message-ID) and the SHA-256 fingerprint the
//                 importer takes, from the build given after '@' (default: this checkout), e.g.
//                 --modes sync,source@/tmp/base,source — what our reading costs above the floor, build against build.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { open as openHandle } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** One whole file: open without following links, fstat the descriptor, read exactly its size, close. */
function readOne(path, slow) {
  const fd = openSync(path, FLAGS);
  try {
    const size = fstatSync(fd).size;
    // A transferred buffer must own its memory (allocUnsafe may hand out a slice of a shared pool).
    const buf = slow ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, null);
      if (n === 0) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

if (!isMainThread) {
  // The worker of mode "worker": reads the batch it is asked for and transfers the bytes (no copy).
  const { dir, names } = workerData;
  parentPort.on('message', ({ from, to }) => {
    const bufs = [];
    for (let i = from; i < to; i++) bufs.push(readOne(join(dir, names[i]), true));
    parentPort.postMessage(bufs, bufs.map((b) => b.buffer));
  });
} else if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
} else {
  await main();
}

async function child(mode, dir, port, batch) {
  // The source layer's modules load before the count starts: start-up is not per-message work.
  const build = mode.includes('@') ? mode.slice(mode.indexOf('@') + 1) : resolve(new URL('..', import.meta.url).pathname);
  const sources = mode.startsWith('source') ? await import(join(build, 'dist/src/sources/index.js')) : undefined;
  const u0 = process.resourceUsage();
  const sock = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((ok, fail) => sock.once('connect', ok).once('error', fail));
  const names = readdirSync(dir);
  const writeBatch = async (bufs) => {
    sock.cork();
    let ok = true;
    for (const b of bufs) ok = sock.write(b);
    sock.uncork(); // one writev(2) for the batch
    if (!ok) await new Promise((r) => sock.once('drain', r));
  };
  if (mode === 'sync' || mode === 'sync-sha256') {
    for (let i = 0; i < names.length; i += batch) {
      const bufs = [];
      for (let j = i; j < Math.min(names.length, i + batch); j++) {
        const b = readOne(join(dir, names[j]), false);
        if (mode === 'sync-sha256') createHash('sha256').update(b).digest();
        bufs.push(b);
      }
      await writeBatch(bufs);
    }
  } else if (mode === 'promises') {
    const readP = async (name) => {
      const fh = await openHandle(join(dir, name), FLAGS);
      try {
        const { size } = await fh.stat();
        const buf = Buffer.allocUnsafe(size);
        let got = 0;
        while (got < size) {
          const { bytesRead } = await fh.read(buf, got, size - got, null);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    };
    for (let i = 0; i < names.length; i += batch) {
      const bufs = [];
      for (let j = i; j < Math.min(names.length, i + batch); j += 16) {
        bufs.push(...(await Promise.all(names.slice(j, Math.min(j + 16, i + batch)).map(readP))));
      }
      await writeBatch(bufs);
    }
  } else if (mode === 'worker') {
    const w = new Worker(new URL(import.meta.url), { workerData: { dir, names } });
    const next = (from) => new Promise((r) => { w.once('message', r); w.postMessage({ from, to: Math.min(names.length, from + batch) }); });
    // One batch read ahead: the worker reads batch k+1 while the main thread writes batch k.
    let pending = next(0);
    for (let i = 0; i < names.length; i += batch) {
      const bufs = await pending;
      if (i + batch < names.length) pending = next(i + batch);
      await writeBatch(bufs.map((ab) => Buffer.from(ab.buffer ?? ab, ab.byteOffset ?? 0, ab.byteLength)));
    }
    await w.terminate();
  } else if (mode.startsWith('source')) {
    const { openSource, readAhead } = sources;
    const source = await openSource(resolve(dir, '..'));
    let bufs = [];
    let n = 0;
    for await (const item of readAhead(source.items(), { depth: 32 })) {
      if (item.kind !== 'message') throw new Error(`${item.kind}: ${item.error?.message ?? item.path}`);
      const fp = item.normalized.fingerprint ?? createHash('sha256').update(item.normalized.data).digest('base64url').slice(0, 22);
      if (fp.length !== 22) throw new Error('no fingerprint');
      bufs.push(item.normalized.data);
      if (++n % batch === 0) {
        await writeBatch(bufs);
        bufs = [];
      }
    }
    if (bufs.length) await writeBatch(bufs);
    if (n !== names.length) throw new Error(`source: ${n} messages, expected ${names.length}`);
  } else throw new Error(`unknown mode ${mode}`);
  await new Promise((r) => sock.end(r));
  const u1 = process.resourceUsage();
  process.stdout.write(JSON.stringify({
    workUser: u1.userCPUTime - u0.userCPUTime,
    workSys: u1.systemCPUTime - u0.systemCPUTime,
    procUser: u1.userCPUTime,
    procSys: u1.systemCPUTime,
    maxRssKb: u1.maxRSS,
    workFaults: u1.minorPageFault - u0.minorPageFault,
  }));
}

async function main() {
  const here = resolve(new URL('..', import.meta.url).pathname);
  const { values: opt } = parseArgs({
    options: {
      messages: { type: 'string', default: '5000' },
      repeats: { type: 'string', default: '3' },
      batch: { type: 'string', default: '50' },
      modes: { type: 'string', default: 'sync,sync-sha256,promises,worker' },
      tmp: { type: 'string', default: '/dev/shm' },
    },
  });
  const count = Number(opt.messages);
  const { writeMaildir } = await import(join(here, 'dist/src/bench/corpus.js'));
  const work = mkdtempSync(join(opt.tmp, 'mm-floor-'));
  let received = 0;
  const sink = createServer((s) => s.on('data', (d) => (received += d.length)));
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const port = sink.address().port;
  const results = new Map(opt.modes.split(',').map((m) => [m, []]));
  try {
    const corpus = await writeMaildir(join(work, 'corpus'), count, { seed: 1 });
    console.error(`corpus: ${corpus.count} messages, ${(corpus.bytes / 1e6).toFixed(1)} MB; batch ${opt.batch}`);
    for (let r = 0; r < Number(opt.repeats); r++) {
      for (const mode of results.keys()) {
        received = 0;
        const out = await new Promise((ok, fail) => {
          const c = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child', mode, join(work, 'corpus', 'cur'), String(port), opt.batch], { stdio: ['ignore', 'pipe', 'inherit'] });
          let s = '';
          c.stdout.on('data', (d) => (s += d));
          c.on('exit', (code) => (code === 0 ? ok(JSON.parse(s)) : fail(new Error(`${mode}: exit ${code}`))));
        });
        await new Promise((r2) => setTimeout(r2, 50)); // the sink drains the last bytes
        if (received !== corpus.bytes) throw new Error(`${mode}: the sink got ${received} bytes, expected ${corpus.bytes}`);
        results.get(mode).push(out);
        console.error(`${mode} run ${r + 1}: work ${((out.workUser + out.workSys) / count).toFixed(0)} µs/msg (user ${(out.workUser / count).toFixed(0)}, sys ${(out.workSys / count).toFixed(0)}), process ${((out.procUser + out.procSys) / 1000).toFixed(0)} ms, ${(out.workFaults / count).toFixed(1)} page faults/msg, max RSS ${(out.maxRssKb / 1024).toFixed(0)} MB`);
      }
    }
  } finally {
    sink.close();
    rmSync(work, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [mode, rs] of results) {
    const per = (f) => (median(rs.map(f)) / count).toFixed(0);
    console.log(
      `${mode.padEnd(12)} median work ${per((r) => r.workUser + r.workSys)} µs/msg (user ${per((r) => r.workUser)}, sys ${per((r) => r.workSys)}); ` +
        `whole process ${(median(rs.map((r) => r.procUser + r.procSys)) / 1000).toFixed(0)} ms; max RSS ${Math.max(...rs.map((r) => r.maxRssKb / 1024)).toFixed(0)} MB; runs ${rs.length}`,
    );
  }
}
