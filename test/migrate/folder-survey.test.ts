import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthError, ConnectError, ServerResponseError } from '../../src/core/errors.js';
import { decodeMutf7, encodeMutf7 } from '../../src/core/mutf7.js';
import { parseCapabilities } from '../../src/imap/capabilities.js';
import type { ResponseItem } from '../../src/imap/response-reader.js';
import type { TaggedResult } from '../../src/transport/command-outcome.js';
import type { EnqueueOptions } from '../../src/transport/command-queue-types.js';
import { ControlAdapter, type ControlPlaneLike } from '../../src/migrate/control-adapter.js';
import { FolderRuns } from '../../src/migrate/folder-runs.js';
import { FolderSurvey, parseStatus, type ServerListing, SURVEY_MAX_LISTED, type SurveyConnection } from '../../src/migrate/folder-survey.js';
import { createTree, FolderRenames, type TreeTarget } from '../../src/migrate/folder-tree.js';
import { mapFolder } from '../../src/migrate/folder-map.js';

type Untagged = Extract<ResponseItem, { kind: 'untagged' }>;

function untagged(type: string, text: string, extra: Partial<Untagged> = {}): Untagged {
  return { kind: 'untagged', type, number: undefined, code: undefined, text, literals: [], raw: Buffer.from(`* ${type} ${text}\r\n`), ...extra };
}

/** The atom, quoted string or INBOX a command names, back to the name (modified UTF-7 decoded). */
function nameOf(arg: string): string {
  return decodeMutf7(arg.startsWith('"') ? arg.slice(1, -1).replace(/\\(.)/g, '$1') : arg);
}

interface Folder {
  flags: string[];
  messages: number;
}

/**
 * A server behind a connection, as the survey meets it: every command is "sent" at once (pipelined) and answered
 * later, in order, one at a time (RFC 3501 §5.5); while one is answered, each of its untagged responses goes to the
 * oldest command in flight that asked for its type — what src/transport/command-queue.ts does with streamed answers.
 */
class FakeServer {
  readonly folders = new Map<string, Folder>([['INBOX', { flags: ['\\Seen'], messages: 3 }]]);
  readonly subscribed = new Set<string>();
  /** Commands as sent, in order; `maxInFlight` is how many were outstanding at once at most. */
  readonly sent: string[] = [];
  maxInFlight = 0;
  opened = 0;
  caps = 'IMAP4rev1 UNSELECT';
  /** The NAMESPACE answer's text, and LIST attributes by folder (LIST lists every folder with "/"). */
  namespace = '(("" "/")) NIL NIL';
  readonly attributes = new Map<string, string>();
  /** A LIST line given as is, after the folders' (a malformed one, say). */
  listExtra: string | undefined;
  refuse: (verb: string, name: string) => ServerResponseError | undefined = () => undefined;
  selected: string | undefined;
  private readonly inflight: Array<{ verb: string; args: string[]; opts: EnqueueOptions; res: (r: TaggedResult) => void; rej: (e: unknown) => void }> = [];
  private scheduled = false;

