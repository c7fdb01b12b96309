/**
 * What the `gateway` command says about itself: the overview, each command's usage, and the
 * pure parsing rules main.ts applies before running anything (tested as tables in
 * test/unit/cli/usage.test.ts).
 */
/** More workers than this is a typo, not a host: each one holds a whole gateway in memory. */
export const MAX_WORKERS = 64;

export const USAGE = `Usage: gateway <command> [options]

Commands:
  start      Serve the federated graph
               --config <file>      supergraph.yaml to compose and watch (default: ./supergraph.yaml)
               --supergraph <file>  serve a supergraph SDL composed elsewhere instead of composing
               --port <n>           listen port (precedence: --port, then PORT, then server.port)
               --host <addr>        listen address (default: server.host, 127.0.0.1)
               --admin-port <n>     the admin listener's port, when there is one (precedence:
                                    --admin-port, then ADMIN_PORT, then server.admin.port)
               --workers <n|auto>   processes serving the same ports (default: 1; auto: one
                                    per available core)
  compose    Compose supergraph.yaml into a supergraph SDL usable by any Federation 2 router
               --config <file>      (default: ./supergraph.yaml)
               --output <file>      (default: ./supergraph.graphql; "-" for stdout)
  rest print <name>
             Print the SDL a REST adapter serves (generated from OpenAPI, or as written)
               --config <file>      (default: ./supergraph.yaml)
               --output, -o <file>  write the SDL there, whole, once generated (default: stdout)
  grpc print <name>
             Print the SDL the gRPC adapter generates from a subgraph's protos
               --config <file>      (default: ./supergraph.yaml)
               --output, -o <file>  write the SDL there, whole, once generated (default: stdout)
  serve-subgraph <name>
             Serve one adapter subgraph (a subgraph with a source) standalone over HTTP
               --config <file>      (default: ./supergraph.yaml)
               --port <n>           (default: PORT, else 4100)
               --host <addr>        (default: 127.0.0.1)
  manifest build <dir>
             Build a persisted query manifest (Apollo's format) from the .graphql files under
             dir: one entry per named operation, each validated against the gateway's API schema
               --config <file>      (default: ./supergraph.yaml)
               --out <file>         (default: stdout)
               --client <id>        a configured client's manifest; validated against the same
                                    API schema for now (per-client contracts are not wired yet)
  key hash   Print the SHA-256 of the API key read from stdin (an API key entry's sha256)
  key new    Generate an API key; print it and its SHA-256
  version    Print the gateway's version (also --version, -v)
  help       Show this text; \`gateway <command> --help\` shows one command's usage
`;

/**
 * One command's usage, printed by `gateway <command> --help` (or `gateway help <command>`) and
 * nothing else done: its arguments, flags with their defaults, the environment variables the
 * command itself reads (besides any \`\${VAR}\` the config names), and an example. Keyed as the
 * command is typed; a group (`key`) shows all of its subcommands.
 */
