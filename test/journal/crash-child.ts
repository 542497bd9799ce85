// Child process for journal-crash.test.ts (not a test itself): appends to a journal as fast as it can, the way
// the importer does, and reports on stdout each recordSent that RESOLVED — the moment after which the importer
// would write those messages to the socket. The parent kills it with SIGKILL at a random moment.
import { writeSync } from 'node:fs';
import { Journal, fileIo, type JournalIo } from '../../src/journal/journal.js';

const [path, firstArg, source, target, mode] = process.argv.slice(2);
if (!path || !firstArg || !source || !target) throw new Error('usage: crash-child <journal> <first-id> <source> <target>');
let next = Number(firstArg);

// A single write() of a few KB to the page cache is all-or-nothing in practice, so a kill rarely tears a line.
// 'split' mode writes each batch in two halves with a 3 ms pause between, so kills often land between them
// and the next open must repair a torn last line (what a short write on a full disk or a power cut leaves).
const splitIo: JournalIo = {
  ...fileIo,
  async write(fd, data) {
    const half = Math.floor(data.length / 2);
    await fileIo.write(fd, data.subarray(0, half));
    await new Promise((r) => setTimeout(r, 3));
    await fileIo.write(fd, data.subarray(half));
  },
};
const io = mode === 'split' ? splitIo : fileIo;
const journal = await Journal.open(path, { account: target }, { batchMs: 2, batchEntries: 64, io });
// Synchronous writes to the pipe: an acknowledgement must be out before the next group starts.
writeSync(1, `ready ${journal.repaired ? 'repaired' : 'clean'}\n`);

async function connection(): Promise<void> {
  for (;;) {
    // Large groups with long lines make it likely that the kill lands in the middle of a write.
    const count = 1 + Math.floor(Math.random() * 150);
    const first = next;
    next += count;
    const group = Array.from({ length: count }, (_, i) => ({
      id: `m${first + i}`,
      mailbox: 'INBOX/Archiv',
      messageId: `<${first + i}.${'x'.repeat(40)}@example.org>`,
      size: 4096 + i,
      fingerprint: 'f'.repeat(64),
    }));
    await journal.recordSent(group);
    writeSync(1, `sent ${first} ${count}\n`);
    // Confirm every other message, as tagged OKs would arrive.
    journal.recordConfirmed(group.filter((_, i) => i % 2 === 0).map((e, i) => ({ id: e.id, mailbox: e.mailbox, uid: i + 1, uidValidity: 7 })));
  }
}

await Promise.all([connection(), connection(), connection(), connection()]);
