import { z } from 'zod';
import { ByteSize, Duration, HEADER_NAME, HeaderName, HeaderNames, IpRange } from './common.ts';
import { AuthConfig, AuthMode } from './auth.ts';

export { ByteSize, Duration } from './common.ts';

/**
 * The one definition of supergraph.yaml: it gives the static type (`GatewayConfig`), the runtime
 * validation, and the published JSON Schema (`supergraph.schema.json`, see scripts/).
 *
 * Rover's keys (`federation_version`, `subgraphs.<name>.routing_url`, `subgraphs.<name>.schema`)
 * keep rover's names and meaning so that a file written for rover works unchanged; ours sit beside
 * them in the same snake_case. Every object is strict: an unknown key is an error, because a typo
 * in a policy key must never silently disable the policy.
 */

const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http or https URL' });

/** rover's `schema:` block: exactly one of `file`, `subgraph_url`, `sdl` (or `graphref`). */
export const SubgraphSchemaSource = z
  .strictObject({
    /** Path to the subgraph's SDL, relative to supergraph.yaml. */
    file: z.string().min(1).optional(),
    /** A running subgraph to read the SDL from (`{ _service { sdl } }`) at load and reload. */
    subgraph_url: HttpUrl.optional(),
    /** Headers sent with the `subgraph_url` introspection request. */
    introspection_headers: z.record(z.string(), z.string()).optional(),
    /**
     * With `subgraph_url`: how often its SDL is read again while the gateway runs (Apollo's
     * IntrospectAndCompose `pollIntervalInMs`); a change reloads the graph, and a change that
     * does not compose keeps the last good one. `0` reads it at load and reload only.
     * @default 30s
     */
    poll_interval: Duration.optional(),
    /**
     * With `subgraph_url`: where the last SDL read is kept (relative to supergraph.yaml), so a
     * start while the subgraph is down serves its last known schema instead of failing. `false`
     * keeps none. @default .gateway/subgraphs/<name>.graphql
     */
    sdl_cache: z.union([z.string().min(1), z.literal(false)]).optional(),
    /** The SDL inline. */
    sdl: z.string().min(1).optional(),
    /** rover's GraphOS reference: accepted as a key so the error can say why it cannot work. */
    graphref: z.string().optional(),
    /** rover's subgraph name within `graphref`. */
    subgraph: z.string().optional(),
  })
  .superRefine((schema, ctx) => {
    if (schema.graphref !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['graphref'],
        message:
          'graphref needs Apollo GraphOS, which this gateway does not call; use file, subgraph_url or sdl',
      });
      return;
    }
    const given = (['file', 'subgraph_url', 'sdl'] as const).filter((k) => schema[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given.length === 0
            ? 'expected one of file, subgraph_url or sdl'
            : `expected only one of file, subgraph_url or sdl, got ${given.join(' and ')}`,
      });
    }
    for (const key of ['introspection_headers', 'poll_interval', 'sdl_cache'] as const)
      if (schema[key] !== undefined && schema.subgraph_url === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} only applies with subgraph_url`,
        });
  });

/**
 * TLS to a backend: PEM files (relative to supergraph.yaml) for a private CA and, for mutual
 * TLS, the gateway's client certificate and key.
 */
const BackendTls = z
  .strictObject({
    /** CA certificates the backend's certificate is verified against. @default the system's */
    ca: z.string().min(1).optional(),
    /** The gateway's client certificate (mutual TLS), with `key`. @default none */
    cert: z.string().min(1).optional(),
    /** The private key of `cert`. @default none */
    key: z.string().min(1).optional(),
    /** The name to verify the server's certificate against, when it differs from the address. */
    server_name: z.string().min(1).optional(),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message: 'cert and key go together (mutual TLS)',
  });

/** TLS to a gRPC backend, as in a gRPC source: `true` trusts the system's roots. */
const GrpcTls = z.union([z.literal(true), BackendTls]);

/**
 * A backend's instances beyond its URL's or address's own host: `host:port` each, every one
 * serving the same API. Calls go to the URL's scheme and path on the instance picked, with the
 * URL's host as the Host header and the TLS server name. @default the URL's host only
 */
const Instances = z
  .array(z.string().regex(/^[^\s/]+:\d+$/, 'expected host:port'))
  .min(1)
  .optional();

/**
 * A REST/JSON backend served as a subgraph by the REST adapter: the subgraph's SDL maps each
 * field to an HTTP call with `@rest` (see docs/adapters.md, "REST adapter").
 */
export const RestSource = z.strictObject({
  kind: z.literal('rest'),
  /** Base URL of the service; `@rest` paths are relative to it. */
  base_url: HttpUrl,
  /** Instances of the service, `host:port` each (docs/traffic.md). @default base_url's host */
  instances: Instances,
  /**
   * An OpenAPI 3.0/3.1 document (YAML or JSON, relative to supergraph.yaml) to generate the
   * subgraph's SDL from, instead of `schema`. `gateway rest print <subgraph>` shows the result.
   */
  openapi: z.string().min(1).optional(),
  /** Upper bound for one call to the service. @default 10s */
  timeout: Duration.default(10_000),
  /** Headers sent with every call (API keys via `${ENV}`); never logged. @default {} */
  headers: z
    .record(z.string().regex(HEADER_NAME, 'expected an HTTP header name'), z.string())
    .default({}),
  /**
   * Client request headers passed on to the service, by name. Nothing else from the client
   * reaches it: identity travels in headers the gateway sets itself. @default []
   */
  forward_headers: HeaderNames,
  /** TLS to an `https` base_url: a private CA, mutual TLS. @default the system's roots */
  tls: BackendTls.optional(),
  /**
   * Calls to the service one operation may make. Identical read calls (method, URL, headers and
   * body) within an operation are made once and count once; the fields whose calls come past
   * the cap are null with REQUEST_LIMIT_EXCEEDED, and the rest is answered. @default 100
   */
  max_calls_per_operation: z.number().int().positive().default(100),
  /** How the service's error answers read (docs/adapters.md, "REST errors"). @default {} */
  errors: z
    .strictObject({
      /**
       * A dotted path into the JSON body of an error answer (`error.detail`): a string found
       * there is the GraphQL error's message for a 4xx answer (production included); for a 5xx
       * answer only the log and development show it. @default the gateway's own message
       */
      message: z
        .string()
        .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'expected a dotted path such as error.detail')
        .optional(),
    })
    .default({}),
});

/**
 * A gRPC service served as a subgraph by the gRPC adapter: its schema is generated from the
 * protos (`gateway grpc print <subgraph>` shows it).
 */
export const GrpcSource = z.strictObject({
  kind: z.literal('grpc'),
  /** `host:port` of the service. */
  address: z.string().regex(/^[^\s/]+:\d+$/, 'expected host:port'),
  /** Instances of the service, `host:port` each; calls are balanced per call. @default address */
  instances: Instances,
  /** Proto files with the service, relative to an include directory. */
  protos: z.array(z.string().min(1)).min(1),
  /** Where protos and their imports are found, relative to supergraph.yaml. @default [./protos] */
  include_dirs: z.array(z.string().min(1)).default(['./protos']),
  /** Deadline of one call. @default 10s */
  timeout: Duration.default(10_000),
  /**
   * `query` or `mutation` per method name, where the default (Get*, List*, Batch*, Search* and
   * server-streaming methods are queries, the others mutations) does not fit. @default {}
   */
  methods: z.record(z.string(), z.enum(['query', 'mutation'])).default({}),
  /** How many messages a server-streaming field collects at most. @default 100 */
  max_stream_messages: z.number().int().positive().default(100),
  /** Metadata sent with every call (API keys via `${ENV}`); never logged. @default {} */
  headers: z
    .record(z.string().regex(HEADER_NAME, 'expected a gRPC metadata key'), z.string())
    .default({}),
  /** Client request headers passed on to the service as metadata, by name. @default [] */
  forward_headers: HeaderNames,
  /**
   * TLS to the backend: `true` trusts the system's roots; an object names PEM files (relative to
   * supergraph.yaml) for a private CA and, for mutual TLS, a client certificate and key.
   * @default plaintext
   */
  tls: GrpcTls.optional(),
});

/**
 * A BFF subgraph (docs/clients.md, "Aggregation"): its SDL from `schema`, its resolvers in a
 * TypeScript or JavaScript module that runs in-process, with a helper that runs operations
 * against the federated graph as the caller and calls the REST backends the config names.
 */
export const BffSource = z.strictObject({
  kind: z.literal('bff'),
  /**
   * The resolvers module, relative to supergraph.yaml: it exports `resolvers` (a resolver map
   * of the SDL's types). Watched: an edited module is imported again at the next reload.
   */
  resolvers: z.string().min(1),
  /**
   * Subgraphs with a REST source whose backend the resolvers may call directly
   * (`bff.rest(name, ...)`), through the outbound chain with that source's base URL, timeout
   * and headers; no other backend can be called. @default []
   */
  rest: z.array(z.string().min(1)).default([]),
});

/**
 * Load shedding: a cap on work in flight and a bounded FIFO queue in front of it, waited in for
 * at most `queue_timeout` (docs/traffic.md, "Load shedding"). Past the queue, or its wait, the
 * work is refused at once.
 */
function gateLimits(defaults: {
  max_in_flight: number;
  max_queued: number;
  queue_timeout: number;
}) {
  return z.strictObject({
    /** Admitted at once; more wait in the queue. */
    max_in_flight: z.number().int().positive().default(defaults.max_in_flight),
    /** Waiting for a slot, oldest first; more are refused at once. 0: no queue. */
    max_queued: z.number().int().nonnegative().default(defaults.max_queued),
    /** How long one waits for a slot before it is refused; 0: never waits. */
    queue_timeout: Duration.default(defaults.queue_timeout),
  });
}

/**
 * The gateway-wide cap over every surface (GraphQL, REST routes, transcoded methods, the gRPC
 * port): the `shedLoad` stage. Past it a request gets 503 `SERVER_OVERLOADED` (gRPC
 * `UNAVAILABLE`) with `Retry-After`. Health, readiness, metrics and the JWKS are never shed.
 * Defaults sized for one Node process on about two cores: a federated request spends ~1 ms of
 * CPU and most of its life waiting on backends, so 1024 in flight keeps the CPU busy at a few
 * thousand requests a second with ~100 ms backends while bounding memory (tens of KiB each);
 * the queue absorbs a burst of half as many again for at most a second, after which a client
 * does better retrying (elsewhere) than waiting.
 */
export const InboundTrafficConfig = gateLimits({
  max_in_flight: 1024,
  max_queued: 512,
  queue_timeout: 1_000,
});

/**
 * The cap on calls in flight to each backend (a subgraph, REST or gRPC source, route backend,
 * transcoded service or gRPC-port service), counting every attempt: the `limitConcurrency`
 * interceptor. Past it the call fails at once with `UPSTREAM_OVERLOADED`: its GraphQL fields
 * are null with the error, the rest is served. 128 in flight is the gateway's connection pool
 * per origin (server/app.ts): an admitted HTTP call gets a connection at once, and the excess
 * waits in this bounded, timed queue rather than in the pool's unbounded one.
 */
export const BackendTrafficConfig = gateLimits({
  max_in_flight: 128,
  max_queued: 256,
  queue_timeout: 1_000,
});

/**
 * How calls pick an instance of a backend with several (docs/traffic.md, "Balancing"):
 * `round_robin` takes them in turn; `least_loaded` takes the one with fewer calls in flight of
 * two picked at random (the power of two choices: near the best choice without every call
 * scanning every instance, and no herd on the one that just finished).
 */
export const BalancePolicy = z.enum(['round_robin', 'least_loaded']);

/**
 * Active health checks of every instance (Envoy's): an HTTP backend's instances get `GET path`
 * (any 2xx passes), a gRPC backend's the grpc.health.v1 `Check` of `service` (SERVING passes).
 * An instance is presumed healthy until `unhealthy_threshold` checks in a row fail, and is
 * healthy again after `healthy_threshold` pass. No calls go to an unhealthy instance while
 * another will do. @default no active checks
 */
export const HealthCheckConfig = z.strictObject({
  /** The path an HTTP backend's instances are checked at. @default /health */
  path: z
    .string()
    .regex(/^\/[^\s#]*$/, 'expected a path starting with /')
    .default('/health'),
  /** The grpc.health.v1 service name a gRPC backend is checked for; "" is the whole server. @default "" */
  service: z.string().default(''),
  /** Between two checks of one instance (jittered by a tenth). @default 5s */
  interval: Duration.refine((ms) => ms > 0, 'must be above 0').default(5_000),
  /** A check slower than this fails. @default 1s */
  timeout: Duration.refine((ms) => ms > 0, 'must be above 0').default(1_000),
  /** Passes in a row that make an unhealthy instance healthy. @default 2 */
  healthy_threshold: z.number().int().positive().default(2),
  /** Failures in a row that make a healthy instance unhealthy. @default 3 */
  unhealthy_threshold: z.number().int().positive().default(3),
});

/** The error-rate rule of outlier detection: a share of failures over a minimum of calls. */
export const FailureRateConfig = z.strictObject({
  /** Failed share, in percent, at or above which an instance is ejected; 0 turns the rule off. @default 50 */
  threshold: z.number().min(0).max(100).default(50),
  /** Calls within `interval` before the share is judged at all. @default 20 */
  minimum_calls: z.number().int().positive().default(20),
  /** The window the calls are counted in. @default 10s */
  interval: Duration.refine((ms) => ms > 0, 'must be above 0').default(10_000),
});

/**
 * Passive outlier detection (Envoy's semantics, docs/traffic.md "Outlier detection"): an
 * instance whose calls fail (unreachable, a 5xx or its gRPC equivalent, too slow on its own
 * bound, an unusable answer; a 4xx is an answer) is ejected after `consecutive_failures` in a
 * row or when the failure-rate rule trips, for `base_ejection_time` times the number of times
 * it has been ejected (up to `max_ejection_time`), then re-admitted; a passing active health
 * check re-admits it sooner. Never more than `max_ejection_percent` of a backend's instances are
 * out at once: at the default 50%, one of two; a backend's only instance only at 100, when its
 * calls then fail at once with `UPSTREAM_CIRCUIT_OPEN` (a circuit breaker) until re-admitted.
 */
export const OutlierDetectionConfig = z.strictObject({
  /** Eject failing instances. @default true */
  enabled: z.boolean().default(true),
  /** Failed calls in a row that eject an instance. @default 5 */
  consecutive_failures: z.number().int().positive().default(5),
  /** Ejection by failure rate. @default 50% of at least 20 calls in 10s */
  failure_rate: FailureRateConfig.default(FailureRateConfig.parse({})),
  /** The first ejection's length; the n-th lasts n times as long. @default 10s */
  base_ejection_time: Duration.refine((ms) => ms > 0, 'must be above 0').default(10_000),
  /** The longest an ejection lasts. @default 300s */
  max_ejection_time: Duration.refine((ms) => ms > 0, 'must be above 0').default(300_000),
  /**
   * The largest share of a backend's instances out at once, in percent; 100 lets a backend's only
   * instance be ejected (a circuit breaker). @default 50
   */
  max_ejection_percent: z.number().min(0).max(100).default(50),
});

/**
 * Retries of idempotent calls (a query's subgraph fetches, REST GET and HEAD, gRPC methods that
 * are queries or whose proto says `idempotency_level`) that failed before the backend could act
 * on them or said it could not: a refused or reset connection, 502, 503, 504, gRPC UNAVAILABLE.
 * Each goes to another instance where there is one, after an exponential backoff with full
 * jitter, within what is left of the request's budget; mutations and writes are never retried.
 * A retry budget (Envoy's) bounds them: retries in flight to a backend stay under `budget_percent`
 * of its calls in flight, or `min_retry_concurrency`, whichever is more, so retries cannot
 * multiply an outage.
 */
export const RetryConfig = z.strictObject({
  /** Retry idempotent calls. @default true */
  enabled: z.boolean().default(true),
  /** Retries of one call at most. @default 2 */
  max_retries: z.number().int().nonnegative().default(2),
  /** The first retry's backoff ceiling; each next one doubles it (full jitter). @default 25ms */
  base_backoff: Duration.default(25),
  /** The largest backoff ceiling. @default 250ms */
  max_backoff: Duration.default(250),
  /** Retries in flight as a percentage of the backend's calls in flight. @default 20 */
  budget_percent: z.number().min(0).max(100).default(20),
  /** Retries in flight always allowed, whatever the percentage. @default 3 */
  min_retry_concurrency: z.number().int().nonnegative().default(3),
});

/**
 * Resolution of backend host names by the gateway itself: every name of a backend's instances
 * is resolved to all its addresses, each an instance of its own, and resolved again every
 * `refresh` (Envoy's strict DNS). Without it a name is connected to as is (the system resolver
 * at connect time, one address per connection). @default off
 */
export const DnsConfig = z.strictObject({
  /** How often names are resolved again. @default 30s */
  refresh: Duration.refine((ms) => ms >= 1_000, 'must be at least 1s').default(30_000),
});

/**
 * One backend's own traffic settings (a subgraph's, a route's, a transcoded service's, a
 * gRPC-port service's), over the top-level `traffic` ones: caps (each key left out keeps
 * `traffic.backends`' value), and balancing, health checks, outlier detection, retries and DNS
 * resolution (each given object replaces the top-level one whole).
 */
export const SubgraphTrafficConfig = z.strictObject({
  /** @default traffic.backends.max_in_flight */
  max_in_flight: z.number().int().positive().optional(),
  /** @default traffic.backends.max_queued */
  max_queued: z.number().int().nonnegative().optional(),
  /** @default traffic.backends.queue_timeout */
  queue_timeout: Duration.optional(),
  /** @default traffic.balance */
  balance: BalancePolicy.optional(),
  /** `false` turns the top-level checks off for this subgraph. @default traffic.health_check */
  health_check: z.union([HealthCheckConfig, z.literal(false)]).optional(),
  /** @default traffic.outlier_detection */
  outlier_detection: OutlierDetectionConfig.optional(),
  /** @default traffic.retries */
  retries: RetryConfig.optional(),
  /** `false` turns the top-level resolution off for this subgraph. @default traffic.dns */
  dns: z.union([DnsConfig, z.literal(false)]).optional(),
});

/**
 * In-flight deduplication (docs/traffic.md): identical read-only backend calls in flight at the
 * same time (same backend, method, URL, body and every header the backend sees, identity
 * included) make one call, and each caller gets its own copy of the answer. Only a query's
 * subgraph fetches and REST GET/HEAD calls qualify; mutations never do.
 */
export const DedupConfig = z.strictObject({
  /** Deduplicate every subgraph's read-only calls; `subgraphs.<name>.dedup` overrides. @default true */
  enabled: z.boolean().default(true),
});

/** How the gateway treats traffic: its own admission and each backend's (docs/traffic.md). */
export const TrafficConfig = z.strictObject({
  /** In-flight deduplication of identical read-only calls. @default { enabled: true } */
  dedup: DedupConfig.default(DedupConfig.parse({})),
  /** The gateway's admission cap. @default 1024 in flight, 512 queued, 1s queue timeout */
  inbound: InboundTrafficConfig.default(InboundTrafficConfig.parse({})),
  /** Every backend's cap, unless a subgraph sets its own. @default 128 in flight, 256 queued, 1s */
  backends: BackendTrafficConfig.default(BackendTrafficConfig.parse({})),
  /** How a backend's instances share its calls. @default round_robin */
  balance: BalancePolicy.default('round_robin'),
  /** Active health checks of every backend's instances. @default none */
  health_check: HealthCheckConfig.optional(),
  /** Passive outlier detection. @default on: 5 failures in a row or 50% of 20 calls in 10s */
  outlier_detection: OutlierDetectionConfig.default(OutlierDetectionConfig.parse({})),
  /** Retries of idempotent calls. @default on: 2 retries, 25ms..250ms backoff, 20% budget */
  retries: RetryConfig.default(RetryConfig.parse({})),
  /** The gateway's own resolution of backend names to all their addresses. @default off */
  dns: DnsConfig.optional(),
});

export const SubgraphConfig = z
  .strictObject({
    /**
     * Where the gateway sends this subgraph's fetches. Defaults to `schema.subgraph_url`; an
     * adapter subgraph (`source`) runs in-process and needs one only for other routers.
     */
    routing_url: HttpUrl.optional(),
    /**
     * Instances of the subgraph, `host:port` each, served at routing_url's scheme and path
     * (docs/traffic.md). An adapter subgraph takes them under `source` instead. @default
     * routing_url's host
     */
    instances: Instances,
    /** The subgraph's SDL (rover's key). Optional only for a REST source with `openapi`. */
    schema: SubgraphSchemaSource.optional(),
    /**
     * Upper bound for one fetch to this subgraph, from sending the request to the last byte of
     * the response. @default 30s
     */
    timeout: Duration.default(30_000),
    /**
     * Headers sent with every fetch to this subgraph (static values, `${ENV}`); never logged.
     * An adapter subgraph takes them under `source` instead. @default {}
     */
    headers: z
      .record(z.string().regex(HEADER_NAME, 'expected an HTTP header name'), z.string())
      .default({}),
    /**
     * Client request headers passed on to this subgraph, by name; no other client header
     * reaches it. An adapter subgraph takes them under `source` instead. @default []
     */
    forward_headers: HeaderNames,
    /**
     * In-flight deduplication of this subgraph's identical read-only calls (a native
     * subgraph's query fetches, a REST source's GET and HEAD calls), overriding
     * `traffic.dedup.enabled` for it (docs/traffic.md). @default traffic.dedup.enabled
     */
    dedup: z.boolean().optional(),
    /**
     * This subgraph's own load-shedding caps (its fetches, or its adapter's calls), over
     * `traffic.backends`. @default traffic.backends
     */
    traffic: SubgraphTrafficConfig.optional(),
    /** A non-GraphQL backend served through an adapter in-process, or a BFF subgraph. */
    source: z.discriminatedUnion('kind', [RestSource, GrpcSource, BffSource]).optional(),
    /**
     * TLS to an `https` routing_url: a private CA, mutual TLS. An adapter subgraph takes it
     * under `source` instead. @default the system's roots
     */
    tls: BackendTls.optional(),
  })
  .superRefine((subgraph, ctx) => {
    const generated =
      subgraph.source?.kind === 'grpc' ||
      (subgraph.source?.kind === 'rest' && subgraph.source.openapi !== undefined);
    const openapi = subgraph.source?.kind === 'rest' && subgraph.source.openapi !== undefined;
    if (subgraph.schema === undefined && !generated) {
      ctx.addIssue({ code: 'custom', path: ['schema'], message: 'required' });
    }
    if (subgraph.schema !== undefined && openapi) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'openapi'],
        message: 'give either schema or source.openapi: the SDL comes from one of them',
      });
    }
    if (
      subgraph.source?.kind === 'grpc' &&
      subgraph.schema?.file === undefined &&
      subgraph.schema !== undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['schema'],
        message: 'a gRPC subgraph takes an overlay SDL from schema.file, or no schema',
      });
    }
    if (
      subgraph.routing_url === undefined &&
      subgraph.schema?.subgraph_url === undefined &&
      subgraph.source === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['routing_url'],
        message: 'required (or give schema.subgraph_url to route to it, or a source)',
      });
    }
    if (subgraph.source !== undefined) {
      for (const key of ['headers', 'forward_headers'] as const) {
        if (Object.keys(subgraph[key]).length > 0)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message:
              subgraph.source.kind === 'bff'
                ? 'a BFF subgraph runs in-process and fetches nothing itself'
                : `an adapter subgraph calls its backend itself: give source.${key} instead`,
          });
      }
    }
    if (subgraph.source !== undefined && subgraph.instances !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['instances'],
        message:
          subgraph.source.kind === 'bff'
            ? 'a BFF subgraph runs in-process and fetches nothing itself'
            : 'an adapter subgraph calls its backend itself: give source.instances instead',
      });
    }
    if (subgraph.source !== undefined && subgraph.schema?.subgraph_url !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['schema', 'subgraph_url'],
        message: 'an adapter subgraph reads its SDL from schema.file or schema.sdl',
      });
    }
  });

const SUBGRAPH_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * The automatic persisted query cache: a bounded store of this process, and optionally Redis
 * behind it so every instance serves what a client registered through any of them. Read at
 * start (docs/clients.md, "APQ stores").
 */
export const ApqCacheConfig = z.strictObject({
  /**
   * The most bytes of document text this process keeps; past it the least recently used
   * documents are evicted (clients register them again). Apollo Server's default cache is
   * unbounded in count but shares 30 MiB with its other caches; this one is APQ's alone. With
   * `store: redis` it is the local cache in front of Redis. @default 30mib
   */
  max_size: ByteSize.default(31_457_280),
  /**
   * `memory`: this process only; `redis`: shared by every instance through `redis` (needs
   * `redis.url`, `redis.sentinel` or `redis.cluster`), with this process's cache in front. @default memory
   */
  store: z.enum(['memory', 'redis']).default('memory'),
  /**
   * How long a document stays in Redis after it is registered, so the shared store stays
   * bounded by what clients used recently. Redis's own `maxmemory` policy is the operator's hard
   * bound. @default 24h
   */
  ttl: Duration.refine((ms) => ms > 0, 'must be above 0: Redis keeps no key for 0 ms').default(
    86_400_000,
  ),
});

/**
 * Batched operations on the GraphQL endpoint: a JSON array of operations in one POST body, as
 * Apollo Client's `BatchHttpLink` sends them (Apollo Router's `batching`, whose one mode is
 * `batch_http_link`). Each operation runs on its own: its own limits, cost, authorization and
 * charges, as if it had come alone (docs/http.md#batches).
 */
export const BatchingConfig = z.strictObject({
  /** Accept batches; when off, a batch is refused with 400 `BATCHING_NOT_ENABLED`. @default false */
  enabled: z.boolean().default(false),
  /**
   * Most operations in one batch; a larger batch is refused whole, before any operation runs,
   * with 422 `BATCH_LIMIT_EXCEEDED` (the Router's `maximum_size`). 10 is `BatchHttpLink`'s own
   * `batchMax` default, so its batches always fit. @default 10
   */
  maximum_size: z.number().int().positive().default(10),
});

/** A serialized origin (scheme://host[:port]), as a browser sends it in `Origin`. */
function isSerializedOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return url.origin !== 'null' && url.origin === value;
  } catch {
    return false;
  }
}

/** Why a `match_origins` entry does not compile, or undefined when it does. */
function regexProblem(source: string): string | undefined {
  try {
    new RegExp(`^(?:${source})$`);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Cross-origin requests from browsers (docs/clients.md#cors), answered per the Fetch standard's
 * CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol), after Apollo Router's `cors`.
 * Without it an endpoint sends no CORS header at all: same-origin pages only.
 */
export const CorsConfig = z
  .strictObject({
    /**
     * Origins allowed, exactly as browsers send them (`https://app.example.com`,
     * `http://localhost:3000`: no path, no trailing slash); `*` allows any origin, without
     * credentials. @default []
     */
    origins: z
      .array(
        z.string().refine((o) => o === '*' || isSerializedOrigin(o), {
          message:
            'expected a serialized origin such as https://app.example.com (scheme://host[:port], no path or trailing slash) or *',
        }),
      )
      .default([]),
    /**
     * Regular expressions (JavaScript syntax) an allowed origin matches whole: each is anchored
     * at both ends (`https://[a-z0-9-]+\.example\.com`). @default []
     */
    match_origins: z
      .array(
        z.string().superRefine((source, ctx) => {
          const problem = regexProblem(source);
          if (problem !== undefined)
            ctx.addIssue({ code: 'custom', message: `not a regular expression: ${problem}` });
        }),
      )
      .default([]),
    /**
     * Send `Access-Control-Allow-Credentials: true`: browsers send cookies and HTTP auth, and
     * let the page read the answer. Never with `*` among the origins. @default false
     */
    allow_credentials: z.boolean().default(false),
    /**
     * Request headers a preflight allows (`Access-Control-Allow-Headers`).
     * @default the headers the preflight asks for (`Access-Control-Request-Headers`), mirrored
     */
    allow_headers: z.array(HeaderName).optional(),
    /**
     * Response headers the page may read besides the CORS-safelisted ones
     * (`Access-Control-Expose-Headers`). @default the correlation header, ratelimit, ratelimit-policy, retry-after
     */
    expose_headers: z.array(HeaderName).optional(),
    /** Methods a preflight allows (`Access-Control-Allow-Methods`). @default [GET, POST, OPTIONS] */
    methods: z
      .array(
        z
          .string()
          .regex(HEADER_NAME, 'expected an HTTP method')
          .transform((m) => m.toUpperCase()),
      )
      .default(['GET', 'POST', 'OPTIONS']),
    /**
     * How long a browser may keep a preflight's answer (`Access-Control-Max-Age`, whole
     * seconds). @default not sent: browsers keep it 5 seconds
     */
    max_age: Duration.optional(),
  })
  .superRefine((cors, ctx) => {
    // https://fetch.spec.whatwg.org/#cors-protocol-and-credentials: a credentialed answer must
    // name the origin, `*` is taken literally there.
    const wildcard = (list: readonly string[] | undefined, key: string, why: string) =>
      list?.forEach((value, index) => {
        if (value === '*') ctx.addIssue({ code: 'custom', path: [key, index], message: why });
      });
    if (cors.allow_credentials) {
      wildcard(
        cors.origins,
        'origins',
        '* cannot allow credentials (the Fetch standard refuses it): list the origins, or use match_origins',
      );
      wildcard(
        cors.expose_headers,
        'expose_headers',
        '* means a header named * with allow_credentials: list the headers',
      );
    }
    wildcard(
      cors.allow_headers,
      'allow_headers',
      'leave allow_headers out to allow the headers each preflight asks for',
    );
    wildcard(cors.methods, 'methods', 'list the methods');
  });