  connection(): SurveyConnection {
    this.opened++;
    const state = { closed: false };
    const send = (verb: string, args: ReadonlyArray<string | { atom: string }> = [], opts: EnqueueOptions = {}): Promise<TaggedResult> => {
      const a = args.map((x) => (typeof x === 'string' ? x : x.atom));
      this.sent.push(`${verb} ${a.join(' ')}`.trim());
      return new Promise<TaggedResult>((res, rej) => {
        this.inflight.push({ verb, args: a, opts, res, rej });
        this.maxInFlight = Math.max(this.maxInFlight, this.inflight.length);
        this.schedule();
      });
    };
    const close = async (): Promise<void> => {
      state.closed = true;
      this.selected = undefined;
    };
    return {
      capabilities: parseCapabilities(this.caps),
      get closed() {
        return state.closed;
      },
      command: send,
      close,
    };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Answers come after everything sent in this turn: the burst is on the wire before the first reply.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inflight.length) this.answer();
    });
  }

  private route(u: Untagged): void {
    this.inflight.find((e) => e.opts.untagged?.includes(u.type))?.opts.onUntagged?.(u);
  }

  private answer(): void {
    const e = this.inflight[0]!;
    const name = e.args[0] !== undefined ? nameOf(e.args[0]) : '';
    const ok = (): void => {
      this.inflight.shift();
      e.res({ status: 'OK', code: undefined, text: 'done', untagged: [], record: {} as TaggedResult['record'] });
    };
    const fail = (err: ServerResponseError): void => {
      this.inflight.shift();
      e.rej(err);
    };
    const refused = this.refuse(e.verb, name);
    if (refused) return fail(refused);
    switch (e.verb) {
      case 'CREATE':
        if (this.folders.has(name)) return fail(new ServerResponseError('CREATE', 'NO', 'ALREADYEXISTS', 'Mailbox already exists', 'never'));
        this.folders.set(name, { flags: ['\\Seen', '\\*'], messages: 0 });
        return ok();
      case 'SUBSCRIBE':
        this.subscribed.add(name);
        return ok();
      case 'STATUS': {
        const f = this.folders.get(name);
        if (!f) return fail(new ServerResponseError('STATUS', 'NO', 'NONEXISTENT', 'Mailbox does not exist', 'never'));
        // A selected mailbox answers from a stale view (Dovecot): the survey must never ask it so.
        const messages = this.selected === name ? -1 : f.messages;
        this.route(untagged('STATUS', `${e.args[0]} (MESSAGES ${messages} UIDNEXT ${messages + 1} UIDVALIDITY 7)`));
        return ok();
      }
      case 'SELECT': {
        const f = this.folders.get(name);
        if (!f) return fail(new ServerResponseError('SELECT', 'NO', 'NONEXISTENT', 'Mailbox does not exist', 'never'));
        this.selected = name;
        this.route(untagged('FLAGS', `(${f.flags.filter((x) => x !== '\\*').join(' ')})`));
        this.route(untagged('OK', 'Flags permitted.', { code: { name: 'PERMANENTFLAGS', args: `(${f.flags.join(' ')})` } }));
        this.route(untagged('EXISTS', '', { number: f.messages }));
        return ok();
      }
      case 'UNSELECT':
        this.selected = undefined;
        return ok();
      case 'NAMESPACE':
        this.route(untagged('NAMESPACE', this.namespace));
        return ok();
      case 'LIST':
        for (const name of this.folders.keys()) this.route(untagged('LIST', `(${this.attributes.get(name) ?? '\\HasNoChildren'}) "/" "${encodeMutf7(name)}"`));
        if (this.listExtra !== undefined) this.route(untagged('LIST', this.listExtra));
        return ok();
      default:
        return fail(new ServerResponseError(e.verb, 'BAD', undefined, 'unknown command', 'never'));
    }
  }
}

describe('parseStatus', () => {
  it('reads the mailbox as an atom, a quoted string (escapes undone) or a literal, and INBOX in any case', () => {
    assert.deepEqual(parseStatus(untagged('STATUS', 'Sent (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 9)')), { wire: 'Sent', status: { messages: 2, uidNext: 3, uidValidity: 9 } });
    assert.equal(parseStatus(untagged('STATUS', '"My \\"Box\\"" (UIDVALIDITY 9 MESSAGES 0 UIDNEXT 1)'))?.wire, 'My "Box"');
    assert.equal(parseStatus(untagged('STATUS', '{5} (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3)', { literals: [Buffer.from('a b c')] }))?.wire, 'a b c');
    assert.equal(parseStatus(untagged('STATUS', 'inbox (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3)'))?.wire, 'INBOX');
  });

  it('gives nothing for an answer missing a count, or another response type', () => {
    assert.equal(parseStatus(untagged('STATUS', 'Sent (MESSAGES 2 UIDNEXT 3)')), undefined);
    assert.equal(parseStatus(untagged('LIST', '() "/" Sent')), undefined);
    assert.equal(parseStatus(untagged('STATUS', 'Sent')), undefined);
  });
});

