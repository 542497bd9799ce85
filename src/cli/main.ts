import { run } from './program.js';

// Entry point of the `mailmigrate` binary (bin/mailmigrate.js imports this file).
if (process.env['MAILMIGRATE_TRACE_STARTUP'] === '1') (await import('./startup-trace.js')).traceStartup();
process.exitCode = await run(process.argv);
