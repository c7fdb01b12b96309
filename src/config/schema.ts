import { z } from 'zod';

/**
 * The one definition of supergraph.yaml: it gives the static type (`GatewayConfig`), the runtime
 * validation, and the published JSON Schema (`supergraph.schema.json`, see scripts/).
 *
 * Rover's keys (`federation_version`, `subgraphs.<name>.routing_url`, `subgraphs.<name>.schema`)
 * keep rover's names and meaning so that a file written for rover works unchanged; ours sit beside
 * them in the same snake_case. Every object is strict: an unknown key is an error, because a typo
 * in a policy key must never silently disable the policy.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `250ms`, `10s`, `1.5m`, `1h`, or a whole number of milliseconds. */
export const Duration = z
  .union(
    [
      z.number().int().nonnegative(),
      z
        .string()
        .regex(DURATION, 'expected a duration such as 250ms, 10s, 2m, or a number of milliseconds'),
    ],
    {
      error: 'expected a duration such as 250ms, 10s, 2m, or a number of milliseconds',
    },
  )
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = DURATION.exec(value) as RegExpExecArray;
    return Math.round(Number(amount) * (UNIT_MS[unit as string] as number));
  });

const BYTES = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)$/i;
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1_000,
  kib: 1_024,
  mb: 1_000_000,
  mib: 1_048_576,
  gb: 1_000_000_000,
  gib: 1_073_741_824,
};

/** `512kb`, `1mib`, `2MB`, or a whole number of bytes. */
export const ByteSize = z
  .union(
    [
      z.number().int().positive(),
      z.string().regex(BYTES, 'expected a size such as 512kb, 1mib, 2mb, or a number of bytes'),
    ],
    {
      error: 'expected a size such as 512kb, 1mib, 2mb, or a number of bytes',
    },
  )
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = BYTES.exec(value) as RegExpExecArray;
    return Math.round(Number(amount) * (UNIT_BYTES[(unit as string).toLowerCase()] as number));
  });

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
    if (schema.introspection_headers !== undefined && schema.subgraph_url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['introspection_headers'],
        message: 'introspection_headers only applies with subgraph_url',
      });
    }
  });

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A REST/JSON backend served as a subgraph by the REST adapter: the subgraph's SDL maps each
 * field to an HTTP call with `@rest` (see README, "REST adapter").
 */
export const RestSource = z.strictObject({
  kind: z.literal('rest'),
  /** Base URL of the service; `@rest` paths are relative to it. */
  base_url: HttpUrl,
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
  forward_headers: z
    .array(
      z
        .string()
        .regex(HEADER_NAME, 'expected an HTTP header name')
        .transform((h) => h.toLowerCase()),
    )
    .default([]),
});

/**
 * A gRPC service served as a subgraph by the gRPC adapter: its schema is generated from the
 * protos (`gateway grpc print <subgraph>` shows it).
 */
export const GrpcSource = z.strictObject({
  kind: z.literal('grpc'),
  /** `host:port` of the service. */
  address: z.string().regex(/^[^\s/]+:\d+$/, 'expected host:port'),
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
  /**
   * TLS to the backend: `true` trusts the system's roots; an object names PEM files (relative to
   * supergraph.yaml) for a private CA and, for mutual TLS, a client certificate and key.
   * @default plaintext
   */
  tls: z
    .union([
      z.literal(true),
      z
        .strictObject({
          ca: z.string().min(1).optional(),
          cert: z.string().min(1).optional(),
          key: z.string().min(1).optional(),
          /** The name to verify the server's certificate against, when it differs from the address. */
          server_name: z.string().min(1).optional(),
        })
        .refine((t) => (t.cert === undefined) === (t.key === undefined), {
          message: 'cert and key go together (mutual TLS)',
        }),
    ])
    .optional(),
});

export const SubgraphConfig = z
  .strictObject({
    /**
     * Where the gateway sends this subgraph's fetches. Defaults to `schema.subgraph_url`; an
     * adapter subgraph (`source`) runs in-process and needs one only for other routers.
     */
    routing_url: HttpUrl.optional(),
    /** The subgraph's SDL (rover's key). Optional only for a REST source with `openapi`. */
    schema: SubgraphSchemaSource.optional(),
    /**
     * Upper bound for one fetch to this subgraph, from sending the request to the last byte of
     * the response. @default 30s
     */
    timeout: Duration.default(30_000),
    /** A non-GraphQL backend served through an adapter in-process. */
    source: z.discriminatedUnion('kind', [RestSource, GrpcSource]).optional(),
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
    if (subgraph.source !== undefined && subgraph.schema?.subgraph_url !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['schema', 'subgraph_url'],
        message: 'an adapter subgraph reads its SDL from schema.file or schema.sdl',
      });
    }
  });

const SUBGRAPH_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

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
  /** Serve the landing page on GET of the GraphQL path from a browser. @default as introspection */
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
   * @default 30s
   */
  request_timeout: Duration.default(30_000),
  /** Largest accepted request body. @default 1mib */
  body_limit: ByteSize.default(1_048_576),
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
  /** Reload when supergraph.yaml or a schema file it names changes. @default true */
  hot_reload: z.boolean().default(true),
});

export const LogConfig = z.strictObject({
  /** pino level. @default info */
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const FEDERATION_VERSION = /^=?2(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/;

export const GatewayConfigSchema = z.strictObject({
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
});

export type SubgraphSchemaSource = z.output<typeof SubgraphSchemaSource>;
export type SubgraphConfig = z.output<typeof SubgraphConfig>;
export type RestSource = z.output<typeof RestSource>;
export type GrpcSource = z.output<typeof GrpcSource>;
export type ServerConfig = z.output<typeof ServerConfig>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
