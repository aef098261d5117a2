// Lint rules, including the layering rule from ../shared/DESIGN.md:
// lib ← uapi ← kernel|linux ← user ← scenario/report ← cli/server/web (imports point down only).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Each layer and the layers it must not import. */
const LAYERS = {
  lib: ['uapi', 'kernel', 'linux', 'user', 'scenario', 'report', 'cli', 'server', 'web'],
  uapi: ['kernel', 'linux', 'user', 'scenario', 'report', 'cli', 'server', 'web'],
  kernel: ['linux', 'user', 'scenario', 'report', 'cli', 'server', 'web'],
  // The real-Linux implementation of the syscall interface (koffi): beside kernel/, and may
  // reuse its pure allocators (the dmem pool, dmemfs's namespace) for user-space dmemfs.
  linux: ['user', 'scenario', 'report', 'cli', 'server', 'web'],
  user: ['kernel', 'linux', 'scenario', 'report', 'cli', 'server', 'web'],
  scenario: ['cli', 'server', 'web'],
  report: ['cli', 'server', 'web'],
  cli: ['server', 'web'],
};

const layerRules = Object.entries(LAYERS).map(([layer, forbidden]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((f) => ({
          group: [`**/${f}/**`, `**/${f}`],
          message: `src/${layer} may not import src/${f} (layering: lib ← uapi ← kernel ← user ← scenario/report ← cli).`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', 'tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerRules,
);