describe('FolderSurvey', () => {
  it('sends every CREATE before the first answer, then SUBSCRIBEs only what was created or already there and wanted', async () => {
    const s = new FakeServer();
    s.folders.set('Old', { flags: [], messages: 0 });
    s.refuse = (verb, name) => (verb === 'CREATE' && name === 'Bad%' ? new ServerResponseError('CREATE', 'NO', undefined, 'Invalid mailbox name', 'never') : undefined);
    const survey = new FolderSurvey(async () => s.connection());
    const out = await survey.create([
      { path: 'A', subscribe: true },
      { path: 'A/B', subscribe: false },
      { path: 'Old', subscribe: true },
      { path: 'Bad%', subscribe: true },
    ]);
    assert.deepEqual([...out].map(([p, r]) => [p, typeof r === 'string' ? r : 'failed']), [
      ['A', 'created'],
      ['A/B', 'created'],
      ['Old', 'exists'],
      ['Bad%', 'failed'],
    ]);
    assert.equal(s.maxInFlight, 4, 'the four CREATEs were in flight together');
    assert.deepEqual(s.sent.slice(0, 4), ['CREATE A', 'CREATE A/B', 'CREATE Old', 'CREATE "Bad%"']);
    // The SUBSCRIBEs are not waited for; the next burst is answered after them.
    await survey.status(['A']);
    assert.deepEqual([...s.subscribed].sort(), ['A', 'Old'], 'no SUBSCRIBE for a refused name, nor for one created unsubscribed');
    await survey.close();
  });

  it('takes only [ALREADYEXISTS] as "exists": a plain NO that says "exists" is left to the careful path', async () => {
    const s = new FakeServer();
    // Courier reads the atom INBOX.~x as INBOX and answers so.
    s.refuse = (verb, name) => (verb === 'CREATE' && name.includes('~') ? new ServerResponseError('CREATE', 'NO', undefined, 'INBOX already exists!', 'never') : undefined);
    const survey = new FolderSurvey(async () => s.connection());
    const out = await survey.create([{ path: 'INBOX.~x', subscribe: true }]);
    assert.equal(typeof out.get('INBOX.~x'), 'object');
    await survey.status(['INBOX']);
    assert.equal(s.subscribed.size, 0);
  });

  it('asks CREATE ... (USE (\\Sent)) where the server offers CREATE-SPECIAL-USE, a plain CREATE where not', async () => {
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 CREATE-SPECIAL-USE';
    await new FolderSurvey(async () => s.connection()).create([{ path: 'Sent', specialUse: '\\Sent', subscribe: false }]);
    assert.deepEqual(s.sent, ['CREATE Sent (USE (\\Sent))']);
    const t = new FakeServer();
    await new FolderSurvey(async () => t.connection()).create([{ path: 'Sent', specialUse: '\\Sent', subscribe: false }]);
    assert.deepEqual(t.sent, ['CREATE Sent']);
  });

  it('STATUS of every folder in one burst, each answer kept by the name it carries; NO is "absent", BAD is unknown', async () => {
    const s = new FakeServer();
    s.folders.set('A b', { flags: [], messages: 5 });
    s.folders.set('Boîte', { flags: [], messages: 2 });
    s.refuse = (verb, name) => (verb === 'STATUS' && name === 'Odd' ? new ServerResponseError('STATUS', 'BAD', undefined, 'parse error', 'never') : undefined);
    const survey = new FolderSurvey(async () => s.connection());
    const out = await survey.status(['A b', 'inbox', 'Boîte', 'Gone', 'Odd']);
    assert.equal(s.maxInFlight, 5);
    assert.deepEqual(out.get('A b'), { messages: 5, uidNext: 6, uidValidity: 7 });
    assert.equal(out.get('inbox')?.messages, 3);
    assert.equal(out.get('Boîte')?.messages, 2, 'matched through modified UTF-7 (Bo&AO4-te)');
    assert.equal(out.has('Gone'), true);
    assert.equal(out.get('Gone'), undefined);
    assert.equal(out.has('Odd'), false);
  });

  it('tells pipelined SELECTs apart by order: each folder gets its own PERMANENTFLAGS', async () => {
    const s = new FakeServer();
    for (let i = 0; i < 10; i++) s.folders.set(`F${i}`, { flags: ['\\Seen', `$K${i}`, ...(i % 2 ? ['\\*'] : [])], messages: i });
    const survey = new FolderSurvey(async () => s.connection());
    const paths = [...Array(10).keys()].map((i) => `F${i}`);
    const ahead = survey.permanentFlagsOf([...paths, 'Gone']);
    for (const [i, p] of paths.entries()) assert.deepEqual(await ahead.get(p), { flags: ['\\Seen', `$K${i}`], anyKeyword: i % 2 === 1 }, p);
    assert.equal(await ahead.get('Gone'), undefined);
    assert.ok(s.maxInFlight >= 10, `the SELECTs were pipelined (${s.maxInFlight} in flight)`);
  });

  it('never asks STATUS of the selected mailbox: UNSELECT first where offered, else a fresh connection', async () => {
    for (const caps of ['IMAP4rev1 UNSELECT', 'IMAP4rev1']) {
      const s = new FakeServer();
      s.caps = caps;
      const survey = new FolderSurvey(async () => s.connection());
      await survey.permanentFlagsOf(['INBOX']).get('INBOX');
      const st = await survey.status(['INBOX']);
      assert.equal(st.get('INBOX')?.messages, 3, caps);
      assert.equal(s.opened, caps.includes('UNSELECT') ? 1 : 2, caps);
      await survey.close();
    }
  });

  it('fails every promise of a burst whose connection cannot be opened, and the caller falls back', async () => {
    const survey = new FolderSurvey(async () => {
      throw new Error('connection limit');
    });
    const ahead = survey.permanentFlagsOf(['A', 'B']);
    assert.equal(await ahead.get('A'), undefined);
    await assert.rejects(survey.status(['A']));
  });
});

