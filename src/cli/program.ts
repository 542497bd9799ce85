import { Command, CommanderError } from 'commander';
import { isMailmigrateError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { EXIT_CANNOT_RUN } from './exit-code.js';

// The only layer that touches argv, stdout, process.exit and commander (design.md). Each command lives in
// src/cli/commands/<name>.ts and exports register<Name>(program); this file only wires them.
//
// Start-up (issue 14, docs/measurements.md "Start-up"): a command's module is loaded only when that command runs.
// Loading every command to build the program made each `mailmigrate import` — and each account's child process in
// a batch — load the embedded server, the benchmarks, doctor and the fleet code before its first byte on the wire.
// Help, `help <command>` and an unknown command still load them all, so the listing and the suggestions are whole.

type Register = (program: Command) => unknown;

const COMMANDS: Readonly<Record<string, () => Promise<Register[]>>> = {
  // `bench connections|storm|churn` are subcommands of `bench`, registered by bench-scale.ts.
  bench: async () => [(await import('./commands/bench.js')).registerBench, (await import('./commands/bench-scale.js')).registerBenchScale],
  serve: async () => [(await import('./commands/serve.js')).registerServe],
  import: async () => [(await import('./commands/import.js')).registerImport],
  verify: async () => [(await import('./commands/verify.js')).registerVerify],
  doctor: async () => [(await import('./commands/doctor.js')).registerDoctor],
  // `batch` takes its per-account columns from the registered `import` command's options.
  batch: async () => [(await import('./commands/import.js')).registerImport, (await import('./commands/batch.js')).registerBatch],
  worker: async () => [(await import('./commands/worker.js')).registerWorker],
};

/** The program with the commands `argv` needs: only its command when it names one, else (help, unknown) all. */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('mailmigrate')
    .description('Bulk-import local mail (Maildir, Maildir++, mbox, .eml trees) into any IMAP server, fast and measured')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // Program options (only --version/--help) before the command name; bench-scale.ts explains why `bench` needs
    // it. Set here so that parsing is the same whichever commands are loaded.
    .enablePositionalOptions();
  const name = argv?.[2];
  const own = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  const loaders = own ? [own] : Object.values(COMMANDS);
  const seen = new Set<Register>();
  for (const load of loaders) {
    for (const register of await load()) {
      if (seen.has(register)) continue;
      seen.add(register);
      register(program);
    }
  }
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : EXIT_CANNOT_RUN;
    }
    // Error messages name source files and quote server texts: print them with control characters escaped.
    process.stderr.write(`mailmigrate: ${isMailmigrateError(err) ? `${printable(err.message)} (${err.code})` : printable(String((err as Error)?.stack ?? err), { keepNewlines: true })}\n`);
    return EXIT_CANNOT_RUN;
  }
}
