// `bash scripts/image.sh smoke`: starts the built image the way a container runtime would (its
// own entrypoint, command, user, working directory and environment, read from the image) and
// checks that it serves the demo graph, answers its HEALTHCHECK and drains on SIGTERM.
//
//   node --import ./bin/typescript-loader.js scripts/image-smoke.ts <image> [<npm registry>]
//
// No OCI runtime can start a container in this sandbox (crun and runc fail on setrlimit without
// CAP_SYS_RESOURCE), so the image runs under `buildah run --isolation chroot`: the image's
// filesystem and configuration, the host's network. The demo backends run here, on free ports,
// and refuse calls without the gateway's proof, as under `npm start`.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startDemoBackends } from '../demo/backends.ts';
import { startDevIssuer } from '../demo/dev-issuer.ts';
import { createGatewayVerifier, DEMO_PROOF } from '../demo/gateway-verifier.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../test/fixtures/demo.ts';
import { freeLoopbackPort as freePort } from '../demo/ports.ts';

const ROOT = join(import.meta.dirname, '..');
/** How long the gateway may take to compose and listen (Apollo's composition is most of it). */
const START_TIMEOUT_MS = 60_000;

/** What `buildah inspect` says of a docker-format image's configuration. */
interface ImageConfig {
  User: string;
  WorkingDir: string;
  Env: string[];
  Entrypoint: string[];
  Cmd: string[];
  Healthcheck?: { Test: string[] };
}

function buildah(args: string[]): string {
  return execFileSync('buildah', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** `buildah run` arguments that give a command the image's user, directory and environment. */
function runArgs(container: string, config: ImageConfig, env: Record<string, string>): string[] {
  const vars = [...config.Env, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return [
    'run',
    '--isolation',
    'chroot',
    '--network',
    'host',
    '--user',
    config.User,
    '--workingdir',
    config.WorkingDir,
    ...vars.flatMap((v) => ['--env', v]),
    container,
    '--',
  ];
}

/** The process (among `root`'s descendants) whose command line passes `test`. */
function findDescendant(root: number, test: (argv: string[]) => boolean): number | undefined {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The parent is the 2nd field after the command, which is in parentheses.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone since readdir.
    }
  }
  for (const [pid] of parents) {
    let up: number | undefined = pid;
    while (up !== undefined && up > 1 && up !== root) up = parents.get(up);
    if (up !== root || pid === root) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (test(argv)) return pid;
    } catch {
      // Gone since readdir.
    }
  }
  return undefined;
}

/** The gateway's log, printed only when the smoke fails. */
const gatewayLog: string[] = [];