/**
 * TLS on a port the gateway listens on: its certificate and key, and what it asks of clients'
 * certificates. PEM files, relative to supergraph.yaml; watched, and a replaced certificate is
 * served to new connections without closing the open ones (docs/http.md, "TLS and HTTP/2").
 */
const LISTENER_TLS = {
  /** The certificate chain (PEM), leaf first. */
  cert: z.string().min(1),
  /** The private key of `cert` (PEM). */
  key: z.string().min(1),
  /** CA certificates (PEM) that client certificates are verified against. @default none */
  ca: z.string().min(1).optional(),
  /**
   * `none` asks for no client certificate; `optional` asks and verifies one when sent;
   * `required` refuses the handshake without a valid one. @default none
   */
  client_certificates: z.enum(['none', 'optional', 'required']).default('none'),
};
const caForClients: [
  (t: { ca?: string | undefined; client_certificates: string }) => boolean,
  { message: string; path: string[] },
] = [
  (t) => t.client_certificates === 'none' || t.ca !== undefined,
  { message: 'client certificates are verified against ca: name it', path: ['ca'] },
];

const ListenerTls = z.strictObject(LISTENER_TLS).refine(...caForClients);

/** TLS on the gateway's HTTP port. */
const ServerTls = z
  .strictObject({
    ...LISTENER_TLS,
    /** Offer HTTP/2 by ALPN (`h2`), with HTTP/1.1 for clients that do not speak it. @default true */
    http2: z.boolean().default(true),
  })
  .refine(...caForClients);