describe('FolderSurvey.listing: the folder list before the control plane has logged in', () => {
  it('asks NAMESPACE and LIST together and reads them as the control plane would: names decoded, special use from the attributes', async () => {
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 NAMESPACE MULTIAPPEND';
    s.folders.set('Entwürfe', { flags: [], messages: 0 });
    s.folders.set('Archiv/2019', { flags: [], messages: 0 });
    s.attributes.set('Entwürfe', '\\HasNoChildren \\Drafts');
    const survey = new FolderSurvey(async () => s.connection());
    const l = await survey.listing().listing;
    assert.deepEqual(s.sent, ['NAMESPACE', 'LIST  *'], 'LIST "" "*" (the fake joins its string arguments unquoted)');
    assert.equal(s.maxInFlight, 2, 'one round trip for both');
    assert.equal(l?.prefix, '');
    assert.equal(l?.delimiter, '/');
    assert.equal(l?.capabilities.multiappend, true);
    assert.deepEqual(l?.folders.map((f) => [f.path, f.wire, f.specialUse]), [
      ['INBOX', 'INBOX', undefined],
      ['Entwürfe', 'Entw&APw-rfe', '\\Drafts'],
      ['Archiv/2019', 'Archiv/2019', undefined],
    ]);
    await survey.close();
  });

  it('says when it has logged in, before the answers; a connection that cannot be opened is dialled once, and both fail with why', async () => {
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 NAMESPACE';
    const { listing, loggedIn } = new FolderSurvey(async () => s.connection()).listing();
    let answered = false;
    void listing.then(() => (answered = true));
    await loggedIn;
    assert.equal(answered, false, 'logged in before the answers came');
    assert.ok(await listing);
    let dials = 0;
    const refused = new Error('login refused');
    const bad = new FolderSurvey(async () => {
      dials++;
      throw refused;
    }).listing();
    await assert.rejects(bad.loggedIn, refused);
    await assert.rejects(bad.listing, refused);
    assert.equal(dials, 1, 'one failed login, not one for each promise');
  });

  it('takes INBOX\'s first look in the same burst when asked (the run sends to INBOX), and leaves INBOX selected only for its own STATUS to undo', async () => {
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 NAMESPACE UNSELECT';
    s.folders.set('A', { flags: [], messages: 2 });
    const survey = new FolderSurvey(async () => s.connection());
    const l = await survey.listing({ inbox: () => true }).listing;
    assert.deepEqual(s.sent, ['NAMESPACE', 'LIST  *', 'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)', 'SELECT INBOX']);
    assert.equal(s.maxInFlight, 4, 'one round trip for all four');
    assert.deepEqual(l?.inbox?.status, { messages: 3, uidNext: 4, uidValidity: 7 });
    assert.deepEqual(l?.inbox?.flags, { flags: ['\\Seen'], anyKeyword: false });
    // INBOX is selected now: another folder's STATUS is asked as it is, INBOX's only after UNSELECT.
    assert.equal((await survey.status(['A'])).get('A')?.messages, 2);
    assert.ok(!s.sent.includes('UNSELECT'), s.sent.join(', '));
    assert.equal((await survey.status(['INBOX'])).get('INBOX')?.messages, 3, 'not the stale view of the selected mailbox');
    assert.equal(s.sent.at(-2), 'UNSELECT');
    // Not asked (the default, and verify): no INBOX look.
    const t = new FakeServer();
    t.caps = 'IMAP4rev1 NAMESPACE';
    assert.equal((await new FolderSurvey(async () => t.connection()).listing({ inbox: () => false }).listing)?.inbox, undefined);
    assert.deepEqual(t.sent, ['NAMESPACE', 'LIST  *']);
    // A listing that will not be read (no NAMESPACE: the control plane answers) takes no INBOX look either: prefetch
    // asks it, and would first have to leave INBOX selected.
    const u = new FakeServer();
    u.caps = 'IMAP4rev1 UNSELECT';
    assert.equal(await new FolderSurvey(async () => u.connection()).listing({ inbox: () => true }).listing, undefined);
    assert.deepEqual(u.sent, []);
    await survey.close();
  });

  it('takes a Courier-style namespace: the prefix with its delimiter, that delimiter, and only the folders below the prefix', async () => {
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 NAMESPACE';
    s.namespace = '(("INBOX" ".")) NIL (("#shared." "."))';
    s.folders.set('INBOX.Sent', { flags: [], messages: 0 });
    s.listExtra = '() "." "#shared.x"';
    const l = await new FolderSurvey(async () => s.connection()).listing().listing;
    assert.equal(l?.prefix, 'INBOX.', 'imapflow appends the delimiter to a prefix without it');
    assert.equal(l?.delimiter, '.');
    // imapflow asks LIST "INBOX." "*": INBOX itself and what lies outside the personal namespace are not in its answer.
    assert.deepEqual(l?.folders.map((f) => f.path), ['INBOX.Sent']);
  });

  it('gives nothing (the control plane answers) where its reading could differ from the control plane\'s, or the server did not answer in full', async () => {
    const cases: Array<[string, (s: FakeServer) => void]> = [
      ['no NAMESPACE capability', (s) => (s.caps = 'IMAP4rev1')],
      ['XLIST without SPECIAL-USE', (s) => (s.caps = 'IMAP4rev1 NAMESPACE XLIST')],
      ['no personal namespace', (s) => (s.namespace = 'NIL NIL NIL')],
      ['LIST refused', (s) => (s.refuse = (verb) => (verb === 'LIST' ? new ServerResponseError('LIST', 'NO', undefined, 'try later', 'later') : undefined))],
      ['NAMESPACE refused', (s) => (s.refuse = (verb) => (verb === 'NAMESPACE' ? new ServerResponseError('NAMESPACE', 'BAD', undefined, 'unknown', 'never') : undefined))],
      ['a malformed LIST line', (s) => (s.listExtra = '(\\X) "/"')],
      ['a name that is not modified UTF-7', (s) => (s.listExtra = '() "/" "Bad&AP-"')],
    ];
    for (const [what, set] of cases) {
      const s = new FakeServer();
      s.caps = 'IMAP4rev1 NAMESPACE';
      set(s);
      assert.equal(await new FolderSurvey(async () => s.connection()).listing().listing, undefined, what);
    }
    // A server listing more folders than SURVEY_MAX_LISTED is not read further (bounded memory).
    const many = new FakeServer();
    many.caps = 'IMAP4rev1 NAMESPACE';
    for (let i = 0; i < SURVEY_MAX_LISTED; i++) many.folders.set(`F${i}`, { flags: [], messages: 0 });
    assert.equal(await new FolderSurvey(async () => many.connection()).listing().listing, undefined, 'INBOX and SURVEY_MAX_LISTED folders: one too many');
    many.folders.delete('F0');
    assert.equal((await new FolderSurvey(async () => many.connection()).listing().listing)?.folders.length, SURVEY_MAX_LISTED, 'exactly the bound is read');
    const s = new FakeServer();
    s.caps = 'IMAP4rev1 NAMESPACE XLIST SPECIAL-USE';
    assert.notEqual(await new FolderSurvey(async () => s.connection()).listing().listing, undefined, 'XLIST beside SPECIAL-USE: imapflow lists with LIST');
  });
});

