// imapflow's dependencies that the control plane does not reach on its paths — pino, socks, libmime, mailsplit,
// encoding-japanese, and iconv-lite's multi-byte tables — are not in the bundle's imapflow chunk but in files of
// their own, loaded on first use (scripts/lazy-vendor.mjs; issue 14, docs/measurements.md "Start-up"). These tests
// check that nothing changed for users: the bundle's control plane still does its real work against a private
// Dovecot (a folder name in modified UTF-7 through iconv-lite, LIST, STATUS, SELECT, SEARCH, FETCH of headers and
// of bodies, STORE) without loading any of them, and each vendor file does what its package does.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane as ControlPlaneType } from '../../src/mailbox/control-plane.js';
import { dovecotSkipReason, startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { binarySkipReason, ROOT } from './cli-helpers.js';

const BUNDLE = join(ROOT, 'dist', 'bundle');
const VENDOR = join(BUNDLE, 'vendor');
const requireHere = createRequire(import.meta.url);
// The packages as imapflow resolves them (its own nested copy of iconv-lite included).
const fromImapflow = createRequire(requireHere.resolve('imapflow/package.json'));

const vendorFile = (name: string): string => {
  const prefix = `${name.replace('/', '+')}@`;
  const f = readdirSync(VENDOR).find((x) => x.startsWith(prefix) && x.endsWith('.cjs') && !x.includes('+lib+'));
  assert.ok(f, `no ${prefix}*.cjs in ${VENDOR}`);
  return join(VENDOR, f);
};
/** Vendor files Node's CommonJS loader has loaded in this process (the chunks require() them with createRequire). */
const loadedVendors = (): string[] =>
  Object.keys(requireHere.cache)
    .filter((f) => f.startsWith(VENDOR))
    .map((f) => relative(VENDOR, f))
    .sort();

/** The bundle's control plane: the chunk import-run.ts loads with import(), whose entry point is src/mailbox/control-plane.ts. */
async function bundledControlPlane(): Promise<typeof ControlPlaneType> {
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'bundle.meta.json'), 'utf8')) as { outputs: Record<string, { entryPoint?: string }> };
  const out = Object.keys(meta.outputs).find((o) => meta.outputs[o]!.entryPoint === 'src/mailbox/control-plane.ts');
  assert.ok(out, 'the metafile names the control plane chunk');
  const chunk = (await import(pathToFileURL(join(ROOT, out)).href)) as { ControlPlane?: typeof ControlPlaneType };
  assert.equal(typeof chunk.ControlPlane, 'function', `${out} exports ControlPlane`);
  return chunk.ControlPlane!;
}

const skip = dovecotSkipReason() ?? binarySkipReason();
if (skip) console.log(`# bundled control plane on Dovecot skipped: ${skip}`);

