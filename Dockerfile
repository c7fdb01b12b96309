# The gateway's production image: Node 24 (docs/runtimes.md), the TypeScript sources run as they
# are (Node strips the types), production dependencies only, a non-root user, and the demo graph
# as the config it starts with. Build and run: docs/deploying.md, "Image". scripts/image.sh builds
# it and starts it against the demo backends (CI's `== image` step), and
# test/unit/deploy/dockerfile.test.ts holds the rules below in place.
#
# The base is an argument so that a build without a registry can name a local stand-in for the
# official image (scripts/image.sh base); keep the default's version equal to line 24's pin in
# scripts/runtimes.mjs.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install scripts among the production dependencies (esbuild's, which
# tsx needs only where Node cannot strip types, and protobufjs's) are not needed to run.
# Two build secrets, both optional: npm_registry, the registry this stage installs from, and
# npm_ca, the certificate authorities npm trusts (a registry behind a TLS-inspecting proxy).
# Secrets, not build arguments, so that they are in no layer, history or cache key.
RUN --mount=type=secret,id=npm_registry --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_registry ]; then \
      NPM_CONFIG_REGISTRY=$(cat /run/secrets/npm_registry) && export NPM_CONFIG_REGISTRY; \
    fi \
    && if [ -f /run/secrets/npm_ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_ca; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=warn

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the user the gateway runs as: it writes nothing here.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# The demo graph, the default config: what supergraph.yaml names (its schemas, the protos under
# its include directory, the mobile BFF's resolvers and the mobile app's manifest). Mount another
# config instead and name it: `start --config /etc/gateway/supergraph.yaml --host 0.0.0.0`.
COPY supergraph.yaml ./
COPY schemas ./schemas
COPY protos ./protos
COPY demo/bff ./demo/bff
COPY demo/mobile-app/manifest.json ./demo/mobile-app/manifest.json
# The official image's `node` user (uid 1000).
USER node
# The GraphQL and HTTP port, the admin listener (on loopback unless server.admin.host says
# otherwise) and the demo's gRPC port.
EXPOSE 4000 8088 50051
# The gateway drains on SIGTERM (docs/operations.md). The exec forms below make node PID 1, so
# the signal reaches it with no shell in between.
STOPSIGNAL SIGTERM
# The admin listener's /healthz, asked by node itself: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || 8088) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/gateway.js"]
CMD ["start", "--config", "/app/supergraph.yaml", "--host", "0.0.0.0"]