/**
 * The admin listener: readiness with its details, liveness and the metrics, on a port of their
 * own that only operators reach (docs/operations.md, "The admin listener"). Plain HTTP, on
 * loopback unless told otherwise, as Apollo Router's health check listener.
 */
export const AdminConfig = z.strictObject({
  /**
   * Open the admin listener. @default true in production; in development, true when
   * `server.admin` is given
   */
  enabled: z.boolean().optional(),
  /** Interface to listen on; another than loopback is logged as a warning. @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port to listen on; 0 picks a free one. @default 8088 */
  port: z.number().int().min(0).max(65_535).default(8088),
  /**
   * The bearer token the admin listener's write endpoints (`POST /cache/invalidate`) demand; a
   * secret: give it as `${ENV}`. @default none: those endpoints answer 403
   */
  token: z.string().min(16, 'expected at least 16 characters').optional(),
});

export const ServerConfig = z.strictObject({
  /** Interface to listen on. @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port to listen on; 0 picks a free one. @default 4000 */
  port: z.number().int().min(0).max(65_535).default(4000),
  /** Path of the GraphQL endpoint. @default /graphql */
  graphql_path: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'expected a path starting with /')
    .default('/graphql'),
  /**
   * `development` shows full error detail, introspection and the landing page; `production`
   * masks internal errors and turns both off unless asked. @default production
   */
  mode: z.enum(['development', 'production']).default('production'),
  /** Allow introspection queries. @default true in development, false in production */
  introspection: z.boolean().optional(),
  /**
   * Serve a page on a browser's GET of the GraphQL path: GraphiQL in development (on each
   * client's endpoint too), the plain query page in production. @default as introspection
   */
  landing_page: z.boolean().optional(),
  /**
   * Refuse GET and form-encoded requests that a browser could send cross-site without a preflight
   * (Apollo's CSRF prevention). Such clients send `content-type: application/json` or an
   * `apollo-require-preflight` header. @default true
   */
  csrf_prevention: z.boolean().default(true),
  /**
   * The budget of one request: every backend call gets at most what is left of it (gRPC
   * deadlines, REST and subgraph timeouts), so a slow backend never holds a request longer.
   * Also how long a client may take to send the whole request (headers and body): a slower one
   * is answered 408 and its connection closed. @default 30s
   */
  request_timeout: Duration.default(30_000),
  /** Largest accepted request body. @default 1mib */
  body_limit: ByteSize.default(1_048_576),
  /**
   * How far V8 lets the old generation grow past what the last full collection kept, in
   * percent, before it collects again; 0 leaves V8's own heuristics. A gateway's request is
   * almost all garbage once answered, but under load it outlives the young generation and is
   * promoted; V8 then lets the old generation reach up to four times the live heap, which is
   * peak memory and nothing else. Measured in docs/performance.md: 50 halves the peak RSS of
   * the large fan-out at the same CPU per request. Set once at start (not reloaded). @default 50
   */
  heap_growth_percent: z.number().int().min(0).max(400).default(50),
  /** How long a shutdown waits for in-flight requests before closing them. @default 10s */
  shutdown_timeout: Duration.default(10_000),
  /**
   * How long a shutdown keeps accepting new requests, with /readyz answering 503, before it
   * stops listening: the time a load balancer (or Kubernetes endpoints) needs to notice and stop
   * sending traffic, so no client meets a refused connection. @default 0s
   */
  shutdown_delay: Duration.default(0),
  /**
   * How long an idle client connection is kept open. Behind a load balancer, set it above the
   * balancer's idle timeout so the balancer never reuses a connection the gateway just closed.
   * @default 5s
   */
  keep_alive_timeout: Duration.default(5_000),
  /**
   * How long a client may take to send a request's headers, from its first byte (or from the
   * end of the previous request on a kept-alive connection): a client that trickles them
   * (slowloris) is answered 408 and its connection closed, so it cannot hold a socket and a
   * parser for long. As Apollo Router's `server.http.header_read_timeout`. Bounded by
   * `request_timeout`. @default 10s
   */
  headers_timeout: Duration.default(10_000),
  /**
   * The header a client's correlation id arrives in and that carries it to backends and back.
   * @default x-correlation-id
   */
  correlation_header: z
    .string()
    .regex(HEADER_NAME, 'expected an HTTP header name')
    .transform((h) => h.toLowerCase())
    .default('x-correlation-id'),
  /** Reload when supergraph.yaml or a schema file it names changes. @default true */
  hot_reload: z.boolean().default(true),
  /**
   * Proxies in front of the gateway (IP addresses and CIDR ranges) whose `X-Forwarded-For`
   * entries are believed: a request's client address is the nearest one in that header no
   * trusted proxy owns. Empty: the header is never read and the peer is the client (docs/http.md,
   * "Client address"). @default []
   */
  trusted_proxies: z.array(IpRange).default([]),
  /** Batched operations (JSON array bodies). @default refused */
  batching: BatchingConfig.default(BatchingConfig.parse({})),
  /** Where automatic persisted queries are kept (docs/clients.md, "APQ stores"). Read at start. */
  apq_cache: ApqCacheConfig.default(ApqCacheConfig.parse({})),
  /** HTTPS on the port, with HTTP/2 by ALPN (docs/http.md, "TLS and HTTP/2"). @default plaintext */
  tls: ServerTls.optional(),
  /**
   * Without `tls`, also serve cleartext HTTP/2 to clients that start with it (prior knowledge,
   * as a TLS-terminating load balancer does); HTTP/1.1 is still served. @default false
   */
  h2c: z.boolean().default(false),
  /**
   * Where `/readyz` with its details and the metrics are served, apart from the public port,
   * which keeps `/healthz` and a plain `/readyz`. @default 127.0.0.1:8088 in production, none
   * in development
   */
  admin: AdminConfig.optional(),
});

