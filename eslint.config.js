// ESLint with typescript-eslint's type-aware rules: a short list, each with the reason it exists.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Folder boundaries, generated from the table in docs/architecture.md: each folder of src/ may
 * import its own files and the folders its row names; every other folder of src/ is refused.
 */
function readBoundaries() {
  const page = readFileSync(join(import.meta.dirname, 'docs', 'architecture.md'), 'utf8');
  const rows = page
    .split('\n')
    .filter((line) => /^\| `[a-z-]+\/` /.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const folders = rows.map((cells) => cells[1].replaceAll('`', '').replace(/\/$/, ''));
  return rows.map((cells, i) => {
    const folder = folders[i];
    const allowed = new Set([folder, ...[...cells[3].matchAll(/`([a-z-]+)\/`/g)].map((m) => m[1])]);
    const refused = folders.filter((other) => !allowed.has(other));
    return {
      files: [`src/${folder}/**`],
      message: `${folder}/ may import only ${[...allowed].filter((f) => f !== folder).join(', ') || 'nothing else of src/'} (docs/architecture.md).`,
      // Relative imports from the folder itself and from one folder deeper.
      patterns: refused.flatMap((other) => [`../${other}/*`, `../../${other}/*`]),
    };
  });
}

const boundaries = [
  ...readBoundaries(),
  {
    files: ['src/policies/**'],
    message: 'policies do not import each other.',
    patterns: ['../auth/*', '../cache/*', '../cors/*', '../limits/*', '../traffic/*'],
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
  // ESLint keeps one options object per rule, so one folder's patterns are merged into one.
  ...mergeByFiles(boundaries).map(({ files, groups }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: groups }] },
  })),
);

function mergeByFiles(rules) {
  const merged = new Map();
  for (const { files, message, patterns } of rules) {
    const key = files.join(',');
    if (!merged.has(key)) merged.set(key, { files, groups: [] });
    merged.get(key).groups.push({ group: patterns, message });
  }
  return [...merged.values()];
}
