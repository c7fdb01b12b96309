// Child process of the bench: serves the shop subgraphs on ephemeral ports and prints them as
// one JSON line, so their CPU is not the load generator's. A first argument holds each answer
// that many milliseconds (a backend's own latency); a second, `large`, serves the large shop
// (`largeShopData(50)`, the large case's rows) instead of the small one.
import { largeShopData, SHOP, shopSubgraphs } from '../test/fixtures/graphs/shop.ts';
import { startSubgraphServer } from '../test/helpers/subgraph-server.ts';

const delayMs = Number(process.argv[2] ?? 0);
const defs = process.argv[3] === 'large' ? shopSubgraphs(largeShopData(50)) : SHOP;
const servers = await Promise.all(defs.map((def) => startSubgraphServer({ ...def, delayMs })));
process.stdout.write(
  `${JSON.stringify(servers.map(({ name, url, sdl }) => ({ name, url, sdl })))}\n`,
);
process.on(
  'SIGTERM',
  () => void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0)),
);
