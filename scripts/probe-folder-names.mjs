// Which folder names each private server refuses: CREATE of one name per kind of character, then of long levels,
// on Dovecot and on Cyrus with both separators (the harness's helpers, so build first: `npm run build`).
// Prints one line per server and name that was refused, with the server's answer. docs/sources.md cites the result.
//   npm run build && node scripts/probe-folder-names.mjs
import { ImapFlow } from 'imapflow';
import { startCyrus, cyrusSkipReason } from '../dist/test/helpers/cyrus.js';
import { startDovecot, dovecotSkipReason } from '../dist/test/helpers/dovecot.js';

const NAMES = [
  ...['/', '\\', '%', '*', '"', '.', '^', '&', '~', '!', '(', ')', '[', ']', '{', '}', ';', '<', '>', '?', ',', "'", '=', '@', '$', '|', '`', '#', ':', '+', '\t', '\u0001', '\u{1F600}'].map((c) => `a${c}b`),
  '~lead', '#lead', ' lead', 'trail ',
  ...[200, 255, 256].map((n) => 'x'.repeat(n)),
  'é'.repeat(84), // 254 bytes of modified UTF-7
  'é'.repeat(120), // 322 bytes of modified UTF-7
];

async function probe(label, port, user, pass, prefix) {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  try {
    for (const n of NAMES) {
      try {
        await c.mailboxCreate(prefix + n);
      } catch (e) {
        console.log(`${label}\trefused\t${JSON.stringify(n.length > 24 ? `${n.slice(0, 3)}… (${n.length} chars)` : n)}\t${e.responseText ?? e.message}`);
      }
    }
  } finally {
    await c.logout().catch(() => c.close());
  }
}

if (!dovecotSkipReason()) {
  const d = await startDovecot();
  try {
    await probe(`dovecot ${d.version}`, d.port, d.user, d.password, '');
  } finally {
    await d.stop();
  }
} else console.log(`dovecot skipped: ${dovecotSkipReason()}`);
for (const separator of ['.', '/']) {
  if (cyrusSkipReason()) {
    console.log(`cyrus skipped: ${cyrusSkipReason()}`);
    break;
  }
  const cy = await startCyrus({ separator });
  try {
    await probe(`cyrus ${cy.version} (${separator})`, cy.port, cy.users[0].name, cy.users[0].password, cy.personalPrefix);
  } finally {
    await cy.stop();
  }
}
