import { ApolloGateway, type GatewayConfig } from '@apollo/gateway';

/**
 * Apollo Gateway, constructed so that it calls no cloud service. Its constructor starts Apollo's
 * anonymous data collection unless told otherwise: OpenTelemetry resource detectors probe the
 * metadata endpoints of GCP, AWS, Azure and Alibaba Cloud (`metadata.google.internal`,
 * 169.254.169.254, 100.100.100.200; gcp-metadata prints a MetadataLookupWarning when they fail),
 * and a metric exporter sends to `usage-reporting.api.apollographql.com` every hour and once more
 * when the gateway stops, which holds up exit wherever that host cannot be reached.
 *
 * Its only switch is the APOLLO_TELEMETRY_DISABLED environment variable, read once, in the
 * constructor (gateway-js/src/index.ts, "Users can opt out of Apollo collecting anonymous
 * metrics": https://github.com/apollographql/federation/blob/main/gateway-js/src/index.ts). So it
 * is set for the constructor's duration and restored after: no user has to know it exists, and
 * the rest of the process sees its environment unchanged. Apollo Server's reporting is turned off
 * by plugins (build-gateway.ts); test/e2e/network.test.ts records every lookup and connection
 * of a running gateway and fails on any host the config does not name.
 */
export function createOfflineGateway(config: GatewayConfig): ApolloGateway {
  const previous = process.env.APOLLO_TELEMETRY_DISABLED;
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  try {
    return new ApolloGateway(config);
  } finally {
    if (previous === undefined) delete process.env.APOLLO_TELEMETRY_DISABLED;
    else process.env.APOLLO_TELEMETRY_DISABLED = previous;
  }
}
