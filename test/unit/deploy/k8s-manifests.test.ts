import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, type LoadedConfig } from '../../../src/config/load.ts';
import { renderKustomization, type K8sObject } from '../../helpers/kustomize.ts';
import { schemaErrors, unknownFieldErrors } from '../../helpers/k8s-validate.ts';

/**
 * deploy/k8s: every kustomization renders (test/helpers/kustomize.ts, the features the manifests
 * use), every object is one the Kubernetes API accepts (kubernetes-models' schemas, unknown
 * fields refused as kubectl's strict validation does), and the manifests agree with the
 * gateway's own config as its loader reads it: ports, probes, the termination budget, secrets,
 * the config volume.
 */
const K8S = join(import.meta.dirname, '..', '..', '..', 'deploy', 'k8s');
const KUSTOMIZATIONS = ['base', 'overlays/demo', 'overlays/production'];

/**
 * Secrets an overlay expects to exist without applying them: production's are created outside
 * the repository, and secret.example.yaml (not among its resources) names their keys.
 */
const DOCUMENTED_SECRETS: Record<string, string | undefined> = {
  'overlays/production': 'overlays/production/secret.example.yaml',
};

/** What the gateway needs between SIGTERM and exit besides delay and timeout (logs, Redis). */
const MARGIN_SECONDS = 5;

type Json = Record<string, any>;

const renders = new Map<string, Promise<K8sObject[]>>();
const render = (dir: string) => {
  let objects = renders.get(dir);
  if (!objects) renders.set(dir, (objects = renderKustomization(join(K8S, dir))));
  return objects;
};

const temps: string[] = [];
after(() => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));

const one = (objects: readonly K8sObject[], kind: string): Json => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === 'federation-gateway');
  assert.equal(found.length, 1, `one ${kind} federation-gateway`);
  return found[0] as Json;
};
const gatewayContainer = (deployment: Json): Json =>
  deployment.spec.template.spec.containers.find((c: Json) => c.name === 'gateway');

/** The Secrets the overlay applies or documents: name -> keys. */
async function secretKeys(dir: string, objects: readonly K8sObject[]) {
  const secrets: Json[] = objects.filter((o) => o.kind === 'Secret');
  const documented = DOCUMENTED_SECRETS[dir];
  if (documented) secrets.push(parse(await readFile(join(K8S, documented), 'utf8')));
  const keys = new Map<string, Map<string, string>>();
  for (const s of secrets) {
    const values = new Map<string, string>(Object.entries(s.stringData ?? {}));
    for (const [k, v] of Object.entries(s.data ?? {}))
      values.set(k, Buffer.from(String(v), 'base64').toString('utf8'));
    keys.set(s.metadata.name, values);
  }
  return keys;
}

/**
 * The container's environment as the gateway would see it: plain values, and each secretKeyRef
 * the Secret's value (an example's empty one: a placeholder of the right shape).
 */
function containerEnv(container: Json, secrets: Map<string, Map<string, string>>) {
  const placeholders: Record<string, string> = {
    REDIS_URL: 'rediss://:placeholder@redis.invalid:6380',
  };
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secrets.get(ref.name)?.get(ref.key);
      env[e.name] = value || placeholders[e.name] || 'p'.repeat(48);
    } else if (typeof e.value === 'string') env[e.name] = e.value;
  }
  return env;
}

/** The ConfigMap's files as the volume shows them, read by the gateway's own loader. */
async function loadMountedConfig(configMap: Json, env: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-k8s-config-'));
  temps.push(dir);
  for (const [name, text] of Object.entries(configMap.data as Record<string, string>))
    await writeFile(join(dir, name), text);
  return loadConfig(join(dir, 'supergraph.yaml'), env);
}

const seconds = (ms: number) => ms / 1000;

/** preStop's sleep in seconds: the native sleep action, `sleep N` in exec, or none. */
function preStopSeconds(container: Json): number {
  const preStop = container.lifecycle?.preStop;
  if (!preStop) return 0;
  if (preStop.sleep) return Number(preStop.sleep.seconds);
  const command: string[] = preStop.exec?.command ?? [];
  const at = command.findIndex((c) => c === 'sleep' || c.endsWith('/sleep'));
  if (at >= 0) return Number(command[at + 1]);
  throw new Error(`preStop hook this test cannot time: ${JSON.stringify(preStop)}`);
}

