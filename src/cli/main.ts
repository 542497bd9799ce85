import { run } from './program.js';

// Entry point of the `mailmigrate` binary (bin/mailmigrate.js imports this file).
process.exitCode = await run(process.argv);
