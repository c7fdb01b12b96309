// `npm run cluster`: three gateway instances behind HAProxy, sharing one Redis, in front of the
// demo backends, all on loopback: what a scaled-out deployment looks like, on one machine. The
// balancer listens where `npm start`'s gateway would (PORT, else DEMO_PORT_BASE, 4000). Redis is
// REDIS_URL's when set, else a redis-server of its own (Debian's package), nothing saved.
// Ctrl-C stops everything it started.
import { assertPortsFree, DemoPortError, demoPort } from '../ports.ts';
import { startCluster } from './cluster.ts';
import { findBinary, MissingBinaryError, startRedis } from './binaries.ts';

async function main(): Promise<void> {
  const balancer = demoPort('gateway');
  await assertPortsFree([balancer]);
  const haproxy = findBinary('haproxy', 'HAPROXY_PATH', 'haproxy');
  const redis = process.env.REDIS_URL
    ? undefined
    : await startRedis(findBinary('redis-server', 'REDIS_SERVER_PATH', 'redis-server'));
  const stopRedis = () => redis?.child.kill();
  process.once('exit', stopRedis);
  const redisUrl = process.env.REDIS_URL || redis!.url;
  const cluster = await startCluster({
    redisUrl,
    port: balancer.port,
    haproxy,
    instances: Number(process.env.CLUSTER_INSTANCES || 3),
  });
  const shown = new URL(redisUrl);
  shown.password = '';
  console.log(`cluster: HAProxy        ${cluster.url}/graphql`);
  for (const instance of cluster.instances) {
    console.log(
      `cluster: ${instance.name}      ${instance.origin} (admin ${instance.adminOrigin}, log ${instance.logFile})`,
    );
  }
  console.log(
    `cluster: Redis          ${shown.protocol}//${shown.host} (key prefix ${cluster.keyPrefix})`,
  );
  console.log(`cluster: config         ${cluster.configFile} (edit it: every instance reloads)`);
  console.log(
    `cluster: a trial key    ${cluster.trialKey} (x-api-key; ${cluster.trialLimit} requests a minute across the cluster)`,
  );
  console.log('cluster: Ctrl-C stops everything');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('cluster: stopping');
    void cluster.close().then(() => {
      stopRedis();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof DemoPortError || error instanceof MissingBinaryError) {
    console.error(`cluster: ${error.message}`);
    process.exit(2);
  }
  console.error(`cluster: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
