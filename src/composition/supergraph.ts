import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Kind, parse, type ConstValueNode, type DocumentNode } from 'graphql';

/** A supergraph ready to serve: its SDL, a stable id for it, and the subgraphs it routes to. */
export interface Supergraph {
  readonly sdl: string;
  /** sha256 of the SDL, hex: what /readyz reports and what tells two instances apart. */
  readonly hash: string;
  readonly subgraphs: readonly { readonly name: string; readonly url: string }[];
}

export function toSupergraph(sdl: string): Supergraph {
  return {
    sdl,
    hash: createHash('sha256').update(sdl).digest('hex'),
    subgraphs: listSubgraphs(parse(sdl, { noLocation: true })),
  };
}

/** Reads a supergraph SDL composed elsewhere (rover, another composer, `gateway compose`). */
export async function readSupergraphFile(file: string): Promise<Supergraph> {
  let sdl: string;
  try {
    sdl = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read supergraph (${(error as NodeJS.ErrnoException).code})`, {
      cause: error,
    });
  }
  try {
    return toSupergraph(sdl);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The subgraphs named by `enum join__Graph { X @join__graph(name: "x", url: "...") }`, the part
 * of the join spec every router reads. https://specs.apollo.dev/join/v0.3
 */
function listSubgraphs(document: DocumentNode): Supergraph['subgraphs'] {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== 'join__Graph') {
      continue;
    }
    return (definition.values ?? []).map((value) => {
      const directive = value.directives?.find((d) => d.name.value === 'join__graph');
      const arg = (name: string) =>
        stringValue(directive?.arguments?.find((a) => a.name.value === name)?.value);
      return { name: arg('name') ?? value.name.value, url: arg('url') ?? '' };
    });
  }
  throw new Error('not a supergraph: it has no join__Graph enum (compose it first)');
}

function stringValue(node: ConstValueNode | undefined): string | undefined {
  return node?.kind === Kind.STRING ? node.value : undefined;
}