/**
 * The admin listener the settings ask for, or none: then `/readyz` with its details and the
 * metrics stay on the public port (development mode, or `enabled: false`).
 */
export function adminListener(
  server: Pick<ServerConfig, 'mode' | 'admin'>,
): { host: string; port: number } | undefined {
  const { admin, mode } = server;
  if (!(admin?.enabled ?? (admin !== undefined || mode === 'production'))) return undefined;
  const { host, port } = admin ?? ADMIN_DEFAULTS;
  return { host, port };
}

const ADMIN_DEFAULTS = AdminConfig.parse({});

/**
 * The settings with the admin listener moved to `port` (the CLI's `--admin-port`; tests' port
 * 0). It moves a listener the settings open and never opens one: in development the public port
 * keeps serving everything.
 */
export function withAdminPort(server: ServerConfig, port: number): ServerConfig {
  if (!adminListener(server)) return server;
  return { ...server, admin: { ...(server.admin ?? ADMIN_DEFAULTS), port } };
}

export const LogConfig = z.strictObject({
  /** pino level; the `LOG_LEVEL` environment variable overrides it. @default info */
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * `json` lines, or `pretty` human-readable lines. @default pretty in development on a terminal,
   * json otherwise
   */
  format: z.enum(['json', 'pretty']).optional(),
  /** One line per request (who, what, how long, which backends, what failed). @default true */
  requests: z.boolean().default(true),
  /**
   * More fields to censor wherever they appear in a logged object, as pino paths
   * (`*.ssn`, `user.email`); authorization, cookies, API keys and tokens always are. @default []
   */
  redact: z.array(z.string().min(1)).default([]),
});

/** Prometheus metrics at `/metrics`, on the admin listener when there is one (`server.admin`). */
export const MetricsConfig = z.strictObject({
  /** Serve `/metrics` and count. @default true */
  enabled: z.boolean().default(true),
  /** Path of the metrics endpoint. @default /metrics */
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'expected a path starting with /')
    .default('/metrics'),
  /** Distinct operation names kept as label values; later ones count as `(other)`. @default 200 */
  max_operations: z.number().int().positive().default(200),
  /** Distinct client names kept as label values; later ones count as `(other)`. @default 50 */
  max_clients: z.number().int().positive().default(50),
  /** Process and Node.js metrics (CPU, memory, event loop lag, GC). @default true */
  process: z.boolean().default(true),
});

