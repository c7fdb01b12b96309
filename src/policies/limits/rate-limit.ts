import type { RatePolicyConfig } from '../../config/schema.ts';
import type { Identity, RequestContext, Surface } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import { rateIdentity } from './rate-identity.ts';
import type { Charge, Decision } from './stores/store.ts';

/**
 * Rate limits and quotas per identity (`limits.rate.policies`, docs/limits.md "Rate limits").
 * Every policy that applies to the request's surface is charged in one `take`, so the request
 * spends from all its budgets or from none: an operation refused by its cost budget has not
 * spent a request either. On GraphQL this runs once the cost is estimated (an operation refused
 * as too expensive is never charged), so an alias-amplified query spends its cost; on REST
 * routes, transcoded methods and the gRPC port it runs once the caller is known.
 *
 * Every answer carries the budgets' state in the RateLimit header fields of the IETF draft
 * (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/, "RateLimit-Policy"
 * and "RateLimit": structured-field lists, one item per policy), a refusal also `Retry-After`
 * (RFC 9110 section 10.2.3) when waiting can help.
 */
export async function rateLimit(ctx: RequestContext): Promise<void> {
  // A client's own policies replace the global ones for its requests (bff/clients.ts).
  const limits = ctx.client?.limits ?? ctx.snapshot.limits;
  const all = policiesOf(limits.rate.policies, ctx.facts.surface);
  // An operation a BFF resolver ran spends cost like any other, but is not another request.
  const policies = ctx.subOperation ? all.filter((p) => p.unit !== 'requests') : all;
  if (policies.length === 0) return;
  const charges = policies.map((policy): Charge => ({
    policy: policy.name,
    cost: unitsOf(policy, ctx),
    budget: { limit: limitOf(policy, ctx.identity), windowMs: policy.window },
  }));
  const decision = await ctx.snapshot.limitStore.take(rateIdentity(ctx), charges);
  writeHeaders(ctx, policies, charges, decision);
  if (!decision.admitted) throw refusal(ctx, policies, charges, decision);
}

/** The policies of each surface, filtered once per loaded config. */
const bySurface = new WeakMap<
  readonly RatePolicyConfig[],
  Map<Surface, readonly RatePolicyConfig[]>
>();

function policiesOf(
  policies: readonly RatePolicyConfig[],
  surface: Surface,
): readonly RatePolicyConfig[] {
  if (policies.length === 0) return policies;
  let lists = bySurface.get(policies);
  if (!lists) bySurface.set(policies, (lists = new Map()));
  let list = lists.get(surface);
  if (!list)
    lists.set(surface, (list = policies.filter((p) => p.surfaces?.includes(surface) ?? true)));
  return list;
}

/**
 * What the request spends of a policy. A cost policy charges a GraphQL operation its estimate;
 * a REST or gRPC request has none, and spends 1: one backend call, what the cheapest operation
 * that fetches an object costs (an object field weighs 1 in the cost model).
 */
function unitsOf(policy: RatePolicyConfig, ctx: RequestContext): number {
  if (policy.unit === 'requests' || ctx.facts.surface !== 'graphql') return 1;
  return ctx.facts.cost ?? 1;
}

/** The caller's limit: its API key plan's when the policy lists that plan. */
function limitOf(policy: RatePolicyConfig, identity: Identity | undefined): number {
  const plan = identity?.plan;
  return (
    (plan !== undefined && Object.hasOwn(policy.plans, plan) && policy.plans[plan]) || policy.limit
  );
}

const seconds = (ms: number) => Math.ceil(ms / 1_000);

/**
 * The draft defines `qu` for the registered units only (`requests`, `content-bytes`,
 * `concurrent-requests`), and a value outside its registry is not allowed; cost points are
 * none of them, so a cost policy says so in a vendor-prefixed parameter (the draft's advice for
 * service-specific ones) and leaves `qu` out.
 */
const COST_UNIT = ';gateway-unit="cost-points"';

function writeHeaders(
  ctx: RequestContext,
  policies: readonly RatePolicyConfig[],
  charges: readonly Charge[],
  decision: Decision,
): void {
  const policy: string[] = [];
  const state: string[] = [];
  charges.forEach((charge, i) => {
    const unit = policies[i]!.unit === 'cost' ? COST_UNIT : '';
    policy.push(
      `"${charge.policy}";q=${charge.budget.limit};w=${seconds(charge.budget.windowMs)}${unit}`,
    );
    const { remaining, resetMs } = decision.states[i]!;
    // `r` is an sf-integer (a cost weight may not be whole). `t`: when more quota is back; the
    // store reports when the whole budget is, a bound the draft allows a sliding window to give,
    // and a budget nothing has spent leaves `t` out.
    const reset = resetMs > 0 ? `;t=${seconds(resetMs)}` : '';
    state.push(`"${charge.policy}";r=${Math.floor(remaining)}${reset}`);
  });
  ctx.responseHeaders.set('ratelimit-policy', policy.join(', '));
  ctx.responseHeaders.set('ratelimit', state.join(', '));
}

function refusal(
  ctx: RequestContext,
  policies: readonly RatePolicyConfig[],
  charges: readonly Charge[],
  decision: Decision,
): GatewayError {
  // The policy to name: one the request can never fit, else the first that has too little left.
  let at = charges.findIndex((c) => c.cost > c.budget.limit);
  if (at === -1)
    at = charges.findIndex((c, i) => c.cost > 0 && c.cost > decision.states[i]!.remaining);
  if (at === -1) at = 0;
  const charge = charges[at]!;
  const unit = policies[at]!.unit === 'cost' ? 'cost points' : 'requests';
  const window = seconds(charge.budget.windowMs);
  const budget = `${charge.budget.limit} ${unit} per ${window} s`;
  ctx.facts.rateLimited = charge.policy;
  const extensions: Record<string, unknown> = {
    policy: charge.policy,
    limit: charge.budget.limit,
    window,
    ...(policies[at]!.unit === 'cost' ? { cost: charge.cost } : {}),
  };
  if (!Number.isFinite(decision.retryAfterMs)) {
    // Waiting cannot help, so no Retry-After: a client that honours it would retry for ever.
    return new GatewayError(
      ErrorCode.RATE_LIMITED,
      `This operation costs ${charge.cost} cost points, more than the whole budget of rate limit "${charge.policy}" (${budget}): it can never be admitted; ask for less.`,
      { extensions },
    );
  }
  const retryAfter = Math.max(1, seconds(decision.retryAfterMs));
  ctx.responseHeaders.set('retry-after', String(retryAfter));
  // gRPC clients with a retry policy wait this long before retrying (gRFC A6, "Pushback").
  if (ctx.facts.surface === 'grpc')
    ctx.responseHeaders.set('grpc-retry-pushback-ms', String(retryAfter * 1_000));
  return new GatewayError(
    ErrorCode.RATE_LIMITED,
    `Rate limit "${charge.policy}" reached (${budget}); retry in ${retryAfter} s.`,
    { extensions: { ...extensions, retryAfter } },
  );
}
