// Child process of the bench: serves the shop subgraphs on ephemeral ports and prints them as
// one JSON line, so their CPU is not the load generator's.
import { SHOP } from '../test/fixtures/graphs/shop.ts';
import { startSubgraphServer } from '../test/helpers/subgraph-server.ts';

const servers = await Promise.all(SHOP.map((def) => startSubgraphServer(def)));
process.stdout.write(
  `${JSON.stringify(servers.map(({ name, url, sdl }) => ({ name, url, sdl })))}\n`,
);
process.on(
  'SIGTERM',
  () => void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0)),
);