describe('the bundle\'s control plane against a private Dovecot', { skip }, () => {
  let d: DovecotInstance;
  before(async () => {
    d = await startDovecot();
  });
  after(async () => {
    await d?.stop();
  });

  test('creates a folder with a non-ASCII name, lists, STATUSes, SEARCHes, FETCHes headers and bodies and STOREs flags, loading none of the vendor files', async () => {
    // First in this file: the vendor tests below load every vendor file into this process's module cache.
    assert.deepEqual(loadedVendors(), []);
    const ControlPlane = await bundledControlPlane();
    const cp = await ControlPlane.connect({ host: '127.0.0.1', port: d.port, secure: false, starttls: 'off', user: d.user, password: d.password });
    try {
      const path = await cp.ensureFolder(['Café', 'Über']);
      const folders = await cp.listFolders();
      assert.ok(folders.some((f) => f.path === path), `${path} in ${folders.map((f) => f.path).join(', ')}`);
      // On the wire the name is modified UTF-7 (RFC 3501 §5.1.3): Dovecot's Maildir names the directory so.
      // (LAYOUT=fs: one directory per level; the default layout: one directory, levels joined with dots.)
      const dir = [join('Caf&AOk-', '&ANw-ber'), '.Caf&AOk-.&ANw-ber'].find((n) => existsSync(join(d.maildir, n, 'new')));
      assert.ok(dir, readdirSync(d.maildir).join(' '));
      // A message delivered into the folder's Maildir (Dovecot picks it up on the next look); Message-ID and an
      // encoded Subject, as a source message would carry.
      const body = 'Subject: =?UTF-8?B?w5xiZXI=?=\r\nFrom: a@example.org\r\nMessage-ID: <vendor-1@example.org>\r\n\r\nhello\r\n';
      writeFileSync(join(d.maildir, dir, 'new', '1700000000.M1P1.test'), body);
      const status = await cp.status(path);
      assert.equal(status.messages, 1);
      const found = await cp.findByMessageId(path, '<vendor-1@example.org>');
      assert.equal(found.length, 1);
      const [summary] = await cp.listMessages(path);
      assert.equal(summary?.messageId, '<vendor-1@example.org>');
      assert.equal((await cp.fetchBody(path, found[0]!.uid)).toString(), body);
      await cp.storeFlags(path, [found[0]!.uid], ['\\Seen'], []);
      const flags = await cp.permanentFlags(path);
      assert.ok(flags.flags.includes('\\Seen'), flags.flags.join(' '));
    } finally {
      await cp.close();
    }
    // pino (logger: false), socks (no proxy), mailsplit, libmime and encoding-japanese (no ENVELOPE, BODYSTRUCTURE or
    // download) and iconv-lite's CJK tables were never needed; iconv-lite's UTF-7, in the chunk, was.
    assert.deepEqual(loadedVendors(), []);
  });

  test('logs in over implicit TLS and over STARTTLS, checking the certificate: imapflow\'s node:tls is loaded when it connects', async () => {
    // The bundle hands imapflow node:tls, node:zlib and node:dns as getters that load them on first use
    // (scripts/lazy-vendor.mjs lazyBuiltins).
    const tlsDovecot = await startDovecot({ tls: true });
    try {
      const ControlPlane = await bundledControlPlane();
      const ca = readFileSync(tlsDovecot.caFile!);
      const auth = { host: '127.0.0.1', user: tlsDovecot.user, password: tlsDovecot.password, ca, servername: 'localhost' };
      for (const how of [{ port: tlsDovecot.tlsPort!, secure: true }, { port: tlsDovecot.port, secure: false, starttls: 'required' as const }]) {
        const cp = await ControlPlane.connect({ ...auth, ...how });
        try {
          assert.ok((await cp.listFolders()).some((f) => f.path === 'INBOX'), JSON.stringify(how));
        } finally {
          await cp.close();
        }
      }
      // And a certificate that does not check out is refused, as before.
      await assert.rejects(ControlPlane.connect({ ...auth, ca: undefined, port: tlsDovecot.tlsPort!, secure: true }));
    } finally {
      await tlsDovecot.stop();
    }
  });
});

