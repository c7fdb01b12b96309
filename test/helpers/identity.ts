import { STAGES, type StageEntry } from '../../src/gateway/pipeline.ts';
import type { Identity } from '../../src/kernel/context.ts';

/**
 * Test-only: gives a request a verified identity from a header, until the `authenticate` stage
 * (issue 18) verifies real credentials. It runs where `authenticate` will, right after
 * `correlate`, so `authorize` and everything after it see `ctx.identity` as they will then.
 * Tests written with it switch to real tokens by sending a token instead of `asCaller(...)`.
 * Never part of the gateway: only tests build pipelines with it.
 */
export const TEST_IDENTITY_HEADER = 'x-test-identity';

export const testIdentityStage: StageEntry = {
  name: 'testIdentity',
  event: 'request',
  run(ctx) {
    const header = ctx.headers[TEST_IDENTITY_HEADER];
    if (typeof header === 'string') ctx.identity = JSON.parse(header) as Identity;
  },
};

/** STAGES (or `stages`) with the test identity stage after `correlate`. */
export function withTestIdentity(stages: readonly StageEntry[] = STAGES): StageEntry[] {
  const at = stages.findIndex((stage) => stage.name === 'correlate') + 1;
  return [...stages.slice(0, at), testIdentityStage, ...stages.slice(at)];
}

/** The header that makes a request arrive as this caller (see `testIdentityStage`). */
export function asCaller(identity: Partial<Identity> = {}): Record<string, string> {
  const caller: Identity = {
    kind: 'jwt',
    subject: 'test-user',
    scopes: [],
    claims: {},
    ...identity,
  };
  return { [TEST_IDENTITY_HEADER]: JSON.stringify(caller) };
}