describe('ControlAdapter with the survey\'s listing', () => {
  const listed = (folders: string[], prefix = '', delimiter = '/'): ServerListing => ({
    prefix,
    delimiter,
    folders: folders.map((path) => ({ path, name: path.split(delimiter), delimiter, flags: [], wire: path, ...(path === 'Sent' ? { specialUse: '\\Sent' } : {}) })),
    capabilities: parseCapabilities('IMAP4rev1'),
  });

  it('answers the first folder list, the delimiter and the namespace without waiting for the control plane, then asks the control plane', async () => {
    let connected!: (p: ControlPlaneLike) => void;
    const plane = new Promise<ControlPlaneLike>((r) => (connected = r));
    const adapter = new ControlAdapter(plane, undefined, undefined, undefined, Promise.resolve(listed(['INBOX', 'Sent'], 'INBOX.', '.')));
    // The control plane never answers before these do: each would hang if it waited for it.
    assert.equal(await adapter.delimiter(), '.');
    assert.equal(await adapter.namespacePrefix(), 'INBOX.');
    assert.deepEqual((await adapter.listFolders()).map((f) => [f.path, f.specialUse]), [['INBOX', undefined], ['Sent', '\\Sent']]);
    assert.equal((await adapter.knownFolders()).has('Sent'), true);
    const log: string[] = [];
    connected({ ...fakePlane(log), listFolders: async () => (log.push('LIST'), [{ path: 'INBOX' }, { path: 'New' }]) });
    // A later listing is the server as it is then: the control plane's.
    assert.deepEqual((await adapter.listFolders()).map((f) => f.path), ['INBOX', 'New']);
    assert.deepEqual(log, ['LIST']);
    assert.equal(await adapter.delimiter(), '.', 'the namespace and delimiter stay the listing\'s');
  });

  it('connects the control plane again when its first connection failed for a reason that may pass; a refused login is the error', async () => {
    const log: string[] = [];
    const reset = Promise.reject(new ConnectError('E_CONNECT', 'connection reset', 'now'));
    reset.catch(() => undefined);
    let dials = 0;
    const adapter = new ControlAdapter(reset, async () => (dials++, fakePlane(log)));
    assert.deepEqual(await adapter.folderStatus('INBOX'), { messages: 0, uidNext: 1, uidValidity: 1 });
    assert.equal(dials, 1);
    await adapter.folderStatus('INBOX');
    assert.equal(dials, 1, 'once');
    const refused = new AuthError('login refused');
    const denied = Promise.reject(refused);
    denied.catch(() => undefined);
    const again = new ControlAdapter(denied, async () => (dials++, fakePlane(log)));
    await assert.rejects(again.folderStatus('INBOX'), refused);
    assert.equal(dials, 1, 'a refused login is not tried again');
  });

  it('does not wait for a listing the server never answers once the control plane is connected: the control plane answers', async () => {
    const log: string[] = [];
    const never = new Promise<ServerListing | undefined>(() => undefined);
    const adapter = new ControlAdapter(Promise.resolve(fakePlane(log)), undefined, undefined, undefined, never);
    assert.deepEqual((await adapter.listFolders()).map((f) => f.path), ['INBOX']);
    assert.equal(await adapter.delimiter(), '/');
    assert.deepEqual(log, ['LIST']);
  });

  it('answers INBOX\'s first look from the listing\'s burst: prefetch asks nothing more of the survey', async () => {
    const s = new FakeServer();
    const log: string[] = [];
    const withInbox: ServerListing = { ...listed(['INBOX', 'Sent']), inbox: { status: { messages: 5, uidNext: 9, uidValidity: 3 }, flags: { flags: ['\\Seen', '$Junk'], anyKeyword: true } } };
    const adapter = new ControlAdapter(Promise.resolve(fakePlane(log)), undefined, undefined, new FolderSurvey(async () => s.connection()), Promise.resolve(withInbox));
    await adapter.listFolders();
    await adapter.prefetch(['INBOX']);
    assert.deepEqual(s.sent, [], 'nothing asked again');
    assert.deepEqual(await adapter.folderStatus('INBOX'), { messages: 5, uidNext: 9, uidValidity: 3 });
    assert.deepEqual(await adapter.permanentFlags('INBOX'), { flags: ['\\Seen', '$Junk'], anyKeyword: true });
    assert.deepEqual(log, [], 'nor of the control plane');
  });

  it('asks the control plane when the survey gave nothing or failed, and reports the control plane\'s own failure where it is needed', async () => {
    const log: string[] = [];
    for (const listing of [Promise.resolve(undefined), Promise.reject(new Error('survey refused'))]) {
      const adapter = new ControlAdapter(Promise.resolve(fakePlane(log)), undefined, undefined, undefined, listing);
      assert.equal(await adapter.delimiter(), '/');
      assert.deepEqual((await adapter.listFolders()).map((f) => f.path), ['INBOX']);
    }
    const refused = new ServerResponseError('AUTHENTICATE', 'NO', 'AUTHENTICATIONFAILED', 'Authentication failed.', 'never');
    const failing = Promise.reject(refused);
    failing.catch(() => undefined);
    const adapter = new ControlAdapter(failing, undefined, undefined, undefined, Promise.resolve(listed(['INBOX'])));
    assert.equal((await adapter.listFolders()).length, 1, 'the listing still answers');
    await assert.rejects(adapter.folderStatus('INBOX'), refused);
  });
});

