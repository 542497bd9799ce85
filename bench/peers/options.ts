// The command line of `npm run bench:peers` (see bench/peers.ts for what each option means).
import { parseArgs } from 'node:util';
import { type MailmigrateSettings } from './clients.js';

export const PEERS_USAGE = `usage: node dist/bench/peers.js [--server dovecot|cyrus|courier] [--messages 5000] [--seed 1] [--corpus DIR]
         [--repeats 3] [--clients a,b,…] [--servers stock,noquickack] [--fsync never|optimized]
         [--best C,D,B] [--no-sweep] [--no-probe] [--pin] [--rtt MS] [--compare DIR] [--out FILE] [--tmp DIR]
         [--folders N]
(npm run bench:peers -- …; what each option means: bench/peers.ts)`;

/** The command line, or a one-line error naming what is wrong with it (an unknown option, a missing value). */
export function parsePeersCommandLine(args: string[] = process.argv.slice(2)): { help: true } | { help: false; values: PeersArgs } | { error: string } {
  if (args.includes('--help') || args.includes('-h')) return { help: true };
  try {
    return { help: false, values: parsePeersArgs(args) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The options exactly as given (strings, as parseArgs returns them); run-plan.ts checks and derives from them. */
export function parsePeersArgs(args: string[] = process.argv.slice(2)) {
  return parseArgs({
    args,
    options: {
      messages: { type: 'string', default: '5000' },
      seed: { type: 'string', default: '1' },
      corpus: { type: 'string' },
      repeats: { type: 'string', default: '3' },
      clients: { type: 'string' },
      server: { type: 'string', default: 'dovecot' },
      servers: { type: 'string', default: 'stock,noquickack' },
      rtt: { type: 'string' },
      pin: { type: 'boolean', default: false },
      compare: { type: 'string' },
      fsync: { type: 'string', default: 'never' },
      best: { type: 'string' },
      'no-sweep': { type: 'boolean', default: false },
      'no-probe': { type: 'boolean', default: false },
      out: { type: 'string' },
      tmp: { type: 'string' },
      folders: { type: 'string', default: '1' },
    },
  }).values;
}

export type PeersArgs = ReturnType<typeof parsePeersArgs>;

export function parseBest(text: string): MailmigrateSettings {
  const [c, d, b] = text.split(',').map(Number);
  if (![c, d, b].every((x) => Number.isInteger(x) && x! > 0)) throw new Error(`--best wants C,D,B (connections, pipeline depth, batch), got "${text}"`);
  return { connections: c!, pipeline: d!, batch: b! };
}
