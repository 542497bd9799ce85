// ESLint (flat config): a few rules that catch real bugs or keep the layers honest, not a style guide.
//   npm run lint   (also run by npm test; type-aware, so it reads tsconfig.json)
// The import-cycle check is dpdm, run by the same script: `dpdm --exit-code circular:1 'src/**/*.ts'`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'bench/peers/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its rejection and its ordering: every send, journal write and close must be
      // awaited, returned, or explicitly `void`ed with a comment saying why.
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      // An unused variable is usually a forgotten step. `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Type-only imports are erased, so a type never loads a module at start-up (docs/measurements.md "Start-up").
      // `typeof import('x')` stays allowed: it is how a lazily loaded module is typed without loading it.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // `failure ? w.reject(failure) : w.resolve()` is a call either way, not a forgotten expression.
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true, allowShortCircuit: true }],
      // Off: this code matches control characters on purpose — escaping them before they reach a terminal
      // (core/printable.ts), refusing them in IMAP atoms and quoted strings (RFC 3501 §9), parsing CSV and ANSI codes.
      'no-control-regex': 'off',
      // `x!` is how this code says "the invariant holds here"; the strict compiler already checks the rest.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests reach into parsed protocol structures and fake objects; `any` there is a test's shortcut, not an API.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Layers (README "Layers"): only the CLI prints. Everything below reports through return values, errors and
    // observers, so the same code runs under a progress bar, a fleet worker or a test.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name=/^(stdout|stderr|exit)$/]",
          message: 'only src/cli (and the entry point of a child process) writes to stdout/stderr or exits the process',
        },
      ],
    },
  },
  {
    // Entry points of child processes (a fleet account's guard, the benchmark's server child): each is its own
    // program, so it reports and exits like one.
    files: ['src/fleet/child-guard.ts', 'src/bench/server-child.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // src/core is the bottom layer: types, errors, clock. It imports Node built-ins and its own files only.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!./*'], message: 'src/core imports nothing from the layers above it' }, { regex: '^(?!node:|\\.)', message: 'src/core uses Node built-ins only' }] }],
    },
  },
);