/** A control plane that answers everything at once and logs the calls that reach it. */
function fakePlane(log: string[]): ControlPlaneLike {
  return {
    capabilities: new Set(),
    delimiter: async () => '/',
    namespacePrefix: () => '',
    listFolders: async () => (log.push('LIST'), [{ path: 'INBOX' }]),
    ensureFolder: async (parts: string[]) => parts.join('/'),
    permanentFlags: async () => ({ flags: [], anyKeyword: false }),
    status: async () => ({ messages: 0, uidNext: 1, uidValidity: 1 }),
    storeFlags: async () => undefined,
    findByMessageId: async () => [],
    listMessages: async () => [],
    fetchBody: async () => Buffer.alloc(0),
  };
}

describe('ControlAdapter with a survey, under createTree', () => {
  function plane(folders: Set<string>, log: string[]): ControlPlaneLike {
    return {
      capabilities: new Set(),
      delimiter: async () => '/',
      namespacePrefix: () => '',
      listFolders: async () => [...folders].map((path) => ({ path })),
      ensureFolder: async (parts: string[]) => {
        const path = parts.join('/');
        log.push(`one-at-a-time CREATE ${path}`);
        if (path.includes('%')) throw new ServerResponseError('CREATE', 'NO', undefined, 'Invalid mailbox name', 'never');
        folders.add(path);
        return path;
      },
      permanentFlags: async () => {
        log.push('one-at-a-time SELECT');
        return { flags: [], anyKeyword: false };
      },
      status: async (path: string) => {
        log.push(`one-at-a-time STATUS ${path}`);
        return { messages: 0, uidNext: 1, uidValidity: 1 };
      },
      storeFlags: async () => undefined,
      findByMessageId: async () => [],
      listMessages: async () => [],
      fetchBody: async () => Buffer.alloc(0),
    };
  }

  it('creates a nested tree in one burst (parents once, first), repairs a refused name one at a time, and answers STATUS and flags from the bursts', async () => {
    const s = new FakeServer();
    s.folders.set('Archive', { flags: [], messages: 4 });
    s.refuse = (verb, name) => (verb === 'CREATE' && name.includes('%') ? new ServerResponseError('CREATE', 'NO', undefined, 'Invalid mailbox name', 'never') : undefined);
    const log: string[] = [];
    const adapter = new ControlAdapter(plane(new Set(['INBOX', 'Archive']), log), undefined, undefined, new FolderSurvey(async () => s.connection()));
    const runs = new FolderRuns(adapter, undefined, false);
    const sf = { delimiter: '/', specialUse: new Map<string, string>(), namespacePrefix: '' };
    const source = [['Archive', '2019', 'Q1'], ['Archive', '2019', 'Q2'], ['Archive'], ['a%b'], ['INBOX']];
    const targets: TreeTarget[] = source.map((parts) => ({ source: parts.join('/'), mapped: { ...mapFolder(parts, sf), subscribe: true } }));
    const created: string[] = [];
    const repairs: string[] = [];
    await createTree(targets, {
      control: adapter, runs, renames: new FolderRenames('/'), delimiter: '/', namespacePrefix: '',
      onCreated: (p) => created.push(p),
      onRepair: (r) => repairs.push(r),
    });
    const creates = s.sent.filter((c) => c.startsWith('CREATE'));
    assert.deepEqual(creates, ['CREATE "a%b"', 'CREATE Archive/2019', 'CREATE Archive/2019/Q1', 'CREATE Archive/2019/Q2']);
    assert.deepEqual(created.sort(), ['Archive/2019/Q1', 'Archive/2019/Q2', 'a_b']);
    assert.deepEqual(log, ['one-at-a-time CREATE a%b', 'one-at-a-time CREATE a_b'], 'only the refused name went the careful way');
    assert.equal(repairs.length, 1);

    await adapter.prefetch(['Archive', 'Archive/2019/Q1', 'Archive/2019/Q2']);
    assert.deepEqual(await adapter.folderStatus('Archive'), { messages: 4, uidNext: 5, uidValidity: 7 });
    assert.deepEqual(await adapter.permanentFlags('Archive/2019/Q1'), { flags: ['\\Seen'], anyKeyword: true });
    // Each look taken ahead answers once: the next one asks again.
    await adapter.folderStatus('Archive');
    assert.deepEqual(log.slice(2), ['one-at-a-time STATUS Archive']);
    // A checkpoint asks the server now, in one burst, never from what was taken ahead.
    s.folders.get('Archive')!.messages = 9;
    const now = await adapter.currentStatuses(['Archive', 'Archive/2019/Q1']);
    assert.equal(now.get('Archive')?.messages, 9);
    await adapter.close();
  });

  it('dials the survey again for a coming checkpoint of more than 3 folders while the pool is still open, unless the pool is so large that the connections could pass the per-user limit', async () => {
    const s = new FakeServer();
    const adapter = new ControlAdapter(plane(new Set(['INBOX']), []), undefined, undefined, new FolderSurvey(async () => s.connection()));
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
    adapter.expectStatuses(3, 2);
    await settle();
    assert.equal(s.opened, 0, 'three folders go one at a time on the control connection: nothing to dial');
    adapter.expectStatuses(50, 8);
    await settle();
    assert.equal(s.opened, 0, 'a pool of 8 (the bound), the control connection, the survey and a reader: past the 10 the bounds leave room for');
    adapter.expectStatuses(50, 2);
    await settle();
    assert.equal(s.opened, 1);
    adapter.expectStatuses(50, 2);
    await settle();
    assert.equal(s.opened, 1, 'dialled once');
    await adapter.close();
  });

  it('leaves everything to the one-at-a-time path when the survey cannot connect', async () => {
    const log: string[] = [];
    const adapter = new ControlAdapter(plane(new Set(['INBOX']), log), undefined, undefined, new FolderSurvey(async () => {
      throw new Error('connection limit');
    }));
    const out = await adapter.ensureFolders([{ path: 'A/B', subscribe: true }, { path: 'INBOX', subscribe: true }]);
    assert.deepEqual([...out], [['INBOX', 'exists']]);
    await adapter.prefetch(['INBOX']);
    await adapter.folderStatus('INBOX');
    assert.deepEqual(log, ['one-at-a-time STATUS INBOX']);
  });
});
