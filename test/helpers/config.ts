import assert from 'node:assert/strict';
import { join } from 'node:path';
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

/** Where the config tests say their text was read from. */
export const CONFIG_FILE = join(process.cwd(), 'supergraph.yaml');

/** The smallest valid config: one subgraph. Tests append the keys they are about. */
export const ONE_SUBGRAPH = `federation_version: =2.3.0
subgraphs:
  users:
    routing_url: http://127.0.0.1:4001/graphql
    schema:
      file: ./users.graphql
`;

/**
 * The `subgraphs` of a config that is about something else (routes, the gRPC port): one subgraph
 * that is never called, because a config needs at least one.
 */
export const STUB_SUBGRAPHS = {
  stub: {
    routing_url: 'http://127.0.0.1:9/graphql',
    schema: { sdl: 'type Query { hello: String }' },
  },
};
