import { createHash } from 'node:crypto';
import { buildContract, type ContractFilter } from '../composition/contract.ts';
import { formatProblem } from '../composition/compose.ts';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { ClientConfig } from '../config/schema.ts';
import { sdlForApolloGateway } from '../policies/auth/requirements.ts';

/** One client's schema: the supergraph with what its filter hides made `@inaccessible`. */
export interface ContractGraph {
  /**
   * SHA-256 of its SDL, hex: the engine serving the contract is found by
   * it (gateway/engines.ts), so a contract a reload leaves unchanged keeps its engine, plans
   * and document cache, and clients with the same filter share one.
   */
  readonly key: string;
  readonly filter: ContractFilter;
  /**
   * The contract's supergraph, as Apollo Gateway loads it: built from the snapshot's
   * `gatewaySdl`, so it links field authorization's features without their `for: SECURITY`.
   */
  readonly supergraphSdl: string;
  /** Schema coordinates the filter hides, sorted. */
  readonly hidden: readonly string[];
}

type Locate = (path: readonly PropertyKey[], message: string) => ConfigIssue;

/**
 * Every client's contract, built from the supergraph of this load: by client id, for the clients
 * that have one. A filter that leaves no valid schema is a config error at that client's
 * `contract` key with composition's problems and their locations in the supergraph, and the
 * whole load fails: a reload that breaks one client's contract keeps every client on the last
 * good graph, as a composition error does.
 */
export function buildContracts(
  clients: Readonly<Record<string, ClientConfig>>,
  supergraphSdl: string,
  issueAt: Locate,
): Map<string, ContractGraph> {
  const gatewaySdl = sdlForApolloGateway(supergraphSdl);
  const byFilter = new Map<string, ContractGraph | 'failed'>();
  const contracts = new Map<string, ContractGraph>();
  const issues: ConfigIssue[] = [];
  for (const [id, client] of Object.entries(clients)) {
    if (!client.contract) continue;
    const filter = normalise(client.contract);
    const filterKey = JSON.stringify(filter);
    let built = byFilter.get(filterKey);
    if (built === undefined) {
      // Built on the SDL Apollo Gateway loads: the contract is checked as Apollo Gateway will
      // load it, with the features the gateway enforces itself (field authorization) linked
      // without their `for: SECURITY`, which `Supergraph.build` would refuse.
      const result = buildContract(gatewaySdl, filter, 'supergraph');
      if (result.ok) {
        built = {
          key: createHash('sha256').update(result.supergraphSdl).digest('hex'),
          filter,
          supergraphSdl: result.supergraphSdl,
          hidden: result.hidden,
        };
      } else {
        built = 'failed';
        issues.push(
          issueAt(
            ['clients', id, 'contract'],
            // The problems name schema coordinates; their locations would point into the
            // composed supergraph, which is in memory, not in a file the operator has.
            `the contract is not a valid schema:\n${result.problems
              .map((p) => formatProblem({ ...p, locations: [] }))
              .join('\n')}`,
          ),
        );
      }
      byFilter.set(filterKey, built);
    }
    if (built !== 'failed') contracts.set(id, built);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return contracts;
}

/** Sorted and deduplicated, so two spellings of one filter share a contract. */
function normalise(filter: NonNullable<ClientConfig['contract']>): ContractFilter {
  const tags = (list: readonly string[] | undefined) => [...new Set(list ?? [])].sort();
  return {
    ...(filter.include ? { include: tags(filter.include) } : {}),
    exclude: tags(filter.exclude),
  };
}
