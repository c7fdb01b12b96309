// A cluster for the bench's `cluster` case (bench/cluster.ts), in a process of its own so that
// the demo backends it hosts do not share the load generator's CPU: `node bench/cluster-child.ts
// <instances>` prints one JSON line (the balancer, each process's PID) and stops everything on
// SIGTERM. Its own redis-server, so its CPU is counted too.
import { findBinary, startRedis } from '../demo/cluster/binaries.ts';
import { startCluster } from '../demo/cluster/cluster.ts';

const instances = Number(process.argv[2] ?? 3);
const redis = await startRedis(findBinary('redis-server', 'REDIS_SERVER_PATH', 'redis-server'));
const cluster = await startCluster({
  instances,
  redisUrl: redis.url,
  haproxy: findBinary('haproxy', 'HAPROXY_PATH', 'haproxy'),
  // The request log stays on, as in production: its cost is part of what is measured.
  logLevel: 'info',
});
console.log(
  JSON.stringify({
    url: cluster.url,
    instances: cluster.instances.map((instance) => ({
      origin: instance.origin,
      pid: instance.process?.pid,
    })),
    haproxyPid: cluster.haproxy.child.pid,
    redisPid: redis.child.pid,
    backendsPid: process.pid,
  }),
);
process.once('SIGTERM', () => {
  void cluster.close().then(() => {
    redis.child.kill();
    process.exit(0);
  });
});