/** How many pods the PDB lets go at `replicas` (percentages round as the eviction API does). */
function disruptionsAllowed(pdb: Json, replicas: number): number {
  const count = (v: number | string, round: (n: number) => number) =>
    typeof v === 'number' ? v : round((Number.parseInt(v, 10) / 100) * replicas);
  if (pdb.spec.maxUnavailable !== undefined) return count(pdb.spec.maxUnavailable, Math.ceil);
  return replicas - count(pdb.spec.minAvailable, Math.ceil);
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every `${VAR}` the text reads without a default (`$${` is a literal, not a read). */
function requiredVariables(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)]
    .filter((m) => m[2] === undefined)
    .map((m) => m[1] as string);
}

/** The rules the manifests keep with each other and with the mounted config; [] when all hold. */
function consistencyProblems(
  objects: readonly K8sObject[],
  loaded: LoadedConfig,
  secrets: Map<string, Map<string, string>>,
): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const deployment = one(objects, 'Deployment');
  const service = one(objects, 'Service');
  const pdb = one(objects, 'PodDisruptionBudget');
  const hpa = one(objects, 'HorizontalPodAutoscaler');
  const pod = deployment.spec.template.spec;
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const container = gatewayContainer(deployment);
  const { server } = loaded.config;
  const ports = new Map<string, number>(
    (container.ports ?? []).map((p: Json) => [p.name, p.containerPort]),
  );
  const portOf = (port: number | string) => (typeof port === 'number' ? port : ports.get(port));

  check(
    matches(deployment.spec.selector.matchLabels, podLabels),
    'the Deployment selects its pods',
  );
  check(ports.get('http') === server.port, `container port http is server.port (${server.port})`);
  check(
    server.admin !== undefined && ports.get('admin') === server.admin.port,
    `container port admin is server.admin.port (${server.admin?.port})`,
  );
  check(server.admin?.host === '0.0.0.0', 'server.admin.host 0.0.0.0: the kubelet probes the pod');
  const annotations = deployment.spec.template.metadata.annotations ?? {};
  if (annotations['prometheus.io/scrape'] === 'true')
    check(
      Number(annotations['prometheus.io/port']) === server.admin?.port &&
        annotations['prometheus.io/path'] === loaded.config.metrics.path,
      'Prometheus scrapes the metrics path on the admin port',
    );
  const args: string[] = [...(container.command ?? []), ...(container.args ?? [])];
  check(args.join(' ').includes('--host 0.0.0.0'), 'the gateway listens on 0.0.0.0 (--host)');

  const probes: [string, string][] = [
    ['readinessProbe', '/readyz'],
    ['livenessProbe', '/healthz'],
  ];
  if (container.startupProbe) probes.push(['startupProbe', '/healthz']);
  for (const [probe, path] of probes) {
    const get = container[probe]?.httpGet;
    check(get?.path === path, `${probe} asks ${path}`);
    check(
      get !== undefined && portOf(get.port) === server.admin?.port,
      `${probe} asks the admin port (${server.admin?.port})`,
    );
  }

  // SIGTERM comes once preStop ends, and the grace period counts from the start of preStop.
  const needed =
    preStopSeconds(container) +
    seconds(server.shutdown_delay) +
    seconds(server.shutdown_timeout) +
    MARGIN_SECONDS;
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  check(
    needed <= grace,
    `preStop + shutdown_delay + shutdown_timeout + ${MARGIN_SECONDS}s margin (${needed}s) fits terminationGracePeriodSeconds (${grace}s)`,
  );

  check(
    hpa.spec.scaleTargetRef.kind === 'Deployment' &&
      hpa.spec.scaleTargetRef.apiVersion === 'apps/v1' &&
      hpa.spec.scaleTargetRef.name === deployment.metadata.name,
    'the HPA scales the Deployment',
  );
  check(deployment.spec.replicas === undefined, 'the Deployment leaves replicas to the HPA');
  const minReplicas = hpa.spec.minReplicas ?? 1;
  check(minReplicas >= 2, 'minReplicas of 2 or more: one pod may be evicted while one serves');
  check(matches(pdb.spec.selector.matchLabels, podLabels), "the PDB selects the Deployment's pods");
  check(
    disruptionsAllowed(pdb, minReplicas) >= 1,
    `the PDB lets one pod go at minReplicas (${minReplicas}), so a node drain never blocks`,
  );
  const rolling = deployment.spec.strategy?.rollingUpdate;
  check(
    deployment.spec.strategy?.type === 'RollingUpdate' &&
      rolling?.maxUnavailable === 0 &&
      rolling?.maxSurge === 1,
    'RollingUpdate with maxUnavailable 0 and maxSurge 1',
  );

  check(matches(service.spec.selector, podLabels), "the Service selects the Deployment's pods");
  for (const p of service.spec.ports as Json[]) {
    check(portOf(p.targetPort) !== undefined, `Service port ${p.name} targets a container port`);
    check(
      portOf(p.targetPort) !== server.admin?.port,
      'the admin port stays off the Service (readiness details, metrics, cache invalidation)',
    );
  }

  for (const e of [...(container.env ?? []), ...(container.envFrom ?? [])] as Json[]) {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) continue;
    check(
      secrets.get(ref.name)?.has(ref.key) === true,
      `secretKeyRef ${ref.name}/${ref.key} names a Secret key the overlay provides or documents`,
    );
  }

  const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
  const volume = (pod.volumes as Json[]).find((v) =>
    configMaps.some((c) => c.metadata.name === v.configMap?.name),
  );
  check(volume !== undefined, 'a volume mounts the generated ConfigMap');
  const mounts = (container.volumeMounts as Json[]).filter((m) => m.name === volume?.name);
  check(mounts.length > 0, 'the gateway container mounts the config volume');
  for (const m of mounts)
    check(
      m.subPath === undefined,
      'the ConfigMap is mounted as a directory: subPath never updates',
    );
  const configFile = args[args.indexOf('--config') + 1] ?? '';
  check(
    mounts.some((m) => configFile === `${m.mountPath}/supergraph.yaml`),
    '--config is supergraph.yaml in the mounted ConfigMap',
  );
  check(loaded.config.server.hot_reload, 'server.hot_reload is on: ConfigMap changes are served');

  const text = (configMaps.find((c) => c.metadata.name === volume?.configMap?.name) as Json)?.data[
    'supergraph.yaml'
  ];
  const names = new Set((container.env ?? []).map((e: Json) => e.name));
  for (const variable of requiredVariables(String(text)))
    check(names.has(variable), `\${${variable}} in supergraph.yaml is set in the container's env`);
  return problems;
}

