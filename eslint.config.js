// ESLint with typescript-eslint's type-aware rules: a short list, each with the reason it exists.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folder boundaries from shared/DESIGN.md: who may not import whom. */
const boundaries = [
  {
    files: ['src/kernel/**'],
    message: 'kernel/ is the shared core: it imports nothing else from src/.',
    patterns: [
      '../config/*',
      '../composition/*',
      '../gateway/*',
      '../server/*',
      '../observability/*',
      '../cli/*',
      '../policies/*',
      '../adapters/*',
      '../bff/*',
      '../translate/*',
      '../routes/*',
    ],
  },
  {
    files: ['src/config/**'],
    message: 'config/ is validated at the edge and depends on kernel/ only.',
    patterns: [
      '../composition/*',
      '../gateway/*',
      '../server/*',
      '../observability/*',
      '../cli/*',
      '../policies/*',
      '../adapters/*',
      '../bff/*',
      '../translate/*',
      '../routes/*',
    ],
  },
  {
    files: ['src/composition/**'],
    // It may import adapters/: an adapter's SDL (its directives stripped) is a composition input.
    message: 'composition/ composes; it does not know how the graph is served.',
    patterns: ['../gateway/*', '../server/*', '../cli/*', '../policies/*', '../bff/*'],
  },
  {
    files: ['src/gateway/**'],
    message: 'gateway/ is the GraphQL engine; server/ and cli/ build on it, not the reverse.',
    patterns: ['../server/*', '../../server/*', '../cli/*', '../../cli/*'],
  },
  {
    files: ['src/adapters/**'],
    message: 'adapters do not import server/ (they can run standalone).',
    patterns: ['../../server/*', '../../cli/*'],
  },
  {
    files: ['src/translate/**'],
    // It may import adapters/grpc/: proto loading, channels and health are the gRPC adapter's.
    message: 'translate/ converts between REST and gRPC; server/ serves it, not the reverse.',
    patterns: [
      '../server/*',
      '../gateway/*',
      '../cli/*',
      '../policies/*',
      '../bff/*',
      '../composition/*',
    ],
  },
  {
    files: ['src/routes/**'],
    message: 'routes/ decides where a REST request goes; server/ proxies it.',
    patterns: [
      '../server/*',
      '../gateway/*',
      '../cli/*',
      '../adapters/*',
      '../translate/*',
      '../composition/*',
    ],
  },
  {
    files: ['src/policies/**'],
    message: 'policies do not import each other, nor server/.',
    patterns: ['../auth/*', '../limits/*', '../traffic/*', '../../server/*', '../../cli/*'],
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'scratch/', '.runtimes/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Type-only imports vanish at runtime; keeping them marked keeps ESM loading honest.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // An unawaited promise in a server loses errors and breaks draining.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test registers tests synchronously; their returned promises are the runner's.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // Unused values are dead code; a leading underscore marks a deliberate discard.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Tests read untyped JSON from HTTP bodies; `any` there is the honest type.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  ...boundaries.map(({ files, message, patterns }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }] },
  })),
);
