// `npm run cluster`: three gateway instances behind HAProxy, sharing one Redis, in front of the
// demo backends, all on loopback: what a scaled-out deployment looks like, on one machine. The
// balancer listens where `npm start`'s gateway would (PORT, else DEMO_PORT_BASE, 4000). Redis is
// REDIS_URL's when set, else a redis-server of its own (Debian's package), nothing saved.
// Ctrl-C stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { assertPortsFree, DemoPortError, demoPort } from '../ports.ts';
import { startCluster } from './cluster.ts';

/** A Debian binary: its variable, else /usr/sbin or /usr/bin, else PATH. */
function findBinary(name: string, variable: string, packageName: string): string {
  const named = process.env[variable];
  const candidates = named
    ? [named]
    : ['/usr/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(delimiter)].map((dir) =>
        join(dir, name),
      );
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  throw new DemoPortError(
    named
      ? `${variable}=${named} is not an executable file`
      : `${name} is not installed: it comes from Debian's ${packageName} package (sudo apt-get install ${packageName}), or set ${variable} to its binary`,
  );
}

/** A redis-server of our own on a free loopback port, nothing saved, stopped by its PID. */
async function startRedis(binary: string): Promise<{ url: string; child: ChildProcess }> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(
    binary,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, child };
}

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
  if (error instanceof DemoPortError) {
    console.error(`cluster: ${error.message}`);
    process.exit(2);
  }
  console.error(`cluster: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