/** OpenTelemetry traces, exported over OTLP/HTTP. */
export const TracingConfig = z
  .strictObject({
    /** Record and export spans. @default false */
    enabled: z.boolean().default(false),
    /**
     * `otlp` exports over OTLP/HTTP to `endpoint`; `none` records spans without sending them
     * (trace ids in logs and propagation only). @default otlp
     */
    exporter: z.enum(['otlp', 'none']).default('otlp'),
    /** The OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`). */
    endpoint: HttpUrl.optional(),
    /** Headers sent with every export (an API key via `${ENV}`); never logged. @default {} */
    headers: z.record(z.string(), z.string()).default({}),
    /** `service.name` of the spans. @default gateway */
    service_name: z.string().min(1).default('gateway'),
    /** Share of new traces recorded; a client's sampled flag is followed. @default 1 */
    sample_ratio: z.number().min(0).max(1).default(1),
  })
  .refine((t) => !t.enabled || t.exporter === 'none' || t.endpoint !== undefined, {
    message: 'endpoint is required to export over OTLP',
    path: ['endpoint'],
  });

/**
 * What one HTTP request may carry before anything reads it (docs/http.md, "Limits"). Each
 * default is on and sits where browsers and common clients never reach, while an abusive request
 * is refused at a few KiB: nginx allows 8 KiB per header line and Node's parser 16 KiB of headers
 * by default; a URL over 8 KiB is beyond what browsers, proxies and CDNs pass on reliably.
 */
export const HttpLimitsConfig = z.strictObject({
  /**
   * Most request headers, counted as sent (a repeated header counts each time); more is 431.
   * 100 is Apollo Router's `http1_max_request_headers` default. @default 100
   */
  max_headers: z.number().int().positive().default(100),
  /**
   * Largest total size of the request headers (names, values, `: ` and line ends; the request
   * line is `max_url_length`'s); more is 431. @default 16kib
   */
  max_header_size: ByteSize.default(16_384),
  /** Longest request target (path and query string); longer is 414. @default 8kib */
  max_url_length: ByteSize.default(8_192),
});

/**
 * Operation limits (docs/limits.md): an operation over any is refused with HTTP 400 before its
 * cost is weighed or a backend is called. Counted as Apollo Router counts them; reloads apply.
 */
export const OperationLimitsConfig = z.strictObject({
  /** Deepest nesting of fields (a fragment adds no level). @default 100 */
  max_depth: z.number().int().positive().default(100),
  /**
   * Fields of the operation, fragments counted at every spread. The standard introspection
   * query (graphql-js `getIntrospectionQuery`) has 220. @default 400
   */
  max_height: z.number().int().positive().default(400),
  /** Fields of the operation's own selection set, fragments spread there included. @default 20 */
  max_root_fields: z.number().int().positive().default(20),
  /** Aliased fields, fragments counted at every spread. @default 30 */
  max_aliases: z.number().int().nonnegative().default(30),
  /** Directive applications in the operation, fragments counted at every spread. @default 50 */
  max_directives: z.number().int().nonnegative().default(50),
  /**
   * Lexical tokens of the document: the parser stops past this many, so a huge document is
   * refused before it is parsed into memory (Apollo Router's `parser_max_tokens` default).
   * @default 15000
   */
  max_tokens: z.number().int().positive().default(15_000),
});

/**
 * A rate policy's name: it names the budget in the `RateLimit-Policy` and `RateLimit` headers (an
 * sf-string there, so this keeps to characters that need no escaping), in errors, logs and the
 * `policy` label of `gateway_rate_limited_total`.
 */
const RATE_POLICY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** One budget every identity gets: at most `limit` units in any `window`-long span. */
export const RatePolicyConfig = z.strictObject({
  /** Letters, digits, `_`, `.` and `-`, starting with a letter; unique among the policies. */
  name: z
    .string()
    .regex(
      RATE_POLICY_NAME,
      'expected a name of up to 64 letters, digits, _, . and -, starting with a letter',
    ),
  /**
   * What a request spends: `requests` (1 each) or `cost` (a GraphQL operation's estimated cost;
   * a REST or gRPC request, which has no estimate, spends 1). @default requests
   */
  unit: z.enum(['requests', 'cost']).default('requests'),
  /** Units each identity may spend per window. */
  limit: z.number().int().positive(),
  /**
   * The window: whole seconds, at least 1s (the RateLimit headers state windows in seconds).
   */
  window: Duration.refine((ms) => ms >= 1_000 && ms % 1_000 === 0, {
    message: 'expected a whole number of seconds (1s or more): RateLimit headers count seconds',
  }),
  /** Surfaces the policy applies to (`graphql`, `rest`, `grpc`). @default every surface */
  surfaces: z
    .array(z.enum(['graphql', 'rest', 'grpc']))
    .min(1)
    .optional(),
  /**
   * Limits by API key plan (`auth.api_keys.keys[].plan`): a caller whose key has a plan listed
   * here gets its limit instead of `limit`. @default {}
   */
  plans: z.record(z.string(), z.number().int().positive()).default({}),
});

/** Rate policies, their names unique: a name identifies a budget. */
const RatePolicyList = z.array(RatePolicyConfig).superRefine((policies, ctx) => {
  const seen = new Set<string>();
  policies.forEach((policy, index) => {
    if (seen.has(policy.name))
      ctx.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `"${policy.name}" names another policy too: names identify budgets`,
      });
    seen.add(policy.name);
  });
});

/** Rate limits and quotas per identity (docs/limits.md, "Rate limits"); reloads apply. */
export const RateLimitsConfig = z.strictObject({
  /** The budgets, all charged together by each request they apply to. @default [] (off) */
  policies: RatePolicyList.default([]),
});

/**
 * Where rate budgets are kept (docs/limits.md, "Stores"). Read at start: budgets live in the
 * store, and a reload must not empty them.
 */
export const LimitStoreConfig = z.strictObject({
  /**
   * `memory`: in this process (each instance counts alone); `redis`: shared by every instance
   * through `redis`, exact across them. @default memory
   */
  kind: z.enum(['memory', 'redis']).default('memory'),
  /**
   * What decides while Redis does not answer: `local` a limiter in this process (N instances
   * admit at most N times the limit), `allow` admits everything, `refuse` answers 503
   * `RATE_LIMIT_UNAVAILABLE`. @default local
   */
  on_unavailable: z.enum(['local', 'allow', 'refuse']).default('local'),
});

/**
 * A master found through Redis Sentinel (docs/configuration.md, "redis"): the sentinels are
 * asked which server is the master of `master`, at start and again after every lost connection,
 * so a failover moves the gateway to the promoted replica. Everything the connection needs is
 * here rather than split with `redis.url`, whose host would mean nothing.
 */
export const RedisSentinelConfig = z.strictObject({
  /** The master's name as the sentinels monitor it (`sentinel monitor <name> ...`). */
  master: z.string().min(1),
  /** The sentinels, `host:port` each; any one answering is enough, more survive losing some. */
  nodes: z.array(z.string().regex(/^[^\s/]+:\d+$/, 'expected host:port')).min(1),
  /** The ACL user on the master and its replicas. @default none: the default user */
  username: z.string().min(1).optional(),
  /** The password of the master and its replicas (`requirepass`); give it as `${ENV}`. Never logged. @default none */
  password: z.string().min(1).optional(),
  /** The ACL user on the sentinels. @default none: the default user */
  sentinel_username: z.string().min(1).optional(),
  /** The sentinels' own password (their `requirepass`); give it as `${ENV}`. Never logged. @default none */
  sentinel_password: z.string().min(1).optional(),
  /** The logical database on the master. @default 0 */
  db: z.number().int().nonnegative().default(0),
  /** TLS to the sentinels and the master both, trusting the system's roots. @default false */
  tls: z.boolean().default(false),
});

/**
 * A Redis Cluster (docs/configuration.md, "redis"): the client reads the slot map from any of
 * `nodes` and sends each command to the master of its key's slot, following the map as it
 * changes (resharding, a replica promoted). Every store's multi-key command stays within one
 * slot (hash tags), so the gateway works on any number of shards.
 */
export const RedisClusterConfig = z.strictObject({
  /**
   * Nodes to read the slot map from, `host:port` each: a managed service's configuration
   * endpoint, or a few of the cluster's nodes; the others are found from the map.
   */
  nodes: z.array(z.string().regex(/^[^\s/]+:\d+$/, 'expected host:port')).min(1),
  /** The ACL user on every node. @default none: the default user */
  username: z.string().min(1).optional(),
  /** The nodes' password (`requirepass`); give it as `${ENV}`. Never logged. @default none */
  password: z.string().min(1).optional(),
  /** TLS to every node, trusting the system's roots. @default false */
  tls: z.boolean().default(false),
});

/**
 * The Redis server the gateway shares state through (rate budgets, automatic persisted queries,
 * the response and entity cache), over one connection per process: at `url`, the master
 * `sentinel` names, or the `cluster`. Read at start.
 */
export const RedisConfig = z
  .strictObject({
    /**
     * `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS; a password belongs in
     * `${ENV}`. Never logged with its credentials. Not with `sentinel` or `cluster`. @default none: Redis is not used
     */
    url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).optional(),
    /** The master through Redis Sentinel, instead of `url`. @default none */
    sentinel: RedisSentinelConfig.optional(),
    /** A Redis Cluster, instead of `url`. @default none */
    cluster: RedisClusterConfig.optional(),
    /** Prepended to every key the gateway writes, so several gateways share one server. @default gateway: */
    key_prefix: z.string().default('gateway:'),
    /** How long one connection attempt may take before it counts as failed. @default 1s */
    connect_timeout: Duration.default(1_000),
    /**
     * How long one command may take; past it the caller falls back (`limits.store.on_unavailable`;
     * APQ: this process's cache) rather than hold the request. @default 100ms
     */
    command_timeout: Duration.default(100),
  })
  .superRefine((redis, ctx) => {
    // One server, found one way: with two, which one the stores use would be a guess.
    const given = (['url', 'sentinel', 'cluster'] as const).filter((k) => redis[k] !== undefined);
    if (given.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: [given[1]!],
        message: `give one of redis.url, redis.sentinel, redis.cluster, not ${given.map((k) => `redis.${k}`).join(' and ')}`,
      });
    // Redis Cluster hashes only what is between the first `{` and the next `}`: a brace in the
    // prefix would make it the hash tag of every key (all state on one shard), or `{}` would
    // give no key one (the limit script's keys in different slots).
    if (redis.cluster !== undefined && /[{}]/.test(redis.key_prefix))
      ctx.addIssue({
        code: 'custom',
        path: ['key_prefix'],
        message: 'must hold no { or } with redis.cluster: the gateway sets the hash tags itself',
      });
  });

