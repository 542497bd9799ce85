import type { ListResponse } from 'imapflow';
import { MailmigrateError, ServerResponseError } from '../core/errors.js';
import type { ControlSession } from './control-session.js';
import { type FolderInfo, folderInfo } from './folder-info.js';

/** Minimal view of imapflow's internal exec(): needed only for CREATE ... (USE (...)), which it has no API for. */
interface ExecCapable {
  exec(
    command: string,
    attributes: unknown[],
  ): Promise<{ response?: { attributes?: unknown[] }; next: () => void }>;
}

/**
 * The server's folders as the control plane knows them: LIST (with the RFC 6154 special-use attributes the server
 * reported), the hierarchy delimiter and personal namespace (RFC 2342), and CREATE / DELETE, which keep the known
 * list up to date so a folder tree is created with one LIST, not one per folder.
 */
export class FolderCatalog {
  #folders: Map<string, FolderInfo> | undefined;

  constructor(private readonly session: ControlSession) {}

  async listFolders(): Promise<FolderInfo[]> {
    const list = await this.session.run('LIST', () => this.session.client.list({ listOnly: true }));
    const folders = list.map((entry: ListResponse): FolderInfo => {
      const info = folderInfo(entry.path, entry.delimiter || '', [...entry.flags], entry.pathAsListed);
      if (!info.specialUse && entry.specialUse && entry.specialUseSource === 'extension') info.specialUse = entry.specialUse;
      return info;
    });
    this.#folders = new Map(folders.map((f) => [folderKey(f.path), f]));
    return folders;
  }

  async delimiter(): Promise<string> {
    const ns = this.session.client.namespace;
    if (ns && typeof ns.delimiter === 'string' && ns.delimiter) return ns.delimiter;
    const folders = this.#folders ? [...this.#folders.values()] : await this.listFolders();
    return folders.find((f) => f.delimiter)?.delimiter ?? '/';
  }

  /** The personal namespace prefix (RFC 2342), e.g. "INBOX." on Courier-style servers, "" on Dovecot's default. */
  namespacePrefix(): string {
    return this.session.client.namespace?.prefix ?? '';
  }

  /**
   * Creates `parts` (Unicode names below the personal namespace) and any missing parents; returns the server path.
   * Already existing is fine. A part containing the delimiter is refused: it would silently create a deeper tree.
   * `subscribe` (default true): subscribe what is created; false where the source's subscription list leaves it out.
   */
  async ensureFolder(parts: string[], specialUse?: string, subscribe = true): Promise<string> {
    if (parts.length === 0 || (parts.length === 1 && parts[0]!.toUpperCase() === 'INBOX')) return 'INBOX';
    const delimiter = await this.delimiter();
    for (const part of parts) {
      if (part === '' || part.includes(delimiter)) {
        throw new MailmigrateError(
          'E_FOLDER_NAME',
          `folder name part ${JSON.stringify(part)} is empty or contains the server's delimiter ${JSON.stringify(delimiter)}`,
          'never',
        );
      }
    }
    if (!this.#folders) await this.listFolders();
    // INBOX may be the namespace prefix itself ("INBOX."), and then folders live below it already.
    const prefix = this.namespacePrefix();
    const base = prefix && parts[0]!.toUpperCase() + delimiter === prefix.toUpperCase() ? '' : prefix;
    let path = '';
    for (let i = 0; i < parts.length; i++) {
      path = i === 0 ? base + parts[0]! : path + delimiter + parts[i]!;
      const known = this.#folders!.get(folderKey(path));
      // \NonExistent / \Noselect parents exist only as names in the tree; CREATE makes them real mailboxes.
      if (known && !hasAttr(known, '\\NonExistent') && !hasAttr(known, '\\Noselect')) continue;
      const isLeaf = i === parts.length - 1;
      await this.#create(path, isLeaf ? specialUse : undefined, subscribe);
      this.#folders!.set(folderKey(path), {
        path,
        name: path.split(delimiter),
        delimiter,
        flags: [],
        wire: this.session.encode(path),
        ...(isLeaf && specialUse && this.session.capabilities.has('CREATE-SPECIAL-USE') ? { specialUse } : {}),
      });
    }
    return path;
  }

  async deleteFolder(path: string): Promise<void> {
    await this.session.run(`DELETE ${path}`, () => this.session.client.mailboxDelete(path));
    this.#folders?.delete(folderKey(path));
  }

  async #create(path: string, specialUse: string | undefined, subscribe: boolean): Promise<void> {
    await this.#createOnly(path, specialUse);
    // imapflow's mailboxCreate() subscribes what it creates; a folder the source's subscription list leaves out is
    // unsubscribed again so it shows as it did in the old client.
    if (!subscribe) {
      await this.session.client.mailboxUnsubscribe(path).catch(() => undefined);
      return;
    }
    // A created folder is subscribed, as mbsync and imapsync do: many clients (and webmails) show only subscribed
    // folders, so an unsubscribed import looks like lost mail. Best effort: a server refusing SUBSCRIBE (RFC 3501
    // §6.3.6) has still created the folder.
    await this.session.client.mailboxSubscribe(path).catch(() => undefined);
  }

  async #createOnly(path: string, specialUse: string | undefined): Promise<void> {
    const client = this.session.client;
    if (specialUse && this.session.capabilities.has('CREATE-SPECIAL-USE')) {
      // RFC 6154 §3: CREATE name (USE (\Sent)). imapflow's mailboxCreate() has no USE parameter.
      await this.session.run(`CREATE ${path} (USE (${specialUse}))`, async () => {
        const exec = (client as unknown as ExecCapable).exec.bind(client);
        try {
          const res = await exec('CREATE', [
            { type: 'ATOM', value: this.session.encode(path) },
            [{ type: 'ATOM', value: 'USE' }, [{ type: 'ATOM', value: specialUse }]],
          ]);
          res.next();
        } catch (err) {
          if ((err as { serverResponseCode?: string }).serverResponseCode?.toUpperCase() === 'ALREADYEXISTS') return;
          throw err;
        }
      });
      return;
    }
    try {
      await this.session.run(`CREATE ${path}`, () => client.mailboxCreate(path));
    } catch (err) {
      // Servers without RFC 5530 ALREADYEXISTS answer a plain NO: it is fine if the folder is there now. Anything
      // else (no answer within the deadline, the connection lost) is the error to report, not a reason to LIST.
      if (!(err instanceof ServerResponseError)) throw err;
      const again = await this.listFolders();
      if (again.some((f) => folderKey(f.path) === folderKey(path) && !hasAttr(f, '\\NonExistent'))) return;
      throw err;
    }
  }
}

/** INBOX is case-insensitive (RFC 3501 §5.1), every other name is case-sensitive. */
export function folderKey(path: string): string {
  return /^inbox$/i.test(path) ? 'INBOX' : path;
}

function hasAttr(f: FolderInfo, attr: string): boolean {
  return f.flags.some((x) => x.toLowerCase() === attr.toLowerCase());
}
