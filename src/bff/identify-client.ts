import type { RequestContext } from '../kernel/context.ts';

/** The label of a request no configured client claims: metric labels stay the configured ids. */
export const UNKNOWN_CLIENT = '(unknown)';

/**
 * Stage: which configured client the request is (`ctx.client`), so every later stage reads that
 * client's policies. It runs after `authenticate` because a verified API key can decide it: on
 * the default endpoint (`server.graphql_path`), a key whose client id a client binds makes the
 * request that client's; otherwise the endpoint decides (a client's own path, or the default
 * client on the default path). What the endpoint demands of its caller (`auth`) is known before
 * any stage, from the path alone (app.ts sets `ctx.authMode`), as a REST route's is.
 *
 * No header picks a client: policies differ per client, so a header the caller chooses would
 * let it pick the weakest (the highest limits, introspection on). Only the path it called and
 * the key the gateway verified decide, and on a client's own endpoint the path wins: a key
 * bound to `mobile` sent to `/graphql/web` gets web's policies, which that endpoint promised.
 */
export function identifyClient(ctx: RequestContext): void {
  const clients = ctx.snapshot.clients;
  if (clients.size === 0) return;
  let client = clients.byEndpoint.get(ctx.path);
  if (!client && ctx.path === clients.defaultPath) {
    const keyClient = ctx.identity?.kind === 'api_key' ? ctx.identity.clientId : undefined;
    client = (keyClient !== undefined && clients.byApiKeyClient.get(keyClient)) || undefined;
  }
  client ??= clients.atEndpoint(ctx.path);
  // Configured ids only reach the log line and metrics: a header-chosen name never does here.
  ctx.facts.client = client?.id ?? UNKNOWN_CLIENT;
  if (!client) return;
  ctx.client = client;
  ctx.introspection = client.introspection;
}
