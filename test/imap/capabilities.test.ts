import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCapabilities } from '../../src/imap/capabilities.js';

describe('parseCapabilities', () => {
  it('reads the post-login Dovecot capability list measured on this machine', () => {
    const c = parseCapabilities(
      'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES MULTIAPPEND URL-PARTIAL ' +
        'CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT ' +
        'SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE ' +
        'SAVEDATE LITERAL+ NOTIFY',
    );
    assert.equal(c.imap4rev1, true);
    assert.equal(c.imap4rev2, false);
    assert.equal(c.literalPlus, true);
    assert.equal(c.literalMinus, false);
    assert.equal(c.multiappend, true);
    assert.equal(c.uidplus, true);
    assert.equal(c.binary, true);
    assert.equal(c.saslIR, true);
    assert.equal(c.starttls, false);
    assert.equal(c.loginDisabled, false);
    assert.equal(c.specialUse, false);
    assert.equal(c.compress, false);
    assert.equal(c.appendLimit, undefined);
    assert.deepEqual(c.authMechanisms, []);
    assert.ok(c.raw.has('SNIPPET=FUZZY'));
  });

  it('reads a pre-login Gmail-like list: no MULTIAPPEND, LITERAL- only, AUTH mechanisms in order', () => {
    const c = parseCapabilities('IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER LITERAL- STARTTLS LOGINDISABLED');
    assert.equal(c.multiappend, false);
    assert.equal(c.literalPlus, false);
    assert.equal(c.literalMinus, true);
    assert.equal(c.starttls, true);
    assert.equal(c.loginDisabled, true);
    assert.deepEqual(c.authMechanisms, ['XOAUTH2', 'PLAIN', 'PLAIN-CLIENTTOKEN', 'OAUTHBEARER']);
  });

  it('is case-insensitive and matches a parameterised atom by its name', () => {
    const c = parseCapabilities('imap4rev2 auth=plain compress=deflate special-use appendlimit=35882577 utf8=accept');
    assert.equal(c.has('IMAP4REV2'), true);
    assert.equal(c.has('Imap4Rev2'), true);
    assert.equal(c.has('AUTH'), true);
    assert.equal(c.has('auth=PLAIN'), true);
    assert.equal(c.has('AUTH=LOGIN'), false);
    assert.equal(c.has('APPENDLIMIT'), true);
    assert.equal(c.has('IMAP4'), false);
    assert.equal(c.compress, true);
    assert.equal(c.specialUse, true);
    assert.equal(c.utf8Accept, true);
    assert.equal(c.appendLimit, 35882577);
    assert.deepEqual(c.authMechanisms, ['PLAIN']);
  });

  it('treats IMAP4rev2 as implying LITERAL- and UIDPLUS (RFC 9051)', () => {
    const c = parseCapabilities('IMAP4rev2');
    assert.equal(c.literalMinus, true);
    assert.equal(c.uidplus, true);
    assert.equal(c.literalPlus, false);
  });

  it('distinguishes a bare APPENDLIMIT (per-mailbox) from APPENDLIMIT=n and ignores a bad value', () => {
    const bare = parseCapabilities('IMAP4rev1 APPENDLIMIT');
    assert.equal(bare.has('APPENDLIMIT'), true);
    assert.equal(bare.appendLimit, undefined);
    assert.equal(parseCapabilities('APPENDLIMIT=abc').appendLimit, undefined);
    assert.equal(parseCapabilities('APPENDLIMIT=0').appendLimit, 0);
  });

  it('accepts empty text, extra whitespace and a leading CAPABILITY word', () => {
    const empty = parseCapabilities('');
    assert.equal(empty.raw.size, 0);
    assert.equal(empty.imap4rev1, false);
    const c = parseCapabilities('  CAPABILITY   IMAP4rev1\tLITERAL+  ');
    assert.deepEqual([...c.raw], ['IMAP4REV1', 'LITERAL+']);
  });
});