/** A cache hint given in the config, for a type or a field (docs/caching.md, "Hints"). */
const CacheHintConfig = z.strictObject({
  /** Seconds the data is fresh for, as `Cache-Control: max-age`. @default none: the field or type sets none */
  max_age: z.number().int().nonnegative().optional(),
  /** `PRIVATE`: cached only per verified identity, never served to another caller. @default PUBLIC */
  scope: z.enum(['PUBLIC', 'PRIVATE']).optional(),
  /** Fields only: take the parent's max-age instead of the default. @default false */
  inherit_max_age: z.boolean().optional(),
  /** Seconds past max-age an entry may be served while one request refreshes it. @default 0 */
  stale_while_revalidate: z.number().int().nonnegative().optional(),
  /** Names the admin endpoint can invalidate this data by (`tag:<name>`). @default [] */
  tags: z.array(z.string().min(1)).optional(),
});

/** What a mutation invalidates when it succeeds (docs/caching.md, "Invalidation"). */
const CacheInvalidationRule = z.strictObject({
  /**
   * The entities in the mutation field's result, by their keys (a result without the key
   * invalidates the whole type). @default true
   */
  entities: z.boolean().default(true),
  /** Whole entity types to invalidate. @default [] */
  types: z.array(z.string().min(1)).default([]),
  /** Declared tags to invalidate. @default [] */
  tags: z.array(z.string().min(1)).default([]),
});

const SCHEMA_COORDINATE = /^[_A-Za-z][_0-9A-Za-z]*\.[_A-Za-z][_0-9A-Za-z]*$/;
const TYPE_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/**
 * The response cache and the entity cache (docs/caching.md): what may be cached is decided by
 * cache hints (`@cacheControl` in subgraph SDL, backends' `Cache-Control`, the hints below);
 * where entries are kept by `store`. Off unless enabled. The store is opened at start; the rest
 * reloads.
 */
export const CacheConfig = z.strictObject({
  /** Cache at all: the response and entity caches below, each with its own switch. @default false */
  enabled: z.boolean().default(false),
  /**
   * `memory`: this process only, bounded by `max_size`; `redis`: shared by every instance
   * through `redis` (needs `redis.url`, `redis.sentinel` or `redis.cluster`). Read at start. @default memory
   */
  store: z.enum(['memory', 'redis']).default('memory'),
  /** The bytes the memory store may hold (keys, values and tags); past it, least recently used first. @default 64mib */
  max_size: ByteSize.default(67_108_864),
  /** Redis: values larger than this are compressed. @default 1kib */
  compress_above: ByteSize.default(1_024),
  /**
   * How long a request that missed holds the fill lock (Redis: across instances) while the
   * others missing the same key wait for its entry; past it they fetch themselves. @default 2s
   */
  lock_timeout: Duration.default(2_000),
  /**
   * max-age of root fields and of fields returning objects that no hint covers, as Apollo
   * Server's `defaultMaxAge`: 0 caches only what hints allow. @default 0
   */
  default_max_age: z.number().int().nonnegative().default(0),
  /**
   * Subgraphs and REST sources whose `Cache-Control` answers are ignored: the hints alone decide
   * for their data. For backends that answer without regard to caching (an Apollo Server
   * subgraph with no `@cacheControl` says `no-store` to everything) when the config's hints are
   * the operator's word. @default [] (every answer narrows)
   */
  ignore_cache_control: z.array(z.string().min(1)).default([]),
  response: z
    .strictObject({
      /** Cache whole query responses (needs `cache.enabled`). @default true */
      enabled: z.boolean().default(true),
      /**
       * Let a client's `Cache-Control: no-cache` skip the lookup (the answer is fetched and
       * stored again). Off by default: a flood of such requests would reach every backend.
       * @default false
       */
      client_no_cache: z.boolean().default(false),
    })
    .default({ enabled: true, client_no_cache: false }),
  entities: z
    .strictObject({
      /** Cache subgraph fetches: each entity of an `_entities` fetch, and root-field fetches. @default true */
      enabled: z.boolean().default(true),
      /** Subgraphs whose fetches are never cached. @default [] */
      skip_subgraphs: z.array(z.string()).default([]),
    })
    .default({ enabled: true, skip_subgraphs: [] }),
  hints: z
    .strictObject({
      /** Hints by type name, over the SDL's. @default {} */
      types: z
        .record(z.string().regex(TYPE_NAME, 'expected a type name'), CacheHintConfig)
        .default({}),
      /** Hints by field (`Type.field`), over the SDL's. @default {} */
      fields: z
        .record(z.string().regex(SCHEMA_COORDINATE, 'expected Type.field'), CacheHintConfig)
        .default({}),
    })
    .default({ types: {}, fields: {} }),
  /** What each mutation field (`Mutation.field`) invalidates, over the SDL's `@cacheInvalidate`. @default {} */
  invalidate: z
    .record(z.string().regex(SCHEMA_COORDINATE, 'expected Mutation.field'), CacheInvalidationRule)
    .default({}),
});

/**
 * Request and operation limits and query cost: what a request may carry, what an operation may
 * ask, and how operations are weighed.
 */
export const LimitsConfig = z.strictObject({
  http: HttpLimitsConfig.default(HttpLimitsConfig.parse({})),
  operation: OperationLimitsConfig.default(OperationLimitsConfig.parse({})),
  cost: z
    .strictObject({
      /**
       * Items assumed in a list field that neither a slicing argument nor `@listSize` sizes.
       * @default 10
       */
      list_size: z.number().int().nonnegative().default(10),
      /**
       * The largest estimated cost an operation may have: over it, the operation is refused with
       * 400 COST_ESTIMATED_TOO_EXPENSIVE before any backend is called. Apollo Router has no
       * default; ours is on, and sized so the demo's and tests' queries fit with room to grow
       * while a query that nests three unsized lists (10 x 10 x 10 objects and more) does not
       * (docs/limits.md#query-cost).
       * @default 5000
       */
      max: z.number().int().positive().default(5000),
      /**
       * When responses carry `extensions.cost` (`estimated`, `actual`, `max`): `on_request`
       * when the request's `extensions` has `"cost": true`, `always`, or `never`.
       * @default on_request
       */
      expose: z.enum(['on_request', 'always', 'never']).default('on_request'),
    })
    .default({ list_size: 10, max: 5000, expose: 'on_request' }),
  rate: RateLimitsConfig.default(RateLimitsConfig.parse({})),
  store: LimitStoreConfig.default(LimitStoreConfig.parse({})),
});

/** A client id: it names its endpoint, log lines and metric labels. */
const CLIENT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Trusted documents on the GraphQL endpoint: a manifest of operations clients may send by id,
 * whether anything else is refused, and whether clients may register documents by hash (APQ).
 * Hot-reloaded, manifest file included. A client entry can carry its own
 * (`clients.<id>.persisted_documents`, docs/clients.md#trusted-documents).
 */
export const PersistedDocumentsConfig = z
  .strictObject({
    /**
     * A persisted-operation manifest, relative to supergraph.yaml: Apollo's persisted query
     * manifest JSON, or the `persisted-documents.json` of GraphQL Code Generator's client preset.
     * Its operations can be sent by id. @default no manifest
     */
    manifest: z.string().min(1).optional(),
    /**
     * Safelisting: refuse any document that is not in the manifest (403 QUERY_NOT_IN_SAFELIST);
     * a listed document may still be sent as text. Needs `manifest` and `apq: false`.
     * @default false
     */
    persisted_only: z.boolean().default(false),
    /**
     * Automatic persisted queries: a client may register a document under its SHA-256 and then
     * send the hash alone. The cache is bounded by `server.apq_cache`. @default true
     */
    apq: z.boolean().default(true),
  })
  .superRefine((entry, ctx) => {
    if (!entry.persisted_only) return;
    if (entry.manifest === undefined)
      ctx.addIssue({ code: 'custom', path: ['persisted_only'], message: 'needs a manifest' });
    if (entry.apq)
      ctx.addIssue({
        code: 'custom',
        path: ['apq'],
        message: 'must be false with persisted_only: APQ would register any document',
      });
  });

/** A `@tag(name:)` value, as Apollo's contracts allow it: at most 128 of these characters. */
const TagName = z
  .string()
  .regex(/^[A-Za-z0-9_/-]{1,128}$/, 'expected a tag name (letters, digits, _, - and /)');

/**
 * One client of the GraphQL surface (docs/clients.md, "Client endpoints and policies"): the endpoint it calls and the
 * policies its requests get in place of the global ones. A request is this client's when it
 * reaches its endpoint, or reaches `server.graphql_path` with a verified API key whose client
 * id the client binds; a header never decides it (a client-chosen header would let a caller
 * pick the weakest policies).
 */
export const ClientConfig = z.strictObject({
  /** Its endpoint, besides the default one when `default`. @default <server.graphql_path>/<id> */
  endpoint: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'expected a path starting with /')
    .optional(),
  /** The client `server.graphql_path` serves; at most one client is the default. @default false */
  default: z.boolean().default(false),
  /**
   * API key client ids (`auth.api_keys.keys[].client_id`) whose verified keys make a request to
   * `server.graphql_path` this client's. @default []
   */
  api_keys: z.array(z.string().min(1)).default([]),
  /** What its endpoint demands of callers. @default auth.surfaces.graphql */
  auth: AuthMode.optional(),
  /**
   * Its schema: the supergraph filtered by `@tag` names, with Apollo's contract rules (an
   * element not kept becomes `@inaccessible`; docs/clients.md#contracts). Clients with the same
   * filter share one contract. @default the whole graph
   */
  contract: z
    .strictObject({
      /** Tags to keep: only what carries one of them (or sits inside what does) stays. @default every element */
      include: z.array(TagName).optional(),
      /** Tags to hide; exclude wins over include. @default [] */
      exclude: z.array(TagName).optional(),
    })
    .refine((c) => (c.include?.length ?? 0) + (c.exclude?.length ?? 0) > 0, {
      message: 'name at least one tag to include or exclude',
    })
    .optional(),
  /** Whether its endpoint serves introspection. @default as server.introspection */
  introspection: z.boolean().optional(),
  /** Its own limits, over the global `limits`. @default the global limits */
  limits: z
    .strictObject({
      /**
       * Operation limits it sets; the others stay global. `max_tokens` is not among them: the
       * parser applies it to every document before any stage knows the client. @default {}
       */
      operation: z
        .strictObject({
          /** @default limits.operation.max_depth */
          max_depth: z.number().int().positive().optional(),
          /** @default limits.operation.max_height */
          max_height: z.number().int().positive().optional(),
          /** @default limits.operation.max_root_fields */
          max_root_fields: z.number().int().positive().optional(),
          /** @default limits.operation.max_aliases */
          max_aliases: z.number().int().nonnegative().optional(),
          /** @default limits.operation.max_directives */
          max_directives: z.number().int().nonnegative().optional(),
        })
        .optional(),
      /** Its largest estimated cost. */
      cost: z
        .strictObject({
          /** @default limits.cost.max */
          max: z.number().int().positive().optional(),
        })
        .optional(),
      /** Its rate budgets. */
      rate: z
        .strictObject({
          /**
           * Replace `limits.rate.policies` for its requests, and are kept apart from every other
           * client's budgets (one caller of two clients spends two budgets).
           * @default limits.rate.policies
           */
          policies: RatePolicyList.optional(),
        })
        .optional(),
    })
    .optional(),
  /**
   * Its own trusted documents, in place of the top-level `persisted_documents` (not merged
   * with it): its manifest, relative to supergraph.yaml, and its `persisted_only` and `apq`.
   * @default the top-level persisted_documents
   */
  persisted_documents: PersistedDocumentsConfig.optional(),
  /**
   * Its own cross-origin rules, in place of the top-level `cors` (not merged with it), on its
   * endpoint (the default client's: on `server.graphql_path` too). @default the top-level cors
   */
  cors: CorsConfig.optional(),
});

