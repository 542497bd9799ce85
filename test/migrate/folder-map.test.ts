import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectSpecialUse, mapFolder, type ServerFolders } from '../../src/migrate/folder-map.js';
import { specialFolderNames, specialUseOfName } from '../../src/migrate/special-folder-names.js';

const bare: ServerFolders = { delimiter: '/', specialUse: new Map() };
/** A server whose special folders have other names than the source's (Exchange-style, or localized). */
const renamed: ServerFolders = {
  delimiter: '/',
  specialUse: new Map([
    ['\\Sent', 'Sent Items'],
    ['\\Drafts', 'Brouillons'],
    ['\\Archive', 'Archief'],
    ['\\Trash', 'Deleted Items'],
    ['\\Junk', 'Junk E-mail'],
  ]),
};
const courier: ServerFolders = { delimiter: '.', specialUse: new Map([['\\Sent', 'INBOX.Sent'], ['\\Archive', 'INBOX.Archive']]), namespacePrefix: 'INBOX.' };

test("mutt's sent-mail and postponed (and Pine's postponed-msgs) are the Sent and Drafts folders", () => {
  assert.equal(detectSpecialUse(['sent-mail']), '\\Sent');
  assert.equal(detectSpecialUse(['postponed']), '\\Drafts');
  assert.equal(detectSpecialUse(['postponed-msgs']), '\\Drafts');
  assert.equal(mapFolder(['sent-mail'], renamed).path, 'Sent Items');
  assert.equal(mapFolder(['postponed'], renamed).path, 'Brouillons');
  // Without such a folder on the server, the source's name is kept and the folder is created with its use.
  assert.deepEqual(mapFolder(['sent-mail'], bare), { path: 'sent-mail', specialUse: '\\Sent', repairs: [] });
});

test('localized names from Outlook, webmails and mail clients are recognised, in any case and spacing', () => {
  const cases: Array<[string, string]> = [
    ['Posta inviata', '\\Sent'], // Italian Outlook
    ['Verzonden items', '\\Sent'], // Dutch Outlook
    ['Itens enviados', '\\Sent'], // Portuguese Outlook
    ['Wysłane', '\\Sent'], // Polish webmails
    ['Отправленные', '\\Sent'], // Russian
    ['送信済みメール', '\\Sent'], // Japanese Gmail
    ['送信済みアイテム', '\\Sent'], // Japanese Outlook
    ['GESENDETE  OBJEKTE', '\\Sent'],
    ['Bozze', '\\Drafts'],
    ['Черновики', '\\Drafts'],
    ['Verwijderde items', '\\Trash'],
    ['Lixeira', '\\Trash'],
    ['Posta indesiderata', '\\Junk'],
    ['Wiadomości-śmieci', '\\Junk'],
    ['迷惑メール', '\\Junk'],
    ['Archiwum', '\\Archive'],
    ['Архив', '\\Archive'],
  ];
  for (const [name, use] of cases) assert.equal(specialUseOfName(name), use, name);
  // Decomposed Unicode (as macOS file systems write names) is the same name.
  assert.equal(specialUseOfName('Wysłane'.normalize('NFD')), '\\Sent');
  for (const name of ['Sent to clients', 'Work', 'Archive 2019', 'Inbox', 'Kosze']) assert.equal(specialUseOfName(name), undefined, name);
  assert.ok(specialFolderNames().size > 100, 'the table is loaded (and no name is listed for two uses, or loading throws)');
});

test('a folder below a special folder moves with it, under the server name of that folder', () => {
  assert.equal(mapFolder(['Archives', '2019'], renamed).path, 'Archief/2019');
  assert.equal(mapFolder(['Archives', '2019', 'Q1'], renamed).path, 'Archief/2019/Q1');
  assert.equal(mapFolder(['Sent', '2019'], renamed).path, 'Sent Items/2019');
  assert.equal(mapFolder(['sent-mail', 'old'], renamed).specialUse, undefined, 'only the special folder itself has the use');
  // Under a namespace prefix with '.' as delimiter (Courier, Cyrus): the server's path already carries the prefix.
  assert.equal(mapFolder(['Archives', '2019'], courier).path, 'INBOX.Archive.2019');
  assert.equal(mapFolder(['Sent'], courier).path, 'INBOX.Sent');
  // A subfolder name holding the delimiter is still repaired below the special folder.
  const m = mapFolder(['Archive', 'a.b'], courier);
  assert.equal(m.path, 'INBOX.Archive.a_b');
  assert.match(m.repairs.join(), /hierarchy delimiter "\." replaced by "_"/);
});

test('without the special folder on the server, the tree keeps its names and only the top gets the use', () => {
  assert.deepEqual(mapFolder(['Archives', '2019'], bare), { path: 'Archives/2019', specialUse: undefined, repairs: [] });
  assert.deepEqual(mapFolder(['Archives'], bare), { path: 'Archives', specialUse: '\\Archive', repairs: [] });
});

test('a special name below another folder, under --folder, or chosen by --map stays where the admin put it', () => {
  assert.equal(mapFolder(['Work', 'Sent'], renamed).path, 'Work/Sent');
  assert.equal(mapFolder(['Sent'], renamed, ['Imported']).path, 'Imported/Sent');
  assert.equal(mapFolder(['Sent', '2019'], renamed, ['Imported']).path, 'Imported/Sent/2019');
  assert.deepEqual(mapFolder(['Sent', '2019'], renamed, [], true), { path: 'Sent/2019', specialUse: undefined, repairs: [] });
});