describe('the vendor files of the bundle', { skip: binarySkipReason() }, () => {
  test('the imapflow chunk holds none of the lazily loaded packages nor iconv-lite\'s tables, and each has its vendor file', () => {
    const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'bundle.meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    const chunk = Object.keys(meta.outputs).find((o) => Object.keys(meta.outputs[o]!.inputs).some((i) => i.includes('imapflow/dist/esm/imap-flow.js')))!;
    const inside = Object.keys(meta.outputs[chunk]!.inputs).filter((i) => !i.startsWith('lazy-vendor:') && /node_modules\/(pino|socks|libmime|@zone-eu\/mailsplit|encoding-japanese)\/|iconv-lite\/encodings\/tables\//.test(i));
    assert.deepEqual(inside, []);
    for (const p of ['pino', 'socks', 'libmime', '@zone-eu/mailsplit', 'encoding-japanese']) assert.ok(existsSync(vendorFile(p)), p);
    // The imapflow chunk keeps iconv-lite itself: modified UTF-7 for folder names is on the control plane's path.
    assert.ok(Object.keys(meta.outputs[chunk]!.inputs).some((i) => /iconv-lite\/lib\/index\.js$/.test(i)));
  });

  test('every require() of a vendor file or table, in the chunks and in the vendor files, names a file that exists', () => {
    const named: string[] = [];
    for (const f of readdirSync(BUNDLE).filter((x) => x.endsWith('.js'))) {
      for (const m of readFileSync(join(BUNDLE, f), 'utf8').matchAll(/require\("(\.\/vendor\/[^"]+)"\)/g)) named.push(join(BUNDLE, m[1]!));
    }
    for (const f of readdirSync(VENDOR).filter((x) => x.endsWith('.cjs'))) {
      for (const m of readFileSync(join(VENDOR, f), 'utf8').matchAll(/require\("(\.\/[^"]+)"\)/g)) named.push(join(VENDOR, m[1]!));
    }
    // pino, socks, libmime, mailsplit (and its flowed-decoder), encoding-japanese, iconv-lite's tables.
    assert.ok(named.length >= 10, named.join(' '));
    assert.deepEqual(named.filter((f) => !existsSync(f)), []);
  });

  test('each vendor file exports the names its package exports', () => {
    for (const [name, req] of [['pino', fromImapflow], ['socks', fromImapflow], ['libmime', fromImapflow], ['@zone-eu/mailsplit', fromImapflow],
      ['encoding-japanese', fromImapflow]] as const) {
      const real = req(name) as Record<string, unknown>;
      const vendored = requireHere(vendorFile(name)) as Record<string, unknown>;
      assert.equal(typeof vendored, typeof real, name);
      assert.deepEqual(Object.keys(vendored).sort(), Object.keys(real).sort(), name);
    }
  });

  test('libmime from its vendor file decodes encoded words in ISO-2022-JP, Shift_JIS, GBK and Big5 like the package (encoding-japanese and iconv-lite\'s tables loaded on that first use)', () => {
    const real = fromImapflow('libmime') as { decodeWords(s: string): string };
    const vendored = requireHere(vendorFile('libmime')) as { decodeWords(s: string): string };
    const words = {
      // にほんご in each
      'ISO-2022-JP': '=?ISO-2022-JP?B?GyRCJEskWyRzJDQbKEI=?=',
      Shift_JIS: '=?Shift_JIS?B?gsmC2YLxgrI=?=',
      // 中文 in GBK, 中文 in Big5
      GBK: '=?GBK?B?1tDOxA==?=',
      Big5: '=?Big5?B?pKSk5Q==?=',
    };
    for (const [charset, w] of Object.entries(words)) {
      const out = vendored.decodeWords(w);
      assert.equal(out, real.decodeWords(w), charset);
      assert.ok(/[\u3040-\u30ff\u4e00-\u9fff]/.test(out), `${charset}: ${out}`);
    }
    assert.equal(vendored.decodeWords('=?ISO-2022-JP?B?GyRCJEskWyRzJDQbKEI=?='), 'にほんご');
    assert.equal(vendored.decodeWords('=?GBK?B?1tDOxA==?='), '中文');
    // The tables are the copied JSON files, required from beside the vendor file.
    assert.ok(loadedVendors().some((f) => /^iconv-lite@[\d.]+-tables\/cp936\.json$/.test(f)), loadedVendors().join(' '));
  });

  test('pino and socks from their vendor files are the functions imapflow would call', () => {
    const pino = requireHere(vendorFile('pino')) as ((o: object) => { info: unknown; child: unknown }) & { destination: unknown };
    assert.equal(typeof pino, 'function');
    assert.equal(typeof pino.destination, 'function');
    const logger = pino({ level: 'silent' });
    assert.equal(typeof logger.child, 'function');
    const socks = requireHere(vendorFile('socks')) as { SocksClient: { createConnection: unknown } };
    assert.equal(typeof socks.SocksClient.createConnection, 'function');
  });
});
