// The control plane must never answer "not there" when it could not look (issue 11): imapflow answers a SEARCH on a
// connection that died with false, and swallows a failed NOOP. Read as "no match", that re-sent a stored message
// (the chaos bench's fault mix doubled 1–100 messages per run).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlPlane } from '../../src/mailbox/control-plane.js';
import { startServer } from '../../src/server/server.js';

test('a look-up whose connection dies mid-way rejects instead of answering "no match"', async (t) => {
  const s = await startServer({ noDelay: true });
  t.after(() => s.close());
  s.store.append('INBOX', [{ data: Buffer.from('Message-ID: <here@x>\r\nSubject: s\r\n\r\nbody\r\n'), flags: [] }]);
  const plane = await ControlPlane.connect({ host: s.host, port: s.port, secure: false, starttls: 'off', user: 'test', password: 'test' });
  t.after(() => plane.close().catch(() => undefined));
  assert.deepEqual((await plane.findByMessageId('INBOX', '<here@x>')).map((m) => m.uid), [1]);
  // From now on the server drops the connection when the next command arrives, without answering it.
  s.faults.set({ dropAfterCommands: 0 });
  await assert.rejects(plane.findByMessageId('INBOX', '<here@x>'), /E_IMAP|connection|closed|usable|no answer/i);
});