/** Resolves at the first stdout line that passes `test`; keeps every line in gatewayLog. */
function waitForLine(child: ChildProcess, test: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the gateway did not listen within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    child.once('exit', (code) =>
      reject(new Error(`the gateway exited (${code}) before listening`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      gatewayLog.push(line);
      if (test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** What the final image must not hold: production only, a user that is not root, no registry. */
function checkImage(image: string, mountpoint: string, registry: string | undefined) {
  const inspected = buildah(['inspect', '--type', 'image', image]);
  if (registry) {
    assert.ok(
      !inspected.includes(registry),
      "the npm registry is in the image's config or history",
    );
  }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const devOnly = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev === true)
    .map(([path]) => path);
  const present = devOnly.filter((path) => existsSync(join(mountpoint, 'app', path)));
  assert.deepEqual(present, [], 'development-only packages are in the image');
  assert.ok(existsSync(join(mountpoint, 'app/node_modules/graphql')), 'no node_modules in /app');
  console.log(`image: no development-only package (${devOnly.length} in the lock) is in the image`);
}

async function main(image: string, registry: string | undefined) {
  const config = (
    JSON.parse(buildah(['inspect', '--type', 'image', image])) as {
      Docker: { config: ImageConfig };
    }
  ).Docker.config;
  assert.ok(config.User && !/^(root|0)(:|$)/.test(config.User), `runs as ${config.User || 'root'}`);
  assert.ok(config.Healthcheck?.Test[0] === 'CMD', 'the image has an exec-form HEALTHCHECK');

  const keysDir = await mkdtemp(join(tmpdir(), 'image-smoke-keys-'));
  const container = buildah(['from', '--quiet', image]).trim();
  const cleanups: (() => Promise<unknown> | unknown)[] = [
    () => rm(keysDir, { recursive: true, force: true }),
    () => buildah(['rm', container]),
  ];
  try {
    checkImage(image, buildah(['mount', container]).trim(), registry);
    const uid = execFileSync('buildah', [...runArgs(container, config, {}), 'id', '-u'], {
      encoding: 'utf8',
    }).trim();
    assert.notEqual(uid, '0', 'the image runs as root');
    console.log(`image: runs as ${config.User} (uid ${uid})`);

    const [port, adminPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
    const issuer = await startDevIssuer({ port: 0, keysDir });
    cleanups.unshift(() => issuer.close());
    const backends = await startDemoBackends(
      {},
      {
        verifier: createGatewayVerifier({
          jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
          ...DEMO_PROOF,
        }),
      },
    );
    cleanups.unshift(() => backends.close());
    const env = {
      ...backends.env,
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      GRPC_PORT: String(grpcPort),
      DEV_ISSUER_JWKS_URL: issuer.jwksUrl,
    };

    const t0 = performance.now();
    const gateway = spawn(
      'buildah',
      [...runArgs(container, config, env), ...config.Entrypoint, ...config.Cmd],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(gateway, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    cleanups.unshift(() => {
      if (gateway.exitCode === null) gateway.kill('SIGKILL');
    });
    // One line once every port is open; it names the admin listener when there is one.
    let listening = '';
    await waitForLine(gateway, (line) => {
      if (line.includes('"msg":"gateway listening"')) listening = line;
      return listening !== '';
    });
    assert.ok(listening.includes('"admin"'), "the image's config opens no admin listener");
    console.log(`image: the gateway listened after ${Math.round(performance.now() - t0)} ms`);

    const answer = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: DEMO_QUERY }),
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), DEMO_ANSWER);
    console.log(
      'image: the demo query is answered through the users, orders and products backends',
    );
    const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
    assert.equal(health.status, 200, 'the admin listener answers /healthz');

    // The image's HEALTHCHECK, run inside as a runtime would run it.
    const healthcheck = async () => {
      const check = spawn(
        'buildah',
        [...runArgs(container, config, env), ...config.Healthcheck!.Test.slice(1)],
        { stdio: 'ignore' },
      );
      const [code] = (await once(check, 'exit')) as [number | null];
      return code;
    };
    assert.equal(await healthcheck(), 0, 'the HEALTHCHECK fails');
    console.log('image: /healthz answers, and the HEALTHCHECK passes');

    // SIGTERM to the gateway's node itself, as a runtime sends it to PID 1. Not to buildah's
    // chroot helpers between us and it, whose arguments also name the command.
    const gatewayPid = findDescendant(
      gateway.pid!,
      ([command, script]) => /(^|\/)node$/.test(command ?? '') && script === 'bin/gateway.js',
    );
    assert.ok(gatewayPid, "the gateway's node process was not found under buildah run");
    process.kill(gatewayPid, 'SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0, 'the gateway did not exit 0 after SIGTERM');
    assert.ok(gatewayLog.some((line) => /"drained":true.*"msg":"stopped"/.test(line)));
    console.log('image: SIGTERM drains and exits 0');
    assert.notEqual(await healthcheck(), 0, 'the HEALTHCHECK passes with no gateway');
    console.log('image: with the gateway stopped, the HEALTHCHECK fails');
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

const [image, registry] = process.argv.slice(2);
if (!image) {
  console.error('usage: image-smoke.ts <image> [<npm registry>]');
  process.exit(2);
}
main(image, registry).catch((error: unknown) => {
  for (const line of gatewayLog) console.error(`  | ${line}`);
  console.error(`image smoke: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