/** The overlay rendered, its config loaded as the pod would load it. */
async function prepare(dir: string) {
  const objects = await render(dir);
  const secrets = await secretKeys(dir, objects);
  const deployment = one(objects, 'Deployment');
  const configMap = objects.find((o) => o.kind === 'ConfigMap') as Json;
  const loaded = await loadMountedConfig(
    configMap,
    containerEnv(gatewayContainer(deployment), secrets),
  );
  return { objects, secrets, loaded };
}

describe('deploy/k8s renders to objects the Kubernetes API accepts', () => {
  for (const dir of KUSTOMIZATIONS) {
    test(`${dir} renders, and every object validates`, async () => {
      const objects = await render(dir);
      assert.ok(objects.length >= 5);
      const errors = (await Promise.all(objects.map(schemaErrors))).flat();
      errors.push(...unknownFieldErrors(objects));
      assert.deepEqual(errors, []);
    });
  }

  test("production's example Secret validates (its keys are the ones documented)", async () => {
    const example = parse(
      await readFile(join(K8S, 'overlays/production/secret.example.yaml'), 'utf8'),
    ) as K8sObject;
    assert.deepEqual([...(await schemaErrors(example)), ...unknownFieldErrors([example])], []);
  });

  test('a probe with a wrong type is refused', async () => {
    const deployment = structuredClone(one(await render('base'), 'Deployment')) as K8sObject;
    gatewayContainer(deployment).readinessProbe.periodSeconds = '5';
    gatewayContainer(deployment).livenessProbe.httpGet.port = { name: 'admin' };
    const errors = await schemaErrors(deployment);
    assert.match(errors.join('\n'), /readinessProbe\/periodSeconds must be integer/);
    assert.match(errors.join('\n'), /livenessProbe\/httpGet\/port must match exactly one schema/);
  });

  test('an unknown field anywhere in a Deployment is refused, with its path', async () => {
    const deployment = structuredClone(one(await render('base'), 'Deployment')) as K8sObject;
    (deployment.spec as Json).replica = 3;
    gatewayContainer(deployment).readinessProbe.httpGet.paht = '/readyz';
    assert.deepEqual(unknownFieldErrors([deployment]), [
      'Deployment federation-gateway: spec.template.spec.containers[0].readinessProbe.httpGet.paht: not a field of IHTTPGetAction',
      'Deployment federation-gateway: spec.replica: not a field of IDeploymentSpec',
    ]);
  });

  test('a kind the API does not have is refused', async () => {
    const bogus = { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } };
    assert.match((await schemaErrors(bogus)).join(), /no such kind/);
    assert.match(unknownFieldErrors([bogus]).join(), /no declaration for this kind/);
  });
});