/**
 * A gRPC service served as HTTP/JSON by transcoding its `google.api.http` annotations (see
 * docs/translation.md). The backend is either a gRPC subgraph's source (`subgraph`) or given
 * here (`address`, `protos`).
 */
export const TranscodeConfig = z
  .strictObject({
    /** A subgraph with a gRPC source whose address, instances, protos, include_dirs, timeout and tls to use. */
    subgraph: z.string().min(1).optional(),
    /** `host:port` of the service. */
    address: z
      .string()
      .regex(/^[^\s/]+:\d+$/, 'expected host:port')
      .optional(),
    /** Instances of the service, `host:port` each. @default address */
    instances: Instances,
    /** Its own traffic settings, as a subgraph's `traffic`. @default traffic */
    traffic: SubgraphTrafficConfig.optional(),
    /** Proto files with the service, relative to an include directory. */
    protos: z.array(z.string().min(1)).min(1).optional(),
    /** Where protos and their imports are found, relative to supergraph.yaml. @default [./protos] */
    include_dirs: z.array(z.string().min(1)).optional(),
    /** Deadline of one call. @default 10s */
    timeout: Duration.optional(),
    /** TLS to the backend, as in a gRPC source. @default plaintext */
    tls: GrpcTls.optional(),
    /** Fully-qualified services to serve (`demo.orders.v1.OrderService`). @default every service */
    services: z.array(z.string().min(1)).optional(),
    /**
     * Serve methods without an annotation at `POST /<package.Service>/<Method>` with the request
     * message as the JSON body. @default true
     */
    unannotated: z.boolean().default(true),
    /** Client request headers passed on as gRPC metadata, by name. @default [] */
    forward_headers: HeaderNames,
    /** gRPC response metadata (headers and trailers) passed back as HTTP headers. @default [] */
    response_headers: HeaderNames,
    /** Write fields that hold their default value (0, "", false, []). @default false */
    emit_defaults: z.boolean().default(false),
    /** Write proto field names (`user_id`) instead of lowerCamelCase (`userId`). @default false */
    use_proto_names: z.boolean().default(false),
    /** Ignore query parameters that name no request field instead of answering 400. @default false */
    ignore_unknown_query_parameters: z.boolean().default(false),
    /** What its methods demand of callers. @default as `auth.surfaces.rest` */
    auth: AuthMode.optional(),
    /** Per method (`CreateOrder` or `demo.orders.v1.OrderService.CreateOrder`), over `auth`. @default {} */
    method_auth: z.record(z.string().min(1), AuthMode).default({}),
  })
  .superRefine((entry, ctx) => {
    const own = (
      ['address', 'instances', 'protos', 'include_dirs', 'timeout', 'tls', 'traffic'] as const
    ).filter((k) => entry[k] !== undefined);
    if (entry.subgraph !== undefined) {
      for (const key of own)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `comes from subgraph ${entry.subgraph}; remove it or remove subgraph`,
        });
      return;
    }
    for (const key of ['address', 'protos'] as const)
      if (entry[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'required (or give subgraph)' });
  });

/** A REST backend served to gRPC clients on the gRPC port, described by an annotated proto. */
export const GrpcServiceConfig = z.strictObject({
  /** Proto files with the service and its `google.api.http` annotations. */
  protos: z.array(z.string().min(1)).min(1),
  /** Where protos and their imports are found, relative to supergraph.yaml. @default [./protos] */
  include_dirs: z.array(z.string().min(1)).default(['./protos']),
  /** Fully-qualified services to serve. @default every service in the protos */
  services: z.array(z.string().min(1)).optional(),
  /** Base URL of the REST backend; the annotated paths are relative to it. */
  base_url: HttpUrl,
  /** Instances of the backend, `host:port` each. @default base_url's host */
  instances: Instances,
  /** TLS to an `https` base_url: a private CA, mutual TLS. @default the system's roots */
  tls: BackendTls.optional(),
  /** Its own traffic settings, as a subgraph's `traffic`. @default traffic */
  traffic: SubgraphTrafficConfig.optional(),
  /** Upper bound for one call to the backend (and at most the caller's deadline). @default 10s */
  timeout: Duration.default(10_000),
  /** Headers sent with every call (API keys via `${ENV}`); never logged. @default {} */
  headers: z
    .record(z.string().regex(HEADER_NAME, 'expected an HTTP header name'), z.string())
    .default({}),
  /** Request metadata passed on as HTTP headers, by name. @default [] */
  forward_metadata: HeaderNames,
  /** What its methods demand of callers. @default as `auth.surfaces.grpc` */
  auth: AuthMode.optional(),
});

/** The gRPC port: REST backends served as gRPC services, with reflection and health. */
export const GrpcServerConfig = z.strictObject({
  /** Interface to listen on. @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port to listen on; 0 picks a free one. @default 50051 */
  port: z.number().int().min(0).max(65_535).default(50_051),
  /** Serve grpc.reflection (v1 and v1alpha) so grpcurl and IDEs discover the services. @default true */
  reflection: z.boolean().default(true),
  /** The services, by a name of your choice. The port opens only when there is one. @default {} */
  services: z.record(z.string(), GrpcServiceConfig).default({}),
  /** TLS on the gRPC port (docs/http.md, "TLS and HTTP/2"). @default plaintext */
  tls: ListenerTls.optional(),
});

/** Header names (lower-cased) to exact values a request must carry. */
const HeaderValues = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, 'expected an HTTP header name')
      .transform((h) => h.toLowerCase()),
    z.string(),
  )
  .default({});

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** One backend of a route. */
export const RouteBackend = z.strictObject({
  /** Base URL; the (rewritten) request path is appended to its path. */
  url: HttpUrl,
  /** Instances of this backend, `host:port` each, sharing its weight. @default url's host */
  instances: Instances,
  /** Share of the traffic not claimed by a header match. @default 1 */
  weight: z.number().int().min(0).default(1),
  /**
   * Requests carrying all these headers with these values go to this backend whatever the
   * weights (a header canary: `x-canary: "true"`). @default {}
   */
  when_headers: HeaderValues,
  /** TLS to an `https` url: a private CA, mutual TLS. @default the system's roots */
  tls: BackendTls.optional(),
});

