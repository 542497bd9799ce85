import { fileURLToPath } from 'node:url';
import { run } from './program.js';
import { installSourceMappedStacks } from './source-mapped-stacks.js';

// Entry point of the `mailmigrate` binary (bin/mailmigrate.js imports the bundle built from this file).
// Stack traces name the TypeScript sources, mapped only when one is printed (source-mapped-stacks.ts says why).
installSourceMappedStacks(fileURLToPath(new URL('.', import.meta.url)));
const traceStartup = process.env['MAILMIGRATE_TRACE_STARTUP'];
if (traceStartup === '1' || traceStartup === 'exit') (await import('./startup-trace.js')).traceStartup(process.stderr, traceStartup === 'exit');
process.exitCode = await run(process.argv);
