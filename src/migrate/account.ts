import { isIP } from 'node:net';

// The canonical account (issue 11): what keys the resume journal, so that the same mailbox reached with another
// spelling finds the same journal. Two runs against `localhost` and `127.0.0.1`, or with `--user BENCH` and
// `--user bench`, are the same account; a re-run must not send every message again because of a spelling.
//
// - Server: the resolved address and the port, not the host name as typed. The address list is sorted and IPv4 is
//   preferred, so `localhost` ([127.0.0.1, ::1]) and `127.0.0.1` agree whatever order the resolver returns.
// - User: folded to lower case. Dovecot (Debian's auth_username_format = %Lu), Cyrus (username_tolower: 1 by
//   default), Courier, Gmail and Microsoft 365 treat user names case-insensitively.
// - Not the greeting or the IMAP ID: Exchange's greeting carries a per-backend token, so keying on it would split one
//   account into many journals.
// Why a wrong merge cannot lose mail: the journal is an accelerator, never the authority. A folder's confirmations
// are used only while its STATUS (UIDVALIDITY, UIDNEXT, MESSAGES) still equals the checkpoint the journal took at
// the end of the last run (folder-check.ts); another server or another user's folder never does, and is reconciled.

export interface AccountTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

export type Resolver = (host: string) => Promise<string[]>;

// node:dns/promises is loaded on the first name to resolve (an IP address never is): ~2 ms CPU of start-up that an
// import to 127.0.0.1 or any address does not need (docs/measurements.md "Start-up").
const systemResolver: Resolver = async (host) => {
  const { lookup } = await import('node:dns/promises');
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
};

/** `imap://<user>@<address>:<port>` — the journal's account string. */
export async function canonicalAccount(t: AccountTarget, resolve: Resolver = systemResolver): Promise<string> {
  const address = await canonicalAddress(t.host, resolve);
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return `imap://${encodeURIComponent(t.user.toLowerCase())}@${host}:${t.port}`;
}

/**
 * `<address>:<port>` — one key per server however its name is spelled (`localhost`, `127.0.0.1`, `MAIL.example.org.`),
 * for what must be counted per server: a fleet's connection budget (a server caps connections per address, not per
 * spelling). Bounded: a resolver that does not answer within `deadlineMs` leaves the lower-cased name as the key.
 */
export async function canonicalServer(host: string, port: number, resolve: Resolver = systemResolver, deadlineMs = 5000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((r) => {
    timer = setTimeout(() => r(host.replace(/^\[(.*)\]$/, '$1').toLowerCase().replace(/\.$/, '')), deadlineMs);
  });
  try {
    const address = await Promise.race([canonicalAddress(host, resolve), late]);
    return `${isIP(address) === 6 ? `[${address}]` : address}:${port}`;
  } finally {
    clearTimeout(timer);
  }
}

async function canonicalAddress(host: string, resolve: Resolver): Promise<string> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return normalizeIp(bare);
  let addresses: string[];
  try {
    addresses = (await resolve(bare)).map(normalizeIp);
  } catch {
    // Not resolvable now (the connection will fail and say why): the lower-cased name is the best key there is.
    return bare.toLowerCase().replace(/\.$/, '');
  }
  const v4 = addresses.filter((a) => isIP(a) === 4).sort();
  const v6 = addresses.filter((a) => isIP(a) === 6).sort();
  return v4[0] ?? v6[0] ?? bare.toLowerCase();
}

/** One spelling per address: IPv6 lower-cased and compressed, IPv4-mapped IPv6 as IPv4. */
function normalizeIp(a: string): string {
  if (isIP(a) !== 6) return a;
  const url = new URL(`http://[${a}]/`);
  const h = url.hostname.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return mapped[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return h;
}
