import { Command, CommanderError } from 'commander';
import { isMailmigrateError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { EXIT_CANNOT_RUN } from './exit-code.js';
import { registerBench } from './commands/bench.js';
import { registerServe } from './commands/serve.js';
import { registerImport } from './commands/import.js';
import { registerVerify } from './commands/verify.js';
import { registerDoctor } from './commands/doctor.js';
import { registerBenchScale } from './commands/bench-scale.js';
import { registerBatch } from './commands/batch.js';
import { registerWorker } from './commands/worker.js';

// The only layer that touches argv, stdout, process.exit and commander (design.md). Each command lives in
// src/cli/commands/<name>.ts and exports register<Name>(program); this file only wires them.

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mailmigrate')
    .description('Bulk-import local mail (Maildir, Maildir++, mbox, .eml trees) into any IMAP server, fast and measured')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBench(program);
  registerServe(program);
  registerImport(program);
  registerVerify(program);
  registerDoctor(program);
  registerBenchScale(program);
  registerBatch(program);
  registerWorker(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
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

