// The package's programmatic API (package.json "exports" → dist/src/index.js): what the README offers library users.
// The import use case — options in, report out — and the transport's timing channel. Everything else is internal
// and may change between versions; the CLI (bin/mailmigrate.js) is built on these same pieces.
//
//   import { ImportRun, FolderRules } from 'mailmigrate';
//   const { report, outcome } = await new ImportRun({ sources: ['/home/alice/Maildir'], target, ... }).run();

export { ImportRun, importOutcome, type ImportObserver, type ImportOutcome, type ImportRunOptions } from './migrate/import-run.js';
export type { ImportReport, ImportRunReport } from './migrate/import-report.js';
export type { ImportEvent, ImportProgress } from './migrate/import-types.js';
export type { ResolvedTarget } from './migrate/target.js';
export { FolderRules, type FolderRuleOptions } from './migrate/folder-rules.js';
export { ERROR_CATALOGUE, type ErrorCode, isMailmigrateError, MailmigrateError } from './core/errors.js';
export { RECORD_CHANNEL } from './transport/record-channel.js';
export { derivePhases, type Phases, type TimingRecord } from './transport/timing.js';
