import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { post } from './env.ts';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** An automatic persisted query's extension, for a hash-only request or a registration. */
export const byHash = (hash: string) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
});

export const codeOf = (json: any) => json.errors?.[0]?.extensions?.code;

/**
 * The APQ protocol against `url`, whatever the store: a hash-only miss (200
 * PERSISTED_QUERY_NOT_FOUND), a registration (hash and `query`), a hit (hash only); then `other`
 * sent under `query`'s hash, refused with 400 PERSISTED_QUERY_HASH_MISMATCH, after which the hash
 * still runs `query`: the mismatched document was registered nowhere. Returns the hit's data.
 */
export async function assertApqFlow(url: string, query: string, other: string): Promise<unknown> {
  const hash = sha256(query);
  const miss = await post(url, byHash(hash));
  assert.equal(miss.status, 200);
  assert.equal(codeOf(miss.json), 'PERSISTED_QUERY_NOT_FOUND');
  const registered = await post(url, { query, ...byHash(hash) });
  assert.equal(registered.status, 200, registered.text);
  assert.equal(registered.json.errors, undefined, registered.text);
  const hit = await post(url, byHash(hash));
  assert.deepEqual(hit.json.data, registered.json.data);
  const mismatch = await post(url, { query: other, ...byHash(hash) });
  assert.equal(mismatch.status, 400);
  assert.equal(codeOf(mismatch.json), 'PERSISTED_QUERY_HASH_MISMATCH');
  const still = await post(url, byHash(hash));
  assert.deepEqual(still.json.data, registered.json.data);
  return hit.json.data;
}
