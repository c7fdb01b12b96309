import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sumExpositions } from '../../../../src/server/cluster/metrics-sum.ts';

const worker = (
  requests: number,
  inFlight: number,
  up: number,
  started: number,
) => `# HELP gateway_requests_total Requests answered.
# TYPE gateway_requests_total counter
gateway_requests_total{surface="graphql",outcome="ok"} ${requests}
# HELP gateway_request_duration_seconds Time.
# TYPE gateway_request_duration_seconds histogram
gateway_request_duration_seconds_bucket{le="0.1",surface="graphql"} ${requests}
gateway_request_duration_seconds_bucket{le="+Inf",surface="graphql"} ${requests}
gateway_request_duration_seconds_sum{surface="graphql"} 0.5
gateway_request_duration_seconds_count{surface="graphql"} ${requests}
# HELP gateway_requests_in_flight In flight.
# TYPE gateway_requests_in_flight gauge
gateway_requests_in_flight ${inFlight}
# HELP gateway_limit_store_up Store answers.
# TYPE gateway_limit_store_up gauge
gateway_limit_store_up{store="redis"} ${up}
# HELP process_start_time_seconds Start time.
# TYPE process_start_time_seconds gauge
process_start_time_seconds ${started}
`;

test('counters, histograms and amounts add up over workers; up is every worker, start the oldest', () => {
  const merged = sumExpositions([worker(3, 1, 1, 100), worker(4, 2, 0, 90)]);
  assert.equal(
    merged,
    `# HELP gateway_requests_total Requests answered.
# TYPE gateway_requests_total counter
gateway_requests_total{surface="graphql",outcome="ok"} 7
# HELP gateway_request_duration_seconds Time.
# TYPE gateway_request_duration_seconds histogram
gateway_request_duration_seconds_bucket{le="0.1",surface="graphql"} 7
gateway_request_duration_seconds_bucket{le="+Inf",surface="graphql"} 7
gateway_request_duration_seconds_sum{surface="graphql"} 1
gateway_request_duration_seconds_count{surface="graphql"} 7
# HELP gateway_requests_in_flight In flight.
# TYPE gateway_requests_in_flight gauge
gateway_requests_in_flight 3
# HELP gateway_limit_store_up Store answers.
# TYPE gateway_limit_store_up gauge
gateway_limit_store_up{store="redis"} 0
# HELP process_start_time_seconds Start time.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 90
`,
  );
});

test("a series only one worker has is that worker's; one exposition comes back as it was", () => {
  const one = worker(1, 0, 1, 5);
  assert.equal(sumExpositions([one]), one);
  const other = `# HELP gateway_requests_total Requests answered.
# TYPE gateway_requests_total counter
gateway_requests_total{surface="rest",outcome="ok"} 2
`;
  const merged = sumExpositions([one, other]);
  assert.match(merged, /gateway_requests_total\{surface="graphql",outcome="ok"\} 1\n/);
  assert.match(merged, /gateway_requests_total\{surface="rest",outcome="ok"\} 2\n/);
  assert.equal(merged.match(/# TYPE gateway_requests_total/g)?.length, 1);
});
