import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';

/** The message the user sees for `text` read as `file`, a config that must fail. */
export function configFailure(
  text: string,
  file: string,
  env: Record<string, string> = {},
): string {
  try {
    parseConfig(text, file, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('the config was accepted');
}
