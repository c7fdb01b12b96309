// Child process of the bench: the bare @apollo/gateway + @apollo/server of bare-gateway.ts with
// a minimal fetcher in place of RemoteGraphQLDataSource: one keep-alive undici Agent, the
// subgraph request as JSON, its answer parsed and handed back. No headers, error shaping, cache
// hints or tracing: the large case's "minimal-fetcher baseline", what federation costs in Apollo
// Gateway once the data source costs next to nothing.
import { readFile } from 'node:fs/promises';
import type { GraphQLDataSource } from '@apollo/gateway';
import { Agent } from 'undici';
import { startBareGateway } from '../test/helpers/bare-gateway.ts';

type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;

// undici keeps connections alive by default; one Agent pools them for every subgraph.
const agent = new Agent({ keepAliveTimeout: 30_000 });

function minimalDataSource(url: string): GraphQLDataSource {
  const { origin, pathname } = new URL(url);
  return {
    async process({ request: { query, variables, operationName } }) {
      const { body } = await agent.request({
        origin,
        path: pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables, operationName }),
      });
      return (await body.json()) as Response;
    },
  };
}

const file = process.argv[2];
if (!file) throw new Error('usage: minimal-gateway.ts <supergraph.graphql>');
const { url, close } = await startBareGateway(await readFile(file, 'utf8'), 0, ({ url }) =>
  minimalDataSource(url!),
);
process.stdout.write(`${JSON.stringify({ msg: 'gateway listening', url })}\n`);
process.on('SIGTERM', () => void close().then(() => process.exit(0)));
