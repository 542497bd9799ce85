// The names people, clients and providers give the RFC 6154 special-use folders, in one place. mapFolder
// (folder-map.ts) uses them to file a source folder into the server's own \Sent, \Drafts, ... folder (whatever its
// name there) or, when the server has none, to create the folder with that use.
//
// Where the names come from (collected by hand, not copied from a table):
//  - mutt: `$record` (commonly set to "=sent-mail", Debian's and many distributions' example muttrc) and
//    `$postponed` (default "~/postponed"), mutt manual §"Configuration variables"; Pine/Alpine: `default-fcc`
//    "sent-mail" and `postponed-folder` "postponed-msgs" (Alpine's pine.conf defaults).
//  - Thunderbird: local folders are stored under their English names (Sent, Drafts, Trash, Junk, Archives,
//    Templates) whatever the UI language; Apple Mail: "Sent Messages", "Deleted Messages", "Junk".
//  - Outlook and Exchange/Microsoft 365: the default folder names a mailbox gets in its display language (what
//    `Set-MailboxRegionalConfiguration -LocalizeDefaultFolderName` writes), e.g. "Sent Items", "Gesendete
//    Elemente", "Posta inviata", "Verzonden items", "Itens Enviados", "Elementy wysłane", "Отправленные",
//    "送信済みアイテム"; older Outlook versions said "Gesendete Objekte".
//  - Webmail providers' IMAP names: Gmail ("Sent Mail", "送信済みメール"), Yahoo ("Bulk Mail"), Yandex and Mail.ru
//    ("Отправленные", "Черновики", "Спам"), Polish portals ("Wysłane", "Kosz"), Brazilian ones ("Enviadas",
//    "Lixeira").
// A name missing here is not lost: the folder is imported under its own name, as any other folder.
//
// Matching is on the folder's name alone, after Unicode NFC, case folding and collapsing white space, so "SENT
// ITEMS" and "Sent  items" match; a decorated name ("Sent to clients") does not. A few names appear without their
// accents too ("envoyes", "entwurfe"): tools that cannot write them on disk drop them.

/** RFC 6154 §2 mailbox attributes mailmigrate files mail into. */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive';

const NAMES: Record<SpecialUse, readonly string[]> = {
  '\\Sent': [
    // English, mutt/Pine, Apple, Gmail
    'sent', 'sent items', 'sent messages', 'sent mail', 'sent-mail', 'sent_mail',
    // German, French, Spanish, Italian, Dutch, Portuguese
    'gesendet', 'gesendete objekte', 'gesendete elemente', 'envoyés', 'envoyes', 'éléments envoyés', 'messages envoyés',
    'enviados', 'elementos enviados', 'posta inviata', 'inviati', 'elementi inviati', 'verzonden', 'verzonden items',
    'itens enviados', 'enviadas', 'mensagens enviadas',
    // Polish, Russian, Swedish, Danish/Norwegian, Czech, Japanese, Chinese
    'wysłane', 'elementy wysłane', 'отправленные', 'skickat', 'skickade objekt', 'sendt', 'sendte elementer',
    'odeslaná pošta', '送信済みメール', '送信済みアイテム', '送信済み', '已发送', '已发送邮件', '寄件備份',
  ],
  '\\Drafts': [
    'draft', 'drafts', 'postponed', 'postponed-msgs',
    'entwürfe', 'entwurfe', 'brouillons', 'borradores', 'bozze', 'concepten', 'rascunhos',
    'wersje robocze', 'kopie robocze', 'черновики', 'utkast', 'kladder', 'koncepty', '下書き', '草稿', '草稿箱',
  ],
  '\\Trash': [
    'trash', 'deleted', 'deleted items', 'deleted messages', 'bin',
    'papierkorb', 'gelöschte objekte', 'gelöschte elemente', 'corbeille', 'éléments supprimés', 'papelera',
    'elementos eliminados', 'cestino', 'posta eliminata', 'prullenbak', 'verwijderde items', 'lixeira', 'lixo',
    'itens excluídos', 'itens eliminados',
    'kosz', 'elementy usunięte', 'корзина', 'удаленные', 'удалённые', 'papperskorgen', 'borttagna objekt',
    'slettet', 'slettede elementer', 'koš', 'ごみ箱', '削除済みアイテム', '已删除', '已删除邮件', '垃圾箱',
  ],
  '\\Junk': [
    'junk', 'junk e-mail', 'junk email', 'junk mail', 'spam', 'bulk mail',
    'unerwünscht', 'unerwunscht', 'junk-e-mail', 'courrier indésirable', 'pourriel', 'correo no deseado', 'posta indesiderata',
    'ongewenste e-mail', 'lixo eletrônico', 'lixo electrónico', 'correio eletrónico de lixo',
    'wiadomości-śmieci', 'спам', 'нежелательная почта', 'skräppost', 'uønsket e-post', 'nevyžádaná pošta',
    '迷惑メール', '垃圾邮件',
  ],
  '\\Archive': ['archive', 'archives', 'archiv', 'archivio', 'archivo', 'archief', 'arquivo', 'archiwum', 'архив', 'arkiv', 'アーカイブ', '归档', '存档'],
};

/** The comparable form of a name: NFC, lower case, inner white space collapsed, ends trimmed. */
export function specialNameKey(name: string): string {
  return name.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
}

const BY_NAME: ReadonlyMap<string, SpecialUse> = (() => {
  const m = new Map<string, SpecialUse>();
  for (const [use, names] of Object.entries(NAMES) as Array<[SpecialUse, readonly string[]]>) {
    for (const n of names) {
      const k = specialNameKey(n);
      // One name, one use: a name listed twice would make the mapping depend on the order of this table.
      if (m.has(k) && m.get(k) !== use) throw new Error(`special folder name "${n}" listed for ${m.get(k)} and ${use}`);
      m.set(k, use);
    }
  }
  return m;
})();

/** The special use a folder name stands for, or undefined. */
export function specialUseOfName(name: string): SpecialUse | undefined {
  return BY_NAME.get(specialNameKey(name));
}

/** Every listed name with its use (for tests and documentation). */
export function specialFolderNames(): ReadonlyMap<string, SpecialUse> {
  return BY_NAME;
}