/** A plain REST route: requests matching it are proxied to one of its backends. */
export const RouteConfig = z
  .strictObject({
    /** A name for logs. @default the path prefix */
    name: z.string().min(1).optional(),
    /** Matches this path and everything below it (`/api/users` matches `/api/users/1`). */
    path_prefix: z.string().regex(/^\/[^?#\s]*$/, 'expected a path starting with /'),
    /** Methods the route accepts; others answer 405. @default every method */
    methods: z.array(z.enum(ROUTE_METHODS)).optional(),
    /** Headers the request must carry with these exact values to match. @default {} */
    headers: HeaderValues,
    /** Replace the matched prefix with this one (`/api/users` -> `/users`); `/` strips it. */
    rewrite_prefix: z
      .string()
      .regex(/^\/[^?#\s]*$/, 'expected a path starting with /')
      .optional(),
    /** One backend, or several to split between (weights, header canaries). */
    backends: z.array(RouteBackend).min(1),
    /** The route's own traffic settings, for each of its backends, as a subgraph's `traffic`. */
    traffic: SubgraphTrafficConfig.optional(),
    /**
     * A request header holding a client id (`x-client-id`): the weighted choice is a hash of it,
     * so one client always lands on the same backend. @default random per request
     */
    split_by: z
      .string()
      .regex(HEADER_NAME, 'expected an HTTP header name')
      .transform((h) => h.toLowerCase())
      .optional(),
    /** Upper bound for the backend's answer (headers and body). @default 30s */
    timeout: Duration.default(30_000),
    /**
     * Client request headers passed on to the backend besides content negotiation ones; identity
     * headers a client sends are never trusted as such. @default []
     */
    forward_headers: HeaderNames,
    /** What the route demands of callers. @default as `auth.surfaces.rest` */
    auth: AuthMode.optional(),
  })
  .superRefine((route, ctx) => {
    if (route.backends.every((b) => b.weight === 0 && Object.keys(b.when_headers).length === 0))
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'every weight is 0' });
    if (route.path_prefix.length > 1 && route.path_prefix.endsWith('/'))
      ctx.addIssue({
        code: 'custom',
        path: ['path_prefix'],
        message: 'leave out the trailing / (the prefix matches whole segments)',
      });
  });

export const FEDERATION_VERSION = /^=?2(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/;

export const GatewayConfigSchema = z
  .strictObject({
    /**
     * rover's composition version. This gateway composes with @apollo/composition 2.x, so any 2.x
     * value is accepted; Federation 1 composition is not offered.
     */
    federation_version: z
      .union([z.string(), z.number()])
      .refine((v) => FEDERATION_VERSION.test(String(v)), {
        message:
          'expected a Federation 2 version such as =2.9.0 or 2 (Federation 1 is not supported)',
      })
      .optional(),
    subgraphs: z
      .record(
        z
          .string()
          .regex(SUBGRAPH_NAME, 'subgraph names start with a letter: letters, digits, _ and -'),
        SubgraphConfig,
      )
      .refine((s) => Object.keys(s).length > 0, { message: 'expected at least one subgraph' }),
    server: ServerConfig.default(ServerConfig.parse({})),
    log: LogConfig.default(LogConfig.parse({})),
    metrics: MetricsConfig.default(MetricsConfig.parse({})),
    tracing: TracingConfig.default(TracingConfig.parse({})),
    /** Replaced by `traffic.outlier_detection`: accepted only to say so. */
    circuit_breaker: z.unknown().optional(),
    /**
     * Load shedding, deduplication, balancing, health checks, outlier detection and retries,
     * gateway-wide and per backend (docs/traffic.md). Reloads apply.
     */
    traffic: TrafficConfig.default(TrafficConfig.parse({})),
    limits: LimitsConfig.default(LimitsConfig.parse({})),
    /** gRPC services served as HTTP/JSON, by a name of your choice. @default {} */
    transcode: z.record(z.string(), TranscodeConfig).default({}),
    /** The gRPC port for REST backends. @default no port */
    grpc_server: GrpcServerConfig.default(GrpcServerConfig.parse({})),
    /** Plain REST routes, proxied to REST backends; the longest matching prefix wins. @default [] */
    routes: z.array(RouteConfig).default([]),
    /** Who may call and how identity reaches backends. @default no credentials: nothing required */
    auth: AuthConfig.default(AuthConfig.parse({})),
    redis: RedisConfig.default(RedisConfig.parse({})),
    /** The response and entity caches (docs/caching.md). @default off */
    cache: CacheConfig.default(CacheConfig.parse({})),
    persisted_documents: PersistedDocumentsConfig.default(PersistedDocumentsConfig.parse({})),
    /**
     * Cross-origin browser requests on every HTTP endpoint the stages serve (GraphQL, REST routes,
     * transcoded methods), and on a client's endpoint without its own `cors`. @default none: no
     * CORS headers, same-origin pages only
     */
    cors: CorsConfig.optional(),
    /** The GraphQL surface's clients, by id (docs/clients.md). @default {} (one surface, global policies) */
    clients: z
      .record(
        z
          .string()
          .regex(
            CLIENT_ID,
            'client ids are lowercase letters, digits and -, starting with one of the first two',
          ),
        ClientConfig,
      )
      .default({}),
  })
  .superRefine((config, ctx) => {
    if (config.circuit_breaker !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['circuit_breaker'],
        message:
          'replaced by traffic.outlier_detection: max_ejection_percent: 100 ejects a single-instance backend as the breaker did; failure_threshold is consecutive_failures, open_for base_ejection_time',
      });
    // A BFF subgraph calls directly only REST backends the config already names.
    for (const [name, subgraph] of Object.entries(config.subgraphs)) {
      if (subgraph.source?.kind !== 'bff') continue;
      for (const [index, target] of subgraph.source.rest.entries())
        if (config.subgraphs[target]?.source?.kind !== 'rest')
          ctx.addIssue({
            code: 'custom',
            path: ['subgraphs', name, 'source', 'rest', index],
            message: `${target} is not a subgraph with a REST source`,
          });
    }
    // Cross-key checks of `clients`: what one client's schema cannot see.
    const keyClients = new Set(config.auth.api_keys?.keys.map((key) => key.client_id) ?? []);
    // Paths the server answers before GraphQL (server/app.ts): a client there would never be served.
    // The metrics path too when an admin listener serves it: a config valid in production (often
    // `mode: ${GATEWAY_MODE}`) stays valid in development, where the public port serves it.
    const endpoints = new Map<string, string>([
      ['/healthz', 'the liveness probe'],
      ['/readyz', 'the readiness probe'],
      ['/.well-known/jwks.json', "the gateway's JWKS"],
      ...(config.metrics.enabled ? [[config.metrics.path, 'the metrics'] as [string, string]] : []),
    ]);
    const credentials =
      config.auth.jwt.length > 0 || config.auth.introspection || config.auth.api_keys;
    const boundBy = new Map<string, string>();
    let defaultClient: string | undefined;
    for (const [id, client] of Object.entries(config.clients)) {
      if (client.auth === 'required' && !credentials)
        ctx.addIssue({
          code: 'custom',
          path: ['clients', id, 'auth'],
          message:
            'required, but no jwt, introspection or api_keys is configured to verify callers',
        });
      if (client.default) {
        if (defaultClient !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['clients', id, 'default'],
            message: `client ${defaultClient} is the default already: ${config.server.graphql_path} serves one client`,
          });
        defaultClient ??= id;
      }
      const endpoint = clientEndpoint(config.server.graphql_path, id, client);
      const other =
        endpoint === config.server.graphql_path ? '(server.graphql_path)' : endpoints.get(endpoint);
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['clients', id, 'endpoint'],
          message: `${endpoint} is the endpoint of ${other} too`,
        });
      endpoints.set(endpoint, `client ${id}`);
      client.api_keys.forEach((keyClient, index) => {
        const path = ['clients', id, 'api_keys', index];
        if (!keyClients.has(keyClient))
          ctx.addIssue({
            code: 'custom',
            path,
            message: `no key of auth.api_keys.keys has client_id "${keyClient}"`,
          });
        const bound = boundBy.get(keyClient);
        if (bound !== undefined)
          ctx.addIssue({
            code: 'custom',
            path,
            message: `"${keyClient}" is bound to client ${bound} already: a key identifies one client`,
          });
        boundBy.set(keyClient, id);
      });
    }
  });

/** A client's endpoint: its own, else the GraphQL path followed by its id. */
export function clientEndpoint(
  graphqlPath: string,
  id: string,
  client: Pick<z.output<typeof ClientConfig>, 'endpoint'>,
): string {
  return client.endpoint ?? `${graphqlPath.replace(/\/$/, '')}/${id}`;
}

export type SubgraphSchemaSource = z.output<typeof SubgraphSchemaSource>;
export type SubgraphConfig = z.output<typeof SubgraphConfig>;
export type RestSource = z.output<typeof RestSource>;
export type GrpcSource = z.output<typeof GrpcSource>;
export type BffSource = z.output<typeof BffSource>;
export type ServerConfig = z.output<typeof ServerConfig>;
export type AdminConfig = z.output<typeof AdminConfig>;
export type ApqCacheConfig = z.output<typeof ApqCacheConfig>;
export type BatchingConfig = z.output<typeof BatchingConfig>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type TranscodeConfig = z.output<typeof TranscodeConfig>;
export type LogConfig = z.output<typeof LogConfig>;
export type MetricsConfig = z.output<typeof MetricsConfig>;
export type TracingConfig = z.output<typeof TracingConfig>;
export type HealthCheckConfig = z.output<typeof HealthCheckConfig>;
export type OutlierDetectionConfig = z.output<typeof OutlierDetectionConfig>;
export type RetryConfig = z.output<typeof RetryConfig>;
export type BalancePolicy = z.output<typeof BalancePolicy>;
export type TrafficConfig = z.output<typeof TrafficConfig>;
export type SubgraphTrafficConfig = z.output<typeof SubgraphTrafficConfig>;
export type LimitsConfig = z.output<typeof LimitsConfig>;
export type HttpLimitsConfig = z.output<typeof HttpLimitsConfig>;
export type OperationLimitsConfig = z.output<typeof OperationLimitsConfig>;
export type RatePolicyConfig = z.output<typeof RatePolicyConfig>;
export type LimitStoreConfig = z.output<typeof LimitStoreConfig>;
export type RedisConfig = z.output<typeof RedisConfig>;
export type RedisSentinelConfig = z.output<typeof RedisSentinelConfig>;
export type RedisClusterConfig = z.output<typeof RedisClusterConfig>;
export type CacheConfig = z.output<typeof CacheConfig>;
export type GrpcServerConfig = z.output<typeof GrpcServerConfig>;
export type GrpcServiceConfig = z.output<typeof GrpcServiceConfig>;
export type RouteConfig = z.output<typeof RouteConfig>;
export type PersistedDocumentsConfig = z.output<typeof PersistedDocumentsConfig>;
export type ClientConfig = z.output<typeof ClientConfig>;
export type CorsConfig = z.output<typeof CorsConfig>;
export type { AuthConfig, AuthMode } from './auth.ts';
