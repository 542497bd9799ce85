// Maildir++ backend for the embedded server: INBOX is the root, other mailboxes are `.Name` folders with '.' for
// the hierarchy (Courier/Dovecot Maildir++ layout), so the result can be read by other tools and by our own
// Maildir source. UIDs persist in a small per-folder list so a restarted server keeps UIDVALIDITY and UIDs
// (RFC 3501 §2.3.1.1), like Dovecot's dovecot-uidlist. Synchronous fs on purpose; see store.ts.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DELIMITER, MemoryStore, StoreError, type Mailbox, type StoredMessage } from './store.js';

const UIDLIST = 'mailmigrate-uidlist';
// Maildir info flags (cr.yp.to/proto/maildir.html), in the ASCII order the spec requires.
const INFO: Array<[string, string]> = [['D', '\\Draft'], ['F', '\\Flagged'], ['R', '\\Answered'], ['S', '\\Seen'], ['T', '\\Deleted']];

interface FileMessage extends StoredMessage {
  file: string;
  readonly base: string;
}

let counter = 0;

export class MaildirStore extends MemoryStore {
  override readonly kind = 'maildir' as const;
  private loading = true;

  constructor(readonly root: string) {
    super(false);
    mkdirSync(root, { recursive: true });
    this.loadFolder('INBOX', root);
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name.startsWith('.') && entry.name !== '.' && entry.name !== '..') {
        this.loadFolder(entry.name.slice(1).split('.').join(DELIMITER), join(root, entry.name));
      }
    }
    this.loading = false;
  }

  private dirOf(name: string): string {
    if (name === 'INBOX') return this.root;
    if (name.includes('.')) throw new StoreError('CANNOT', "Mailbox names may not contain '.' in a Maildir++ store");
    return join(this.root, `.${name.split(DELIMITER).join('.')}`);
  }

  override create(name: string, specialUse?: string): Mailbox {
    this.dirOf(name); // validates before any parent is created
    return super.create(name, specialUse);
  }

  private loadFolder(name: string, dir: string): void {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    const known = new Map<string, number>();
    let uidValidity: number | undefined;
    let uidNext = 1;
    let specialUse: string | undefined;
    const listPath = join(dir, UIDLIST);
    if (existsSync(listPath)) {
      const lines = readFileSync(listPath, 'utf8').split('\n');
      const head = lines[0]?.split(' ') ?? [];
      uidValidity = Number(head[1]) || undefined;
      uidNext = Number(head[2]) || 1;
      specialUse = head[3] && head[3] !== '-' ? head[3] : undefined;
      for (const line of lines.slice(1)) {
        const sp = line.indexOf(' ');
        if (sp <= 0) continue; // a torn last line from a crash is skipped
        const uid = Number(line.slice(0, sp));
        if (!Number.isInteger(uid) || uid <= 0) continue;
        known.set(line.slice(sp + 1), uid);
        if (uid >= uidNext) uidNext = uid + 1;
      }
    }
    const box = this.addBox(name, specialUse, uidValidity, uidNext);
    const msgs: FileMessage[] = [];
    for (const sub of ['cur', 'new']) {
      for (const f of readdirSync(join(dir, sub))) {
        if (f.startsWith('.')) continue;
        const colon = f.indexOf(':2,');
        const base = colon >= 0 ? f.slice(0, colon) : f;
        const info = colon >= 0 ? f.slice(colon + 3) : '';
        let uid = known.get(base);
        if (uid === undefined) uid = box.uidNext++;
        const file = join(dir, sub, f);
        const st = statSync(file);
        const flags = new Set(INFO.filter(([c]) => info.includes(c)).map(([, fl]) => fl));
        msgs.push({ uid, flags, internalDate: st.mtime, size: st.size, file, base });
      }
    }
    msgs.sort((a, b) => a.uid - b.uid);
    box.messages = msgs;
    this.writeList(box, dir, msgs);
  }

  private writeList(box: Mailbox, dir: string, msgs: FileMessage[]): void {
    const lines = [`1 ${box.uidValidity} ${box.uidNext} ${box.specialUse ?? '-'}`, ...msgs.map((m) => `${m.uid} ${m.base}`)];
    writeFileSync(join(dir, UIDLIST), lines.join('\n') + '\n');
  }

  protected override afterCreate(box: Mailbox): void {
    if (this.loading) return;
    const dir = this.dirOf(box.name);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    if (box.name !== 'INBOX') writeFileSync(join(dir, 'maildirfolder'), '');
    this.writeList(box, dir, []);
  }

  protected override removeBox(box: Mailbox): void {
    rmSync(this.dirOf(box.name), { recursive: true, force: true });
  }

  protected override removeMessages(_box: Mailbox, msgs: StoredMessage[]): void {
    for (const m of msgs) rmSync((m as FileMessage).file, { force: true });
  }

  override setFlags(box: Mailbox, msg: StoredMessage, flags: Set<string>): void {
    const m = msg as FileMessage;
    const file = join(this.dirOf(box.name), 'cur', `${m.base}:2,${infoOf(flags)}`);
    if (file !== m.file) {
      renameSync(m.file, file);
      m.file = file;
    }
    super.setFlags(box, msg, flags);
  }

  override body(_box: Mailbox, msg: StoredMessage): Buffer {
    return readFileSync((msg as FileMessage).file);
  }

  // tmp → cur for every message, or none: on failure the files already written are removed (MULTIAPPEND atomicity).
  protected override persist(box: Mailbox, msgs: Array<StoredMessage & { data: Buffer }>): StoredMessage[] {
    const dir = this.dirOf(box.name);
    const done: FileMessage[] = [];
    const tmps: string[] = [];
    try {
      for (const m of msgs) {
        const now = Date.now();
        const base = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++counter}.${hostname().replace(/[/:]/g, '_')},S=${m.size}`;
        const tmp = join(dir, 'tmp', base);
        writeFileSync(tmp, m.data);
        tmps.push(tmp);
        utimesSync(tmp, m.internalDate, m.internalDate);
        done.push({ uid: m.uid, flags: m.flags, internalDate: m.internalDate, size: m.size, file: join(dir, 'cur', `${base}:2,${infoOf(m.flags)}`), base });
      }
      done.forEach((d, i) => renameSync(tmps[i]!, d.file));
    } catch (err) {
      for (const t of tmps) rmSync(t, { force: true });
      for (const d of done) rmSync(d.file, { force: true });
      throw new StoreError('SERVERBUG', `Maildir write failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    appendFileSync(join(dir, UIDLIST), done.map((d) => `${d.uid} ${d.base}\n`).join(''));
    return done;
  }
}

function infoOf(flags: ReadonlySet<string>): string {
  return INFO.filter(([, f]) => flags.has(f)).map(([c]) => c).join('');
}