export const HELP: Record<string, string> = {
  start: `Usage: gateway start [--config <file> | --supergraph <file>] [options]

Serve the federated graph: compose the config's subgraphs, listen, and recompose when a file
it names changes.

Flags:
  --config <file>      supergraph.yaml to compose and watch (default: ./supergraph.yaml)
  --supergraph <file>  serve a supergraph SDL composed elsewhere instead of composing
  --port <n>           listen port, 0-65535 (default: PORT, else server.port, 4000)
  --host <addr>        listen address (default: server.host, 127.0.0.1)
  --admin-port <n>     the admin listener's port, when there is one (default: ADMIN_PORT,
                       else server.admin.port, 8088)
  --workers <n|auto>   worker processes, 1-${MAX_WORKERS}, sharing the ports (node:cluster); a primary
                       process forks them, restarts one that dies, serves the admin listener
                       over all of them and drains them all on SIGTERM (default: 1, a single
                       process; auto: os.availableParallelism())
  --help, -h           show this text

Environment:
  PORT        listen port when --port is not given (empty: unset)
  ADMIN_PORT  admin port when --admin-port is not given (empty: unset)
  LOG_LEVEL   overrides log.level
  and every \${VAR} the config names (the demo's: GRPC_PORT, GATEWAY_MODE, ...)

Example:
  gateway start --config supergraph.yaml --port 4000 --workers 4
`,
  compose: `Usage: gateway compose [--config <file>] [--output <file>|-]

Compose the config's subgraphs (adapters included) into a supergraph SDL usable by any
Federation 2 router. Composition hints go to stderr.

Flags:
  --config <file>      (default: ./supergraph.yaml)
  --output <file>      (default: ./supergraph.graphql; "-" for stdout)
  --help, -h           show this text

Environment:
  every \${VAR} the config names

Example:
  gateway compose --config supergraph.yaml --output supergraph.graphql
`,
  'serve-subgraph': `Usage: gateway serve-subgraph <name> [--config <file>] [--port <n>] [--host <addr>]

Serve one adapter subgraph (a subgraph with a source) standalone over HTTP, as a federation
subgraph another router can call.

Arguments:
  <name>               the subgraph, as named under subgraphs: in the config

Flags:
  --config <file>      (default: ./supergraph.yaml)
  --port <n>           0-65535 (default: PORT, else 4100)
  --host <addr>        (default: 127.0.0.1)
  --help, -h           show this text

Environment:
  PORT        listen port when --port is not given (empty: unset)
  LOG_LEVEL   overrides log.level
  and every \${VAR} the config names

Example:
  gateway serve-subgraph users --port 4100
`,
  'rest print': printHelp(
    'rest',
    'Print the SDL a REST adapter serves: generated from OpenAPI, or as written.',
    'users',
  ),
  'grpc print': printHelp(
    'grpc',
    "Print the SDL the gRPC adapter generates from a subgraph's protos.",
    'orders',
  ),
  'manifest build': `Usage: gateway manifest build <dir> [--config <file>] [--out <file>] [--client <id>]

Build a persisted query manifest (Apollo's format) from the .graphql files under <dir>: one
entry per named operation, each validated against the gateway's API schema. Any problem is
printed as file:line:column and nothing is written.

Arguments:
  <dir>                where the operations are, searched recursively

Flags:
  --config <file>      (default: ./supergraph.yaml)
  --out <file>         (default: stdout)
  --client <id>        a configured client's manifest, validated against its contract
  --help, -h           show this text

Environment:
  every \${VAR} the config names

Example:
  gateway manifest build ./operations --out manifest.json
`,
  'key hash': `Usage: gateway key hash < key

Print the SHA-256 of the API key read from stdin (one line; the trailing newline is not part of
the key): what an API key entry's sha256 holds.

Flags:
  --help, -h           show this text

Example:
  echo -n "$KEY" | gateway key hash
`,
  'key new': `Usage: gateway key new

Generate an API key; print it and its SHA-256 (the config holds only the hash).

Flags:
  --help, -h           show this text

Example:
  gateway key new
`,
  version: `Usage: gateway version (or gateway --version, gateway -v)

Print the gateway's version, from its package.json.

Example:
  gateway --version
`,
  help: `Usage: gateway help [<command>]

Show the list of commands, or one command's usage (the same as gateway <command> --help).

Example:
  gateway help start
`,
};
HELP.key = `${HELP['key hash']}\n${HELP['key new']}`;

function printHelp(kind: 'rest' | 'grpc', what: string, example: string): string {
  return `Usage: gateway ${kind} print <name> [--config <file>] [--output <file>]

${what}

Arguments:
  <name>               the subgraph, as named under subgraphs: in the config

Flags:
  --config <file>      (default: ./supergraph.yaml)
  --output, -o <file>  write the SDL to <file> once it is generated, whole or not at all (a
                       temporary file renamed over it); the file may be one the command reads
                       (default: stdout; refused when stdout is a file the command reads,
                       which a shell redirect empties before the command starts)
  --help, -h           show this text

Environment:
  every \${VAR} the config names

Example:
  gateway ${kind} print ${example} --output schemas/${example}.graphql
`;
}

/** The HELP key for what was typed: `key hash`, `rest print`, `key` (the group), `start`. */
export function helpKey(command: string, subcommand: string | undefined): string | undefined {
  switch (command) {
    case 'key':
      return subcommand === 'hash' || subcommand === 'new' ? `key ${subcommand}` : 'key';
    case 'rest':
    case 'grpc':
      return `${command} print`;
    case 'manifest':
      return 'manifest build';
    default:
      return command in HELP ? command : undefined;
  }
}

/** `--help` or `-h` among a command's arguments (before a `--`, after which all is positional). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Digits only: `Number` would also take ' 80', '0x50', '8e1' and '80.0'. */
export function parsePort(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port <= 65_535 ? port : undefined;
}

/**
 * `--workers`: a whole number from 1 to MAX_WORKERS in digits, or `auto` for `available` (the
 * host's parallelism, capped at MAX_WORKERS); undefined for anything else.
 */
export function parseWorkers(value: string, available: number): number | undefined {
  if (value === 'auto') return Math.max(1, Math.min(available, MAX_WORKERS));
  if (!/^\d{1,3}$/.test(value)) return undefined;
  const workers = Number(value);
  return workers >= 1 && workers <= MAX_WORKERS ? workers : undefined;
}
