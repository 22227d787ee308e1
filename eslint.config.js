// ESLint flat config: typescript-eslint's recommended rules over the whole tree.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The core knows no hardware and no network (DESIGN.md "Direction of dependencies").
    files: ['gateway/access/**', 'gateway/engagement/**', 'gateway/rules/**', 'gateway/store/**', 'gateway/bus/**', 'gateway/core/**'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/drivers/**', '**/sync/**'], message: 'The gateway core must not import drivers/ or sync/.' },
          { group: ['serialport', 'node-hid', '@abandonware/noble', 'onoff', 'undici', 'mqtt', 'node:http', 'node:https', 'node:net'], message: 'The gateway core knows no hardware and no network.' },
        ],
      }],
    },
  },
);