describe('deploy/k8s agrees with the gateway config it mounts', () => {
  for (const dir of ['overlays/demo', 'overlays/production']) {
    test(`${dir}: the mounted supergraph.yaml loads, and the manifests keep every rule`, async () => {
      const { objects, secrets, loaded } = await prepare(dir);
      assert.deepEqual(consistencyProblems(objects, loaded, secrets), []);
      // What the production shape is: shared state in Redis, an HMAC proof every replica signs
      // alike (each replica's JWT keys differ).
      assert.equal(loaded.config.limits.store.kind, 'redis');
      assert.equal(loaded.config.cache.store, 'redis');
      assert.equal(loaded.config.server.apq_cache.store, 'redis');
      assert.equal(loaded.config.auth.identity.proof.mode, 'hmac');
    });
  }

  test('the products schema in the ConfigMap is the repository schema', async () => {
    assert.equal(
      await readFile(join(K8S, 'base/config/products.graphql'), 'utf8'),
      await readFile(join(K8S, '../../schemas/products.graphql'), 'utf8'),
    );
  });

  test('production runs more replicas and scales further than the demo', async () => {
    const demo = one(await render('overlays/demo'), 'HorizontalPodAutoscaler');
    const production = one(await render('overlays/production'), 'HorizontalPodAutoscaler');
    assert.ok(production.spec.minReplicas > demo.spec.minReplicas);
    assert.ok(production.spec.maxReplicas > demo.spec.maxReplicas);
    const redis = (await render('overlays/production')).filter((o) => o.metadata.name === 'redis');
    assert.deepEqual(redis, [], 'production brings no Redis of its own');
  });

  // Each rule fails on the mistake it is there for.
  const broken: [string, (objects: K8sObject[]) => void, RegExp][] = [
    [
      'a preStop sleep past the grace period',
      (objects) => {
        gatewayContainer(one(objects, 'Deployment')).lifecycle = {
          preStop: { sleep: { seconds: 15 } },
        };
      },
      /\(50s\) fits terminationGracePeriodSeconds \(45s\)/,
    ],
    [
      'a subPath mount of the config',
      (objects) => {
        const mount = gatewayContainer(one(objects, 'Deployment')).volumeMounts[0];
        mount.mountPath = '/etc/gateway/supergraph.yaml';
        mount.subPath = 'supergraph.yaml';
      },
      /subPath never updates/,
    ],
    [
      'a scrape annotation on the public port',
      (objects) => {
        const { annotations } = one(objects, 'Deployment').spec.template.metadata;
        annotations['prometheus.io/port'] = '4000';
      },
      /Prometheus scrapes the metrics path on the admin port/,
    ],
    [
      'a readiness probe on /healthz',
      (objects) => {
        gatewayContainer(one(objects, 'Deployment')).readinessProbe.httpGet.path = '/healthz';
      },
      /readinessProbe asks \/readyz/,
    ],
    [
      'a liveness probe on the public port',
      (objects) => {
        gatewayContainer(one(objects, 'Deployment')).livenessProbe.httpGet.port = 'http';
      },
      /livenessProbe asks the admin port/,
    ],
    [
      'a PDB that allows no disruption at minReplicas',
      (objects) => {
        const pdb = one(objects, 'PodDisruptionBudget');
        delete pdb.spec.maxUnavailable;
        pdb.spec.minAvailable = 3;
      },
      /the PDB lets one pod go/,
    ],
    [
      'an HPA aimed at another Deployment',
      (objects) => {
        one(objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'gateway';
      },
      /the HPA scales the Deployment/,
    ],
    [
      'a Service targeting a port the container does not name',
      (objects) => {
        one(objects, 'Service').spec.ports[0].targetPort = 'graphql';
      },
      /targets a container port/,
    ],
    [
      'a secretKeyRef to a key no Secret has',
      (objects) => {
        gatewayContainer(one(objects, 'Deployment')).env[0].valueFrom.secretKeyRef.key = 'URL';
      },
      /federation-gateway-secrets\/URL names a Secret key/,
    ],
    [
      'a variable the container does not set',
      (objects) => {
        const env = gatewayContainer(one(objects, 'Deployment')).env as Json[];
        env.splice(
          env.findIndex((e) => e.name === 'GATEWAY_PROOF_SECRET'),
          1,
        );
      },
      /\$\{GATEWAY_PROOF_SECRET\} in supergraph.yaml is set/,
    ],
  ];
  for (const [mistake, breakIt, problem] of broken) {
    test(`the rules catch ${mistake}`, async () => {
      const { objects, secrets, loaded } = await prepare('overlays/demo');
      const copy = structuredClone(objects);
      breakIt(copy);
      assert.match(consistencyProblems(copy, loaded, secrets).join('\n'), problem);
    });
  }
});
